/**
 * hostsEntry: `/etc/hosts` maps NAME to exactly one address — the worked example of
 * docs/writing-a-step.md. A real step: test/unit/docs/writing-a-step.test.ts runs it on the mock
 * host, and test/integration/writing-a-step.test.ts on a real one, so the guide cannot rot.
 */
import {
  fileWrite,
  parseFileState,
  parseStepParams,
  pathResource,
  readFileCommand,
  z,
  type Change,
  type FileState,
  type Step,
} from "../../src/index.ts"; // a playbook outside this repo: from "provision"

// 1. Parameters: a strict zod schema. An unknown key ("adress") is an error naming the closest one.
const hostsEntryParams = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, "must be a host name"),
  address: z.union([z.ipv4(), z.ipv6()]),
  path: z.string().startsWith("/").default("/etc/hosts"),
});

export type HostsEntryParams = z.input<typeof hostsEntryParams>;

// 2. The plan: what apply will do, decided once by diff. apply never decides again.
interface HostsEntryChange extends Change {
  plan: { text: string };
}

export function hostsEntry(input: HostsEntryParams): Step<FileState> {
  const p = parseStepParams("hostsEntry", hostsEntryParams, input);
  const wanted = `${p.address}\t${p.name}`;
  return {
    kind: "hosts-entry",
    name: `hosts entry ${p.name} → ${p.address}`,
    // 3. What the step touches: --check makes a later step that reads this file `unknown` while
    //    this one would change it, and keeps every other step exact.
    provides: [pathResource(p.path)],
    requires: [pathResource(p.path)],
    // 4. read: a command (batched with every other step's read: one round trip) and a pure parser.
    read: () => ({ command: readFileCommand(p.path), parse: (result) => parseFileState(result, p.path) }),
    // 5. diff: pure. null when converged; else a summary naming only what differs, a text diff, the plan.
    diff(current): HostsEntryChange | null {
      if (!current.exists) throw new Error(`${p.path} does not exist`);
      const before = current.content?.toString("latin1") ?? "";
      const lines = before.split("\n");
      const mentions = lines.filter((line) => names(line).includes(p.name));
      if (mentions.length === 1 && mentions[0] === wanted) return null;
      // Lines naming only this host go; a line naming it beside others keeps the others.
      const kept = lines.flatMap((line) => {
        if (!names(line).includes(p.name)) return [line];
        const [address, ...rest] = line.split(/\s+/);
        const others = rest.filter((n) => n !== p.name && !n.startsWith("#"));
        return others.length ? [`${address}\t${others.join(" ")}`] : [];
      });
      const body = kept.join("\n").replace(/\n*$/, "\n");
      const after = `${body === "\n" ? "" : body}${wanted}\n`;
      const summary = mentions.length === 0 ? `add ${wanted}` : `${mentions.map((m) => m.split(/\s+/)[0]).join(", ")} → ${p.address}`;
      return { summary, diff: { label: p.path, before, after }, plan: { text: after } };
    },
    // 6. apply: carries out the plan — here one verified, atomic write (owner and mode kept).
    async apply({ session }, _current, change: HostsEntryChange) {
      const write = fileWrite(p.path, Buffer.from(change.plan.text, "latin1"));
      await session.runOrThrow(write.command, { stdin: write.stdin });
    },
  };
}

/** The host names of a hosts(5) line (none for a comment or a blank line). */
function names(line: string): string[] {
  const text = line.replace(/#.*/, "").trim();
  return text ? text.split(/\s+/).slice(1) : [];
}
