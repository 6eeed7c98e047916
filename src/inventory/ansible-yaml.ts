/**
 * Ansible's YAML inventory, read as it is:
 *
 * ```yaml
 * all:
 *   vars: { ntp: ntp.example.net }
 *   hosts:
 *     mail.example.com:
 *   children:
 *     web:
 *       hosts:
 *         web[01:03].example.com:
 *         web04.example.com: { ansible_host: 10.0.0.4, ansible_port: 2222 }
 *       vars: { http_port: 80 }
 * ```
 *
 * Top-level keys are groups (usually just `all`); a group has `hosts` (a mapping of host
 * pattern → vars or nothing), `children` (a mapping of group → group) and `vars`. A host pattern may
 * carry a port (`host:2222`) and ranges. Errors name the file, the line and the field path.
 */
import { expandHostRange } from "./host-range.ts";
import type { InventoryBuilder } from "./inventory-builder.ts";
import { splitHostPort } from "./host-port.ts";
import { describeType, isMapping, type FieldPath, type YamlSource } from "./yaml-source.ts";

const GROUP_KEYS = new Set(["hosts", "children", "vars"]);

export function addAnsibleYaml(builder: InventoryBuilder, source: YamlSource): void {
  const top = source.value;
  if (top === null || top === undefined) return;
  if (!isMapping(top)) throw source.error([], `expected a mapping of group names (like \`all:\`), got ${describeType(top)}`);
  for (const [name, body] of Object.entries(top)) addGroup(builder, source, name, body, [name]);
}

function addGroup(builder: InventoryBuilder, source: YamlSource, name: string, body: unknown, path: FieldPath): void {
  builder.group(name);
  if (body === null || body === undefined) return;
  if (!isMapping(body)) throw source.error(path, `expected a group (a mapping with hosts, children or vars), got ${describeType(body)}`);
  for (const key of Object.keys(body)) {
    if (!GROUP_KEYS.has(key)) {
      throw source.error(
        [...path, key],
        `unexpected key in group "${name}" (a group has hosts, children and vars; is this host missing a \`hosts:\` above it?)`,
      );
    }
  }
  const { vars, hosts, children } = body;
  if (vars !== null && vars !== undefined) {
    if (!isMapping(vars)) throw source.error([...path, "vars"], `expected a mapping of vars, got ${describeType(vars)}`);
    builder.groupVars(name, vars, source.originsOf([...path, "vars"], vars));
  }
  if (hosts !== null && hosts !== undefined) {
    if (!isMapping(hosts)) {
      throw source.error([...path, "hosts"], `expected a mapping of host names (\`web01:\`, not \`- web01\`), got ${describeType(hosts)}`);
    }
    for (const [pattern, hostVars] of Object.entries(hosts)) {
      const where = [...path, "hosts", pattern];
      if (hostVars !== null && hostVars !== undefined && !isMapping(hostVars)) {
        throw source.error(where, `expected the host's vars (a mapping) or nothing, got ${describeType(hostVars)}`);
      }
      let names: string[];
      let port: number | undefined;
      try {
        const parsed = splitHostPort(pattern);
        port = parsed.port;
        names = expandHostRange(parsed.host);
      } catch (error) {
        throw source.error(where, (error as Error).message);
      }
      const origins = source.originsOf(where, { ansible_port: port, ...hostVars });
      for (const host of names)
        builder.host(host, name, { ...(port !== undefined ? { ansible_port: port } : {}), ...(hostVars ?? {}) }, origins);
    }
  }
  if (children !== null && children !== undefined) {
    if (!isMapping(children)) throw source.error([...path, "children"], `expected a mapping of group names, got ${describeType(children)}`);
    for (const [child, childBody] of Object.entries(children)) {
      try {
        builder.child(name, child);
      } catch (error) {
        throw source.error([...path, "children", child], (error as Error).message.replace(/^[^:]*: /, ""));
      }
      addGroup(builder, source, child, childBody, [...path, "children", child]);
    }
  }
}
