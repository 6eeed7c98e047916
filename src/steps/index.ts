/** The step library, as playbooks import it. */
export { file } from "./file.ts";
export { directory } from "./directory.ts";
