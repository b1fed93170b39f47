// A model pushed with model.pushToHub comes back from the Hub (a mock on 127.0.0.1) as an equal model, and
// a model loaded by Hub id names it as base model in its card; SentenceTransformers and CrossEncoders alike.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";

import { CrossEncoder, SentenceTransformer } from "../../lib/index.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { startMockHub, type MockHub } from "../helpers/mockHub.js";
import { SENTENCES, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

let hub: MockHub;
let root: string;
beforeAll(async () => {
  root = await tempDir();
  hub = await startMockHub([]);
});
afterAll(async () => {
  await hub?.stop();
});

test("pushToHub, then load by id: the same embeddings, the card names datasets and the base model", async () => {
  await makeSentenceTransformerFolder(join(root, "local"), { pooling: { modes: ["mean", "cls"] }, normalize: true });
  const model = await SentenceTransformer.load(join(root, "local"));
  const expected = await model.encode(SENTENCES);
  const { commitOid } = await model.pushToHub("me/tiny-it", { token: "hf_writer", endpoint: hub.url, trainDatasets: ["stsb_multi_mt"] });
  expect(commitOid).toBe(hub.head("model", "me/tiny-it"));
  const pushedCard = hub.files("model", "me/tiny-it").get("README.md")!.toString();
  expect(parseYaml(pushedCard.split("---\n")[1]!)).toMatchObject({ datasets: ["stsb_multi_mt"], library_name: "sentence-transformers" });

  const cacheFolder = join(root, "cache");
  const back = await SentenceTransformer.load("me/tiny-it", { endpoint: hub.url, cacheFolder, token: "hf_writer" });
  expect(maxAbsDiffAll(await back.encode(SENTENCES), expected)).toBeLessThanOrEqual(1e-6);
  expect(back.baseModel).toBe("me/tiny-it");
  await back.save(join(root, "derived"));
  const card = await readFile(join(root, "derived", "README.md"), "utf8");
  expect(parseYaml(card.split("---\n")[1]!)).toMatchObject({ base_model: "me/tiny-it" });
  model.dispose();
  back.dispose();
});

test("CrossEncoder.pushToHub, then load by id: the same scores; the card is a text-ranking card naming the base model", async () => {
  await makeCrossEncoderFolder(join(root, "ce"), { numLabels: 1 });
  const model = await CrossEncoder.load(join(root, "ce"));
  const pairs = SENTENCES.slice(1).map((s): [string, string] => [SENTENCES[0]!, s]);
  const expected = await model.predict(pairs);
  const { commitOid } = await model.pushToHub("me/tiny-reranker", { token: "hf_writer", endpoint: hub.url });
  expect(commitOid).toBe(hub.head("model", "me/tiny-reranker"));
  const files = hub.files("model", "me/tiny-reranker");
  expect([...files.keys()].sort()).toEqual([".gitattributes", "README.md", "config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]);
  expect(parseYaml(files.get("README.md")!.toString().split("---\n")[1]!)).toMatchObject({ library_name: "sentence-transformers", pipeline_tag: "text-ranking" });

  const back = await CrossEncoder.load("me/tiny-reranker", { endpoint: hub.url, cacheFolder: join(root, "ce-cache"), token: "hf_writer" });
  expect(await back.predict(pairs)).toEqual(expected);
  expect(back.hubId).toBe("me/tiny-reranker");
  await back.save(join(root, "ce-derived"));
  const card = await readFile(join(root, "ce-derived", "README.md"), "utf8");
  expect(parseYaml(card.split("---\n")[1]!)).toMatchObject({ base_model: "me/tiny-reranker", tags: ["sentence-transformers", "cross-encoder", "reranker", "sbert-node"] });
  expect(card).toContain("- **Architecture:** BertForSequenceClassification");
  model.dispose();
  back.dispose();
});
