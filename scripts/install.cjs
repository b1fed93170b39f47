#!/usr/bin/env node
// npm install step: use a prebuild or an existing build when one loads here, otherwise build from source.
"use strict";
const path = require("node:path");

const root = path.resolve(__dirname, "..");
try {
  require("node-gyp-build")(root);
} catch {
  require("./build-native.cjs");
}
