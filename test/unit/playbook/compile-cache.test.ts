/**
 * The playbook compile cache (src/playbook/compile-cache.ts): a user's file and its local imports
 * compiled once into plain JavaScript, the playbook API handed over as the built engine's module,
 * packages imported as the same instances, and the cache used only while every input's content is
 * unchanged. What the bundle cannot reproduce (import.meta, a compile error) is left to tsx.
 */
import { appendFile, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importCompiled, type BuiltEngineApi } from "../../../src/playbook/compile-cache.ts";

let dir: string;
let engine: BuiltEngineApi;
const previousCache = process.env.PROVISION_CACHE_DIR;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-compile-cache-"));
  process.env.PROVISION_CACHE_DIR = join(dir, "cache");
  // Packages resolve from the user's file, as in a project of theirs (realpath: the repo's copies).
  await symlink(resolve(import.meta.dirname, "../../../node_modules"), join(dir, "node_modules"));
  // Stand-ins for src/index.ts and its build: the bundle must import the built one.
  await writeFile(join(dir, "source-index.ts"), `export const from: string = "source";\n`);
  await writeFile(join(dir, "built-index.mjs"), `export const from = "built"; export const token = {};\n`);
  engine = { sourceIndex: pathToFileURL(join(dir, "source-index.ts")).href, builtIndex: pathToFileURL(join(dir, "built-index.mjs")).href };
  await writeFile(join(dir, "helper.ts"), `export const greeting = (name: string): string => "hello " + name;\n`);
  await writeFile(
    join(dir, "playbook.ts"),
    `import { from } from "./source-index.ts";
import { greeting } from "./helper.ts";
import { z } from "zod";
export { token } from "./source-index.ts";
export const api: string = from;
export const said: string = greeting("bob");
export { z };
`,
  );
});

afterAll(async () => {
  if (previousCache === undefined) delete process.env.PROVISION_CACHE_DIR;
  else process.env.PROVISION_CACHE_DIR = previousCache;
  await rm(dir, { recursive: true, force: true });
});

const outputs = async () => (await readdir(join(dir, "cache/compiled"))).filter((name) => name.endsWith(".mjs"));

describe("the playbook compile cache", () => {
  it("bundles the user's files, hands over the built API and keeps packages as the same instances", async () => {
    const module = await importCompiled(join(dir, "playbook.ts"), engine);
    expect(module).toBeDefined();
    expect(module?.api).toBe("built");
    expect(module?.token).toBe((await import(engine.builtIndex)).token);
    expect(module?.said).toBe("hello bob");
    expect(module?.z).toBe((await import("zod")).z);
    const [output] = await outputs();
    const code = await readFile(join(dir, "cache/compiled", String(output)), "utf8");
    expect(code).toContain(engine.builtIndex); // the API by its built URL, not bundled
    expect(code).toMatch(/from "file:\/\/[^"]*\/node_modules\/zod\//); // the package by its own file
    expect(code).toContain("hello "); // the local import, bundled
  });

  it("is used again while the inputs' content is the same (a touched file too), recompiled when it changes", async () => {
    const before = await outputs();
    const entry = async () => (await stat(join(dir, "cache/compiled", String(before[0]).replace(/-[0-9a-f]+\.mjs$/, ".json")))).ino;
    const entryBefore = await entry();
    const later = new Date(Date.now() + 5_000);
    await utimes(join(dir, "helper.ts"), later, later);
    await importCompiled(join(dir, "playbook.ts"), engine);
    expect(await outputs()).toEqual(before);
    expect(await entry()).toBe(entryBefore); // not compiled again (a new entry is a new file)
    await appendFile(join(dir, "helper.ts"), `export const extra = 1;\n`);
    await writeFile(join(dir, "helper.ts"), (await readFile(join(dir, "helper.ts"), "utf8")).replace('"hello "', '"hi "'));
    const module = await importCompiled(join(dir, "playbook.ts"), engine);
    expect(module?.said).toBe("hi bob");
    const after = await outputs();
    expect(after).toHaveLength(1); // the old output is gone
    expect(after).not.toEqual(before);
  });

  it("is not used for another engine build", async () => {
    await writeFile(join(dir, "built-index-2.mjs"), `export const from = "built again"; export const token = {};\n`);
    const other = { ...engine, builtIndex: pathToFileURL(join(dir, "built-index-2.mjs")).href };
    expect((await importCompiled(join(dir, "playbook.ts"), other))?.api).toBe("built again");
  });

  it("leaves to tsx a file that refers to its own location, or does not compile", async () => {
    await writeFile(join(dir, "located.ts"), `export const here = import.meta.url;\n`);
    expect(await importCompiled(join(dir, "located.ts"), engine)).toBeUndefined();
    await writeFile(join(dir, "broken.ts"), `export const x: number = ;\n`);
    expect(await importCompiled(join(dir, "broken.ts"), engine)).toBeUndefined();
    await writeFile(join(dir, "missing.ts"), `import { nothing } from "./not-there.ts";\nexport const x = nothing;\n`);
    expect(await importCompiled(join(dir, "missing.ts"), engine)).toBeUndefined();
  });
});
