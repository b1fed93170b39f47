// Preloaded by `npx ts-node FILE.ts` through tsconfig.json ("ts-node": {"require": [...]}).
// This package is ESM ("type": "module"), so Node loads a .ts entry point through its ESM loader, which knows no
// ".ts" without a hook. ts-node's own `esm: true` mode hands its hooks over from the main thread, which fails on
// Node >= 20 where loader hooks run on a thread of their own (ERR_UNKNOWN_FILE_EXTENSION); registering its ESM
// loader with module.register() puts the compiler on that thread. Types are checked by `npm run typecheck`, so
// ts-node only transpiles ("transpileOnly").
"use strict";
const { register } = require("node:module");
const { pathToFileURL } = require("node:url");

register("ts-node/esm", pathToFileURL(__filename));
