// A model pushed with model.pushToHub comes back from the Hub (a mock on 127.0.0.1) as an equal model, and
// a model loaded by Hub id names it as base model in its card.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";

import { SentenceTransformer } from "../../lib/index.js";
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
