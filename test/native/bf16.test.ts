// bf16 inference needs a CPU that multiplies bf16 natively; elsewhere quantize("bf16") is refused, naming the option
// and the missing feature, and changes nothing.
import { join } from "node:path";

import { beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, backendInfo } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { SENTENCES, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

const HAS_BF16 = /avx512_bf16: yes|amx_bf16: yes/.test(backendInfo().cpuFeatures);
const REFUSAL = /quantize "bf16" needs a CPU with the avx512_bf16 \(or amx_bf16\) feature, which this CPU lacks/;

let dir: string;
beforeAll(async () => {
  dir = join(await tempDir(), "bert");
  await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, bert: { seed: 21 } });
});

describe("the CPU check", () => {
  test("bf16 without avx512_bf16 and amx_bf16 is an ERR_DEVICE error naming the option and the feature; either feature suffices", () => {
    const check = native()._testing.checkPrecision;
    expect(() => check("bf16", { avx512Bf16: false, amxBf16: false })).toThrow(REFUSAL);
    try {
      check("bf16", { avx512Bf16: false, amxBf16: false });
    } catch (e) {
      expect((e as { sbertCode?: string }).sbertCode).toBe("ERR_DEVICE");
    }
    expect(() => check("bf16", { avx512Bf16: true, amxBf16: false })).not.toThrow();
    expect(() => check("bf16", { avx512Bf16: false, amxBf16: true })).not.toThrow();
    for (const precision of ["float32", "int8"] as const) expect(() => check(precision, { avx512Bf16: false, amxBf16: false })).not.toThrow();
  });

  test.skipIf(HAS_BF16)("on this CPU (no bf16): load and quantize refuse bf16, and the model keeps its precision", async () => {
    await expect(SentenceTransformer.load(dir, { quantize: "bf16" })).rejects.toMatchObject({ name: "SbertError", code: "ERR_DEVICE", message: expect.stringMatching(REFUSAL) });
    const model = await SentenceTransformer.load(dir);
    const float = await model.encode(SENTENCES);
    expect(() => model.quantize("bf16")).toThrow(expect.objectContaining({ code: "ERR_DEVICE", op: "SentenceTransformer.quantize" }));
    expect(maxAbsDiffAll(await model.encode(SENTENCES), float)).toBe(0);
    model.dispose();
  });

  test.skipIf(!HAS_BF16)("on this CPU (bf16): bf16 runs, close to float32 and not equal to it; float32 comes back bit for bit", async () => {
    const model = await SentenceTransformer.load(dir);
    const float = await model.encode(SENTENCES);
    model.quantize("bf16");
    const bf16 = await model.encode(SENTENCES);
    expect(maxAbsDiffAll(bf16, float)).toBeGreaterThan(1e-6);
    expect(maxAbsDiffAll(bf16, float)).toBeLessThan(0.05);
    model.quantize("float32");
    expect(maxAbsDiffAll(await model.encode(SENTENCES), float)).toBe(0);
    const loaded = await SentenceTransformer.load(dir, { quantize: "bf16" });
    expect(maxAbsDiffAll(await loaded.encode(SENTENCES), bf16)).toBe(0);
    expect(() => model.quantize("fp16" as "bf16")).toThrow(RangeError);
    model.dispose();
    loaded.dispose();
  });
});
