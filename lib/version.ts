import { createRequire } from "node:module";

/** sbert-node's version, from its package.json (one folder above lib/ and dist/). */
export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;
