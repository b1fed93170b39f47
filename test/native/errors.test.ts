import { access, copyFile, mkdir, open, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { SbertError, SentenceTransformer, models } from "../../lib/index.js";
import { makePytorchBinFolder } from "../fixtures/pytorchBin.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";

let root: string;
let n = 0;
beforeAll(async () => {
  root = await tempDir();
});

async function folder(opts: Parameters<typeof makeTinyBert>[1] = {}): Promise<string> {
  const dir = join(root, `m${n++}`);
  await makeTinyBert(dir, opts);
  return dir;
}

/** Replaces bytes of the file at `offset`. */
async function patch(path: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(path, "r+");
  await fh.write(bytes, 0, bytes.length, offset);
  await fh.close();
}

/** Rewrites a safetensors header with `edit` applied (the data section is kept as it is). */
async function editHeader(path: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void) {
  const raw = await readFile(path);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString());
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  await writeFile(path, Buffer.concat([len, json, raw.subarray(8 + n)]));
}

async function loadError(path: string): Promise<SbertError> {
  try {
    await SentenceTransformer.load(path);
  } catch (e) {
    expect(e).toBeInstanceOf(SbertError);
    return e as SbertError;
  }
  throw new Error("load succeeded");
}

describe("bad model folders give SbertErrors that name the problem", () => {
  test("no folder, no config.json, no weights, no tokenizer", async () => {
    expect(await loadError(join(root, "nope"))).toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining("nope") });
    const noConfig = await folder();
    await rm(join(noConfig, "config.json"));
    expect(await loadError(noConfig)).toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining("config.json") });
    const noWeights = await folder();
    await rm(join(noWeights, "model.safetensors"));
    expect(await loadError(noWeights)).toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining("model.safetensors") });
    const noTokenizer = await folder();
    await rm(join(noTokenizer, "vocab.txt"));
    expect(await loadError(noTokenizer)).toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining("vocab.txt") });
  });

  test("corrupt config.json and modules.json", async () => {
    const badJson = await folder();
    await writeFile(join(badJson, "config.json"), "{ not json");
    expect(await loadError(badJson)).toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("config.json") });
    const badField = await folder();
    const config = JSON.parse(await readFile(join(badField, "config.json"), "utf8"));
    await writeFile(join(badField, "config.json"), JSON.stringify({ ...config, hidden_size: "big" }));
    expect(await loadError(badField)).toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/hidden_size/) });
    const unknown = await folder();
    await writeFile(join(unknown, "config.json"), JSON.stringify({ ...config, model_type: "gpt2" }));
    expect(await loadError(unknown)).toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/config\.json: model_type 'gpt2' is not supported \(supported: bert, roberta/) });
    const heads = await folder();
    await writeFile(join(heads, "config.json"), JSON.stringify({ ...config, num_attention_heads: 5 }));
    expect(await loadError(heads)).toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/num_attention_heads/) });
    const st = join(root, "st-bad-type");
    await makeSentenceTransformerFolder(st, {});
    await writeFile(join(st, "modules.json"), JSON.stringify([{ idx: 0, name: "0", path: "", type: "my_package.Custom" }]));
    expect(await loadError(st)).toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining("my_package.Custom") });
    await writeFile(join(st, "modules.json"), JSON.stringify([{ idx: 0, name: "0", path: "../../etc", type: "sentence_transformers.models.Transformer" }]));
    expect(await loadError(st)).toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining("outside") });
  });

  test("truncated and corrupt safetensors", async () => {
    const cut = await folder();
    const weights = join(cut, "model.safetensors");
    await truncate(weights, 1000);
    expect(await loadError(cut)).toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("model.safetensors") });

    const headerPastEnd = await folder();
    await patch(join(headerPastEnd, "model.safetensors"), 0, Buffer.from([0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0]));
    expect(await loadError(headerPastEnd)).toMatchObject({ code: "ERR_FORMAT" });

    const offsets = await folder();
    await editHeader(join(offsets, "model.safetensors"), (h) => {
      h["embeddings.word_embeddings.weight"]!.data_offsets = [0, 1e9];
    });
    expect(await loadError(offsets)).toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("embeddings.word_embeddings.weight") });

    const dtype = await folder();
    await editHeader(join(dtype, "model.safetensors"), (h) => {
      h["embeddings.LayerNorm.weight"]!.dtype = "F8_E9M9";
    });
    expect(await loadError(dtype)).toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("F8_E9M9") });
  });

  test("wrong shapes, missing keys and unknown keys name the key (and both shapes)", async () => {
    const shape = await folder();
    await editHeader(join(shape, "model.safetensors"), (h) => {
      const t = h["encoder.layer.0.intermediate.dense.bias"]!;
      // Same bytes, other shape: 64 floats as [8, 8].
      t.shape = [8, 8];
    });
    expect(await loadError(shape)).toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringMatching(/encoder\.layer\.0\.intermediate\.dense\.bias.*\[8, 8\].*\[64\]/),
    });
    const missing = await folder();
    await editHeader(join(missing, "model.safetensors"), (h) => {
      delete h["encoder.layer.1.output.LayerNorm.bias"];
    });
    expect(await loadError(missing)).toMatchObject({ code: "ERR_WEIGHTS", message: expect.stringContaining("encoder.layer.1.output.LayerNorm.bias") });
    const unknown = await folder();
    await editHeader(join(unknown, "model.safetensors"), (h) => {
      // Renamed: the model has no layer 7, so the key is unexpected.
      h["encoder.layer.7.extra.weight"] = h["embeddings.LayerNorm.weight"]!;
      delete h["embeddings.LayerNorm.weight"];
    });
    expect(await loadError(unknown)).toMatchObject({ code: "ERR_WEIGHTS", message: expect.stringContaining("encoder.layer.7.extra.weight") });
  });

  test("integer tensors where the model has float weights, whatever their shape, name the file and the key", async () => {
    const i32 = await folder();
    await editHeader(join(i32, "model.safetensors"), (h) => {
      h["embeddings.LayerNorm.weight"]!.dtype = "I32";
    });
    expect(await loadError(i32)).toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringMatching(/key 'embeddings\.LayerNorm\.weight' in .*model\.safetensors holds Int values but the model expects floating-point weights/),
    });
    const i64 = await folder();
    await editHeader(join(i64, "model.safetensors"), (h) => {
      // The same 256 bytes as 32 int64 values.
      h["encoder.layer.0.intermediate.dense.bias"]!.dtype = "I64";
      h["encoder.layer.0.intermediate.dense.bias"]!.shape = [32];
    });
    expect(await loadError(i64)).toMatchObject({ code: "ERR_WEIGHTS", message: expect.stringMatching(/'encoder\.layer\.0\.intermediate\.dense\.bias' in .*model\.safetensors holds Long values/) });
  });

  test("a tokenizer with more tokens than the embedding matrix has rows, and an empty vocab.txt, are refused at load", async () => {
    const bigger = await folder();
    await writeFile(join(bigger, "vocab.txt"), (await readFile(join(bigger, "vocab.txt"), "utf8")) + "extra1\nextra2\n");
    const vocabSize = (JSON.parse(await readFile(join(bigger, "config.json"), "utf8")) as { vocab_size: number }).vocab_size;
    expect(await loadError(bigger)).toMatchObject({
      code: "ERR_CONFIG",
      message: `Transformer.load: ${join(bigger, "vocab.txt")} has ${vocabSize + 2} tokens but the model's word embeddings have ${vocabSize} rows (vocab_size in ${join(bigger, "config.json")})`,
    });
    const empty = await folder();
    await writeFile(join(empty, "vocab.txt"), "");
    expect(await loadError(empty)).toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining(`${join(empty, "vocab.txt")} is empty`) });
  });

  test("encode with options that are not an object is an SbertError", async () => {
    const model = await SentenceTransformer.load(await folder());
    for (const [options, what] of [[null, "null"], [[], "an array"], ["fast", "string"]] as const) {
      await expect(model.encode("ciao", options as never)).rejects.toMatchObject({ name: "SbertError", code: "ERR_INPUT", message: `SentenceTransformer.encode: options must be an object (or left out), got ${what}` });
    }
    model.dispose();
  });

  test("a corrupt pytorch_model.bin", async () => {
    const dir = join(root, "bin");
    await makePytorchBinFolder(dir, {});
    await writeFile(join(dir, "pytorch_model.bin"), Buffer.from("PK\u0003\u0004 this is not a checkpoint"));
    expect(await loadError(dir)).toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("pytorch_model.bin") });
  });

  test("a checkpoint whose pickle asks to run code is refused, in both torch.save formats, and the code never runs", async () => {
    const dir = join(root, "hostile");
    await mkdir(dir, { recursive: true });
    const marker = join(dir, "ran");
    await runPython(fileURLToPath(new URL("../fixtures/hostile_pickles.py", import.meta.url)), { dir, marker });
    for (const file of ["zip.bin", "legacy.bin"]) {
      const model = join(dir, file.replace(".bin", ""));
      await makeTinyBert(model, {});
      await rm(join(model, "model.safetensors"));
      await copyFile(join(dir, file), join(model, "pytorch_model.bin"));
      expect(await loadError(model)).toMatchObject({
        code: "ERR_FORMAT",
        message: expect.stringMatching(/pytorch_model\.bin: .* needs (posix|os)\.system, which a state dict of tensors does not use: refused/),
      });
    }
    await expect(access(marker)).rejects.toThrow();
  });

  test("a CUDA device on a libtorch without CUDA", async () => {
    const dir = await folder();
    const { backendInfo } = await import("../../lib/index.js");
    if (backendInfo().cuda) return; // this build has CUDA: the error cannot happen
    await expect(SentenceTransformer.load(dir, { device: "cuda" })).rejects.toMatchObject({ code: "ERR_DEVICE", message: expect.stringMatching(/CUDA/) });
    await expect(SentenceTransformer.load(dir, { device: "tpu" })).rejects.toMatchObject({ code: "ERR_DEVICE" });
  });

  test("the process survives all of the above and still loads good models", async () => {
    const m = await SentenceTransformer.load(await folder());
    expect(await m.encode("ancora qui")).toHaveLength(32);
    expect(() => new models.Pooling(0)).toThrow(RangeError);
    expect(() => new models.Pooling(8, { poolingMode: "median" as "mean" })).toThrow(/median/);
    m.dispose();
  });
});
