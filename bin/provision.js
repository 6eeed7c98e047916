#!/usr/bin/env node
// Entry point. tsx's loader lets both provision's own sources and the user's `.ts` playbooks run
// on Node 20 with no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
