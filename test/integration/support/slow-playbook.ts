/** A playbook file whose one step takes a while to apply (for lock and mid-run failure tests). */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "./cli.ts";

export async function writeSlowPlaybook(dir: string): Promise<string> {
  const path = join(dir, "slow.ts");
  await writeFile(
    path,
    `import { definePlaybook, sh, z } from ${JSON.stringify(join(REPO, "src/index.ts"))};
export default definePlaybook({
  name: "slow",
  vars: z.object({ marker: z.string().startsWith("/"), seconds: z.coerce.number().int().min(0).max(30).default(3) }),
  steps: ({ vars }) => [
    {
      kind: "slow",
      name: "slow marker " + vars.marker,
      read: () => ({ command: sh\`cat -- \${vars.marker} 2>/dev/null || :\`, parse: (r) => r.stdout.toString("utf8") }),
      diff: (current: string) => (current === "done\\n" ? null : { summary: "write " + vars.marker }),
      apply: async ({ session }) => {
        await session.runOrThrow(sh\`echo started >> \${vars.marker + ".log"}; sleep \${String(vars.seconds)}; echo done > \${vars.marker}\`);
      },
    },
  ],
});
`,
  );
  return path;
}
