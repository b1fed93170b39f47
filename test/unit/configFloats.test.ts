// config.json's floats survive a load and save: Python writes 2.0 where JSON.parse keeps 2, and transformers 5's
// strict configs refuse an int for a float field.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { floatKeys, writeJsonWithFloats } from "../../lib/io/files.js";
import { tempDir } from "../helpers/tmp.js";

describe("floatKeys and writeJsonWithFloats", () => {
  const text = `{"a": 2.0, "b": 2, "c": 1e-05, "d": {"e": 3.0}, "f": "4.0", "g\\"h": -5.0, "i": [6.0], "j": 0.5,
    "k": 7E2, "l": true}`;

  it("finds the top-level keys whose numbers are written as floats, and no others", () => {
    expect(floatKeys(text)).toEqual(["a", "c", 'g"h', "j", "k"]);
  });

  it("writes those keys' whole numbers with a decimal point, leaving the rest as JSON.stringify writes them", async () => {
    const file = join(await tempDir(), "config.json");
    const value = JSON.parse(text) as Record<string, unknown>;
    await writeJsonWithFloats(file, value, floatKeys(text));
    const written = await readFile(file, "utf8");
    expect(JSON.parse(written)).toEqual(value);
    expect(written).toContain('"a": 2.0,');
    expect(written).toContain('"b": 2,');
    expect(written).toContain('"g\\"h": -5.0,');
    expect(written).toContain('"k": 700.0,');
    expect(written).toContain('"c": 0.00001,');
    expect(written).toContain('"e": 3\n');
    expect(floatKeys(written)).toEqual(["a", "c", 'g"h', "j", "k"]);
  });
});
