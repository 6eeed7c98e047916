/**
 * The smallest useful playbook: a directory and a file with its mode, a var with a default. Safe to run
 * against this machine (`--host localhost`): by default it writes under /tmp.
 *
 *   npx provision run playbooks/hello.ts --host localhost --check
 */
import { definePlaybook, directory, file, z } from "../src/index.ts";

export default definePlaybook({
  name: "hello",
  vars: z.object({
    dir: z.string().startsWith("/").default("/tmp/provision-hello"),
    greeting: z.string().min(1).default("hello from provision"),
    mode: z
      .string()
      .regex(/^0[0-7]{3}$/)
      .default("0640"),
  }),
  steps: ({ vars, facts }) => [
    directory({ path: vars.dir, mode: "0755" }),
    file({ path: `${vars.dir}/greeting.txt`, content: `${vars.greeting}\nhost: ${facts.hostname}\n`, mode: vars.mode }),
  ],
});
