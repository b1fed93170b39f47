#!/usr/bin/env node
// npm install step: keep an existing build that loads here (npm rebuild of an installed copy), otherwise compile
// the addon from source against this machine's libtorch.
"use strict";
const path = require("node:path");

const root = path.resolve(__dirname, "..");
try {
  require("node-gyp-build")(root);
} catch {
  require("./build-native.cjs");
}
