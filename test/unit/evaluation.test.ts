import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  BinaryClassificationEvaluator,
  EmbeddingSimilarityEvaluator,
  InformationRetrievalEvaluator,
  MSEEvaluator,
  ParaphraseMiningEvaluator,
  RerankingEvaluator,
  SequentialEvaluator,
  SimilarityFunction,
  TranslationEvaluator,
  TripletEvaluator,
  type EvaluatedModel,
  findBestAccAndThreshold,
  findBestF1AndThreshold,
} from "../../lib/evaluation/index.js";
import { formatNumpyFloat32, formatPythonFloat, pythonJsonDumps } from "../../lib/evaluation/output.js";
import { cosSim, dotScore, normalizeEmbeddings, pairwiseCosSim, quantizeEmbeddings } from "../../lib/util/index.js";
import { ndcgScore, pearson, spearman } from "../../lib/evaluation/stats.js";

/** Bag of characters: counts of a..z, and of everything else in the last slot. */
function bag(s: string): Float32Array {
  const v = new Float32Array(27);
  for (const ch of s) {
    const o = ch.charCodeAt(0) - 97;
    v[o >= 0 && o < 26 ? o : 26]! += 1;
  }
  return v;
}

interface FakeModel extends EvaluatedModel {
  calls: string[][];
  similarityFnName?: string;
}

function bagModel(similarityFnName?: string): FakeModel {
  const calls: string[][] = [];
  return {
    calls,
    similarityFnName,
    async encode(sentences: string[]) {
      calls.push([...sentences]);
      return sentences.map(bag);
    },
  };
}

/** Unit vectors at the given angles (degrees): cosine similarities are the cosines of the angle differences. */
function angleModel(angles: Record<string, number>): FakeModel {
  const calls: string[][] = [];
  return {
    calls,
    async encode(sentences: string[]) {
      calls.push([...sentences]);
      return sentences.map((s) => {
        const a = angles[s];
        if (a === undefined) throw new Error(`no angle for ${s}`);
        return Float32Array.of(Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180));
      });
    },
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sbert-eval-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// STS-like pairs; the expected correlations were computed with scipy.stats.pearsonr / spearmanr on the same
// bag-of-characters vectors (float64 numpy similarities, distances negated as sbert does).
const s1 = ["the cat sat on the mat", "a dog ran home", "hello world", "good morning", "quick brown fox", "lazy dog sleeps", "the cat sat on the mat"];
const s2 = ["the cat sits on a mat", "dogs run", "hello there world", "bad evening", "slow red fox", "sleepy dog", "a dog ran home"];
const gold = [4.8, 3.1, 2.5, 0.4, 1.9, 3.3, 0.7];
const SCIPY = {
  pearson_cosine: 0.7801864811843906,
  spearman_cosine: 0.6785714285714287,
  pearson_euclidean: 0.7975756421428855,
  spearman_euclidean: 0.8468812149338255,
  pearson_manhattan: 0.7920785793114364,
  spearman_manhattan: 0.8910563851303024,
  pearson_dot: 0.5804535129108729,
  spearman_dot: 0.396412483586046,
};

describe("EmbeddingSimilarityEvaluator", () => {
  it("reports Pearson/Spearman per similarity equal to scipy's, plus the max, and encodes each distinct sentence once", async () => {
    const model = bagModel();
    const evaluator = new EmbeddingSimilarityEvaluator(s1, s2, gold, { similarityFnNames: ["cosine", "euclidean", "manhattan", "dot"] });
    const metrics = await evaluator.evaluate(model);
    expect(Object.keys(metrics)).toEqual([
      "pearson_cosine",
      "spearman_cosine",
      "pearson_euclidean",
      "spearman_euclidean",
      "pearson_manhattan",
      "spearman_manhattan",
      "pearson_dot",
      "spearman_dot",
      "pearson_max",
      "spearman_max",
    ]);
    for (const [key, value] of Object.entries(SCIPY)) expect(metrics[key]).toBeCloseTo(value, 12);
    expect(metrics["pearson_max"]).toBeCloseTo(SCIPY.pearson_euclidean, 12);
    expect(metrics["spearman_max"]).toBeCloseTo(SCIPY.spearman_manhattan, 12);
    // sbert: several similarities and no main one -> spearman_max.
    expect(evaluator.primaryMetric).toBe("spearman_max");
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0]).toHaveLength(new Set([...s1, ...s2]).size);
  });

  it("defaults to the model's similarity (cosine when it has none) and primary spearman_{fn}", async () => {
    const ev = new EmbeddingSimilarityEvaluator(s1, s2, gold);
    expect(ev.primaryMetric).toBe("spearman_cosine");
    const metrics = await ev.evaluate(bagModel());
    expect(metrics).toEqual({ pearson_cosine: expect.closeTo(SCIPY.pearson_cosine, 12), spearman_cosine: expect.closeTo(SCIPY.spearman_cosine, 12) });
    expect(ev.primaryMetric).toBe("spearman_cosine");

    const dotEv = new EmbeddingSimilarityEvaluator(s1, s2, gold);
    const dotMetrics = await dotEv.evaluate(bagModel("dot"));
    expect(Object.keys(dotMetrics)).toEqual(["pearson_dot", "spearman_dot"]);
    expect(dotMetrics["spearman_dot"]).toBeCloseTo(SCIPY.spearman_dot, 12);
    expect(dotEv.primaryMetric).toBe("spearman_dot");
  });

  it("mainSimilarity selects the similarity and the primary metric", async () => {
    const ev = new EmbeddingSimilarityEvaluator(s1, s2, gold, { mainSimilarity: SimilarityFunction.MANHATTAN });
    const metrics = await ev.evaluate(bagModel());
    expect(Object.keys(metrics)).toEqual(["pearson_manhattan", "spearman_manhattan"]);
    expect(ev.primaryMetric).toBe("spearman_manhattan");
    const ev2 = new EmbeddingSimilarityEvaluator(s1, s2, gold, { mainSimilarity: "dot", similarityFnNames: ["cosine", "dot"] });
    const m2 = await ev2.evaluate(bagModel());
    expect(ev2.primaryMetric).toBe("spearman_dot");
    expect(m2[ev2.primaryMetric]).toBeCloseTo(SCIPY.spearman_dot, 12);
  });

  it("prefixes keys and the primary metric with the name, once, across evaluations", async () => {
    const ev = new EmbeddingSimilarityEvaluator(s1, s2, gold, { name: "sts-dev" });
    expect(ev.primaryMetric).toBe("sts-dev_spearman_cosine");
    for (let i = 0; i < 2; i++) {
      const metrics = await ev.evaluate(bagModel());
      expect(Object.keys(metrics)).toEqual(["sts-dev_pearson_cosine", "sts-dev_spearman_cosine"]);
      expect(ev.primaryMetric).toBe("sts-dev_spearman_cosine");
      expect(metrics[ev.primaryMetric]).toBeCloseTo(SCIPY.spearman_cosine, 12);
    }
  });

  it("writes sbert's CSV: header once (csv.writer, CRLF), one row per evaluation, Python number formatting", async () => {
    const out = join(dir, "sts");
    const ev = new EmbeddingSimilarityEvaluator(s1, s2, gold, { similarityFnNames: ["cosine", "euclidean", "manhattan", "dot"] });
    const m1 = await ev.evaluate(bagModel(), { outputPath: out, epoch: 1, steps: 100 });
    await ev.evaluate(bagModel(), { outputPath: out });
    const text = await readFile(join(out, "similarity_evaluation_results.csv"), "utf8");
    const lines = text.split("\r\n");
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe("");
    expect(lines[0]).toBe(
      "epoch,steps,cosine_pearson,cosine_spearman,euclidean_pearson,euclidean_spearman,manhattan_pearson,manhattan_spearman,dot_pearson,dot_spearman",
    );
    const order = ["cosine", "euclidean", "manhattan", "dot"].flatMap((fn) => [m1[`pearson_${fn}`]!, m1[`spearman_${fn}`]!]);
    expect(lines[1]).toBe(["1", "100", ...order.map(formatPythonFloat)].join(","));
    expect(lines[2]!.startsWith("-1,-1,")).toBe(true);
    expect(lines[1]!.split(",").slice(2).map(Number)).toEqual(order);

    await new EmbeddingSimilarityEvaluator(s1, s2, gold, { name: "dev", writeCsv: false }).evaluate(bagModel(), { outputPath: out });
    await new EmbeddingSimilarityEvaluator(s1, s2, gold, { name: "dev", precision: "int8" }).evaluate(bagModel(), { outputPath: out });
    expect((await readdir(out)).sort()).toEqual(["similarity_evaluation_dev_int8_results.csv", "similarity_evaluation_results.csv"]);
  });

  it("with a precision, normalizes and quantizes each side separately (ranges per side) before scoring", async () => {
    const ev = new EmbeddingSimilarityEvaluator(s1, s2, gold, { precision: "int8" });
    const metrics = await ev.evaluate(bagModel());
    const q1 = quantizeEmbeddings(normalizeEmbeddings(s1.map(bag)), "int8").map((q) => Float32Array.from(q));
    const q2 = quantizeEmbeddings(normalizeEmbeddings(s2.map(bag)), "int8").map((q) => Float32Array.from(q));
    const predicted = pairwiseCosSim(q1, q2);
    expect(metrics["pearson_cosine"]).toBe(pearson(gold, predicted));
    expect(metrics["spearman_cosine"]).toBe(spearman(gold, predicted));
    expect(metrics["pearson_cosine"]).not.toBeCloseTo(SCIPY.pearson_cosine, 6);

    // ubinary: unpacked sign bits; the cosine of 0/1 vectors of non-negative bags is the cosine of their supports.
    const bin = await new EmbeddingSimilarityEvaluator(s1, s2, gold, { precision: "ubinary", similarityFnNames: ["dot"] }).evaluate(bagModel());
    const support = (s: string) => bag(s).map((v) => (v > 0 ? 1 : 0));
    const dots = s1.map((s, i) => support(s).reduce((acc, v, k) => acc + v * support(s2[i]!)[k]!, 0));
    expect(bin["pearson_dot"]).toBeCloseTo(pearson(gold, dots), 12);
  });

  it("truncateDim keeps the first dimensions", async () => {
    const ev = new EmbeddingSimilarityEvaluator(s1, s2, gold, { truncateDim: 5 });
    const metrics = await ev.evaluate(bagModel());
    const cut = (s: string) => bag(s).subarray(0, 5);
    expect(metrics["pearson_cosine"]).toBeCloseTo(pearson(gold, pairwiseCosSim(s1.map(cut), s2.map(cut))), 12);
    expect(ev.getConfigDict()).toEqual({ truncate_dim: 5 });
  });

  it("validates its arguments up front", () => {
    expect(() => new EmbeddingSimilarityEvaluator(["a", "b", "c"], ["a", "b", "c"], [1, 2, 3, 4])).toThrow(
      new RangeError("EmbeddingSimilarityEvaluator: sentences1 has 3 entries but scores has 4"),
    );
    expect(() => new EmbeddingSimilarityEvaluator(["a", "b"], ["a"], [1, 2])).toThrow(/sentences1 has 2 entries but sentences2 has 1/);
    expect(() => new EmbeddingSimilarityEvaluator([], [], [])).toThrow(RangeError);
    expect(() => new EmbeddingSimilarityEvaluator(["a"], ["b"], [1])).toThrow(RangeError);
    expect(() => new EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [1, Number.NaN])).toThrow(TypeError);
    expect(() => new EmbeddingSimilarityEvaluator(["a", 3 as unknown as string], ["c", "d"], [1, 2])).toThrow(/sentences1\[1\]/);
    // @ts-expect-error not a similarity function
    expect(() => new EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [1, 2], { similarityFnNames: ["cos"] })).toThrow(RangeError);
    expect(() => new EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [1, 2], { mainSimilarity: "dot", similarityFnNames: ["cosine"] })).toThrow(
      /mainSimilarity "dot" is not in similarityFnNames/,
    );
    // @ts-expect-error not a precision
    expect(() => new EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [1, 2], { precision: "int4" })).toThrow(RangeError);
    expect(() => new EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [1, 2], { batchSize: 0 })).toThrow(/batchSize/);
  });

  it("rejects a model that returns the wrong number of embeddings", async () => {
    const bad: EvaluatedModel = { encode: async (s) => s.slice(1).map(bag) };
    await expect(new EmbeddingSimilarityEvaluator(s1, s2, gold).evaluate(bad)).rejects.toThrow(/returned 11 embeddings for 12 sentences/);
  });
});

// Pair i is sentence "p{i}" against "ref", at angle acos(cos[i]): the cosine similarities are cos[i].
const bcCos = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
const bcLabels = [1, 1, 0, 1, 0, 0];
const bcAngles: Record<string, number> = { ref: 0 };
bcCos.forEach((c, i) => (bcAngles[`p${i}`] = (Math.acos(c) * 180) / Math.PI));
const bcS1 = bcCos.map((_, i) => `p${i}`);
const bcS2 = bcCos.map(() => "ref");
const dist = (c: number) => Math.sqrt(2 - 2 * c); // Euclidean distance of unit vectors with cosine c

describe("BinaryClassificationEvaluator", () => {
  it("finds sbert's accuracy and F1 thresholds, AP and MCC (hand-computed)", async () => {
    const model = angleModel(bcAngles);
    const ev = new BinaryClassificationEvaluator(bcS1, bcS2, bcLabels);
    expect(ev.primaryMetric).toBe("cosine_ap");
    const m = await ev.evaluate(model);
    expect(Object.keys(m)).toEqual([
      "cosine_accuracy",
      "cosine_accuracy_threshold",
      "cosine_f1",
      "cosine_f1_threshold",
      "cosine_precision",
      "cosine_recall",
      "cosine_ap",
      "cosine_mcc",
    ]);
    // Sorted by cosine: 1 1 0 1 0 0. Best accuracy 5/6 after the 2nd pair, F1 6/7 after the 4th (P 3/4, R 1).
    expect(m["cosine_accuracy"]).toBe(5 / 6);
    expect(m["cosine_accuracy_threshold"]).toBeCloseTo(0.75, 6);
    expect(m["cosine_f1"]).toBe(6 / 7);
    expect(m["cosine_f1_threshold"]).toBeCloseTo(0.55, 6);
    expect(m["cosine_precision"]).toBe(0.75);
    expect(m["cosine_recall"]).toBe(1);
    expect(m["cosine_ap"]).toBeCloseTo((1 + 1 + 3 / 4) / 3, 14);
    // At the F1 threshold: tp 3, fp 1, tn 2, fn 0.
    expect(m["cosine_mcc"]).toBeCloseTo(6 / Math.sqrt(4 * 3 * 3 * 2), 14);
    expect(ev.primaryMetric).toBe("cosine_ap");
    expect(model.calls).toEqual([[...bcS1, "ref"]]);
  });

  it("scores Euclidean/Manhattan as positive distances (lower = similar) and adds max_* with primary max_ap", async () => {
    const ev = new BinaryClassificationEvaluator(bcS1, bcS2, bcLabels, { similarityFnNames: ["cosine", "euclidean"], name: "quora" });
    expect(ev.primaryMetric).toBe("quora_max_ap");
    const m = await ev.evaluate(angleModel(bcAngles));
    expect(m["quora_euclidean_accuracy"]).toBe(5 / 6);
    expect(m["quora_euclidean_accuracy_threshold"]).toBeCloseTo((dist(0.8) + dist(0.7)) / 2, 6);
    expect(m["quora_euclidean_f1_threshold"]).toBeCloseTo((dist(0.6) + dist(0.5)) / 2, 6);
    expect(m["quora_euclidean_ap"]).toBeCloseTo(m["quora_cosine_ap"]!, 12);
    expect(m["quora_max_accuracy_threshold"]).toBe(Math.max(m["quora_cosine_accuracy_threshold"]!, m["quora_euclidean_accuracy_threshold"]!));
    expect(Object.keys(m).filter((k) => k.startsWith("quora_max_"))).toEqual([
      "quora_max_accuracy",
      "quora_max_accuracy_threshold",
      "quora_max_f1",
      "quora_max_f1_threshold",
      "quora_max_precision",
      "quora_max_recall",
      "quora_max_ap",
      "quora_max_mcc",
    ]);
    expect(ev.primaryMetric).toBe("quora_max_ap");
  });

  it("keeps sbert's initial values when no split helps (one pair)", () => {
    expect(findBestAccAndThreshold([0.3], [1], true)).toEqual({ accuracy: 0, threshold: -1, improved: false });
    expect(findBestF1AndThreshold([0.3], [1], true)).toEqual({ f1: 0, precision: 0, recall: 0, threshold: 0, improved: false });
    // Ties keep their input order, as Python's stable sort.
    expect(findBestAccAndThreshold([0.5, 0.5, 0.1], [0, 1, 0], true).accuracy).toBe(2 / 3);
  });

  it("writes the CSV with sbert's column order (v5.7: every column filled), ints where sbert keeps ints", async () => {
    const out = join(dir, "bc");
    const ev = new BinaryClassificationEvaluator(bcS1, bcS2, bcLabels, { name: "dev" });
    const m = await ev.evaluate(angleModel(bcAngles), { outputPath: out, epoch: 0, steps: 5 });
    const text = await readFile(join(out, "binary_classification_evaluation_dev_results.csv"), "utf8");
    const [header, row, end] = text.split("\r\n");
    expect(header).toBe(
      "epoch,steps,cosine_accuracy,cosine_accuracy_threshold,cosine_f1,cosine_precision,cosine_recall,cosine_f1_threshold,cosine_ap,cosine_mcc",
    );
    const cells = row!.split(",");
    expect(cells.slice(0, 2)).toEqual(["0", "5"]);
    expect(cells[2]).toBe("0.8333333333333334");
    expect(cells[5]).toBe("0.75");
    expect(cells[6]).toBe("1.0");
    expect(cells.slice(2).map(Number)).toEqual(
      ["accuracy", "accuracy_threshold", "f1", "precision", "recall", "f1_threshold", "ap", "mcc"].map((k) => m[`dev_cosine_${k}`]),
    );
    expect(end).toBe("");

    const single = join(dir, "bc1");
    await new BinaryClassificationEvaluator(["p0"], ["ref"], [1]).evaluate(angleModel(bcAngles), { outputPath: single });
    const one = (await readFile(join(single, "binary_classification_evaluation_results.csv"), "utf8")).split("\r\n")[1];
    // No threshold improves on sbert's start values: they are Python ints (AP and MCC are floats).
    expect(one).toBe("-1,-1,0,-1,0,0,0,0,1.0,0.0");
  });

  it("validates labels and lengths", () => {
    expect(() => new BinaryClassificationEvaluator(["a"], ["b"], [2])).toThrow(/labels\[0\] must be 0 or 1/);
    expect(() => new BinaryClassificationEvaluator(["a", "b"], ["b"], [1, 0])).toThrow(RangeError);
    expect(() => new BinaryClassificationEvaluator(["a", "b"], ["b", "c"], [1])).toThrow(/sentences1 has 2 entries but labels has 1/);
    expect(() => new BinaryClassificationEvaluator([], [], [])).toThrow(RangeError);
    expect(new BinaryClassificationEvaluator(["a"], ["b"], [true]).labels).toEqual([1]);
  });
});

// Triplets on bag-of-characters vectors; outcomes per pair were checked with numpy (4 of 5 correct for every
// similarity, the 5th has the anchor equal to the negative).
const anchors = ["apple pie", "banana split", "cherry tart", "dark chocolate", "eggs benedict"];
const positives = ["apple tart", "banana bread", "cherry pie", "milk chocolate", "eggs florentine"];
const negatives = ["zucchini", "apple pie crust", "xylophone", "dark night", "eggs benedict"];

describe("TripletEvaluator", () => {
  it("accuracy per similarity is sbert's float32 mean, with max_accuracy and its primary metric", async () => {
    const ev = new TripletEvaluator(anchors, positives, negatives, { similarityFnNames: ["cosine", "dot", "euclidean", "manhattan"] });
    const m = await ev.evaluate(bagModel());
    // torch.tensor([...]).float().mean().item() for 4/5:
    expect(m).toEqual({
      cosine_accuracy: 0.800000011920929,
      dot_accuracy: 0.800000011920929,
      euclidean_accuracy: 0.800000011920929,
      manhattan_accuracy: 0.800000011920929,
      max_accuracy: 0.800000011920929,
    });
    expect(ev.primaryMetric).toBe("max_accuracy");
  });

  it("applies margins (one number or per similarity) and the deprecated mainDistanceFunction", async () => {
    const ev = new TripletEvaluator(anchors, positives, negatives, {
      similarityFnNames: ["cosine", "manhattan"],
      margin: { cosine: 0.3, manhattan: 3 },
      mainDistanceFunction: "manhattan",
      name: "t",
    });
    const m = await ev.evaluate(bagModel());
    // cosine gaps 0.588, 0.266, 0.528, 0.284, -0.17 -> 2/5; manhattan gaps 8, 3, 7, 4, -8 -> 3/5 (3 is not > 3).
    expect(m["t_cosine_accuracy"]).toBe(Math.fround(2 / 5));
    expect(m["t_manhattan_accuracy"]).toBe(Math.fround(3 / 5));
    expect(ev.primaryMetric).toBe("t_manhattan_accuracy");
    expect(ev.getConfigDict()).toEqual({ margin: { cosine: 0.3, dot: 0, manhattan: 3, euclidean: 0 } });

    const flat = await new TripletEvaluator(anchors, positives, negatives, { margin: 5 }).evaluate(bagModel("dot"));
    // dot gaps 10, 7, 9, 9, -2 -> 4/5 with margin 5.
    expect(flat).toEqual({ dot_accuracy: Math.fround(4 / 5) });
  });

  it("writes the CSV with sbert's accuracy_{fn} headers", async () => {
    const out = join(dir, "triplet");
    const ev = new TripletEvaluator(anchors, positives, negatives, { similarityFnNames: ["cosine", "euclidean"] });
    await ev.evaluate(bagModel(), { outputPath: out, epoch: 2, steps: -1 });
    await ev.evaluate(bagModel(), { outputPath: out, epoch: 3, steps: 7 });
    expect(await readFile(join(out, "triplet_evaluation_results.csv"), "utf8")).toBe(
      "epoch,steps,accuracy_cosine,accuracy_euclidean\r\n2,-1,0.800000011920929,0.800000011920929\r\n3,7,0.800000011920929,0.800000011920929\r\n",
    );
  });

  it("validates lengths, emptiness and margins", () => {
    expect(() => new TripletEvaluator(["a"], ["b", "c"], ["d"])).toThrow(/anchors has 1 entries but positives has 2/);
    expect(() => new TripletEvaluator(["a"], ["b"], [])).toThrow(/anchors has 1 entries but negatives has 0/);
    expect(() => new TripletEvaluator([], [], [])).toThrow(RangeError);
    // @ts-expect-error unknown similarity key
    expect(() => new TripletEvaluator(["a"], ["b"], ["c"], { margin: { cos: 1 } })).toThrow(RangeError);
  });
});

// Unit vectors at angles: cosine ranks documents by angular distance to the query.
const irAngles: Record<string, number> = {
  "query one": 0,
  "query two": 90,
  "query three": 45,
  "doc 1": 10,
  "doc 2": 20,
  "doc 3": 80,
  "doc 4": 105,
  "doc 5": 50,
  "doc 6": -30,
};
const irQueries = { q1: "query one", q2: "query two", q3: "query three" };
const irCorpus = { d1: "doc 1", d2: "doc 2", d3: "doc 3", d4: "doc 4", d5: "doc 5", d6: "doc 6" };
// q3 has no relevant documents and is skipped, as in sbert.
const irRelevant = { q1: new Set(["d2", "d3"]), q2: ["d3"], q3: [] as string[] };
const irK = { accuracyAtK: [1, 3], precisionRecallAtK: [1, 3], mrrAtK: [3], ndcgAtK: [3, 5], mapAtK: [5] };

describe("InformationRetrievalEvaluator", () => {
  // q1 ranks d1 d2* d6 d5 d3* d4; q2 ranks d3* d4 d5 d2 d1 d6 (* relevant).
  const ndcg3q1 = 1 / Math.log2(3) / (1 + 1 / Math.log2(3));
  const ndcg5q1 = (1 / Math.log2(3) + 1 / Math.log2(6)) / (1 + 1 / Math.log2(3));
  const expected = {
    "cosine_accuracy@1": 0.5,
    "cosine_accuracy@3": 1,
    "cosine_precision@1": 0.5,
    "cosine_precision@3": 1 / 3,
    "cosine_recall@1": 0.5,
    "cosine_recall@3": 0.75,
    "cosine_ndcg@3": (ndcg3q1 + 1) / 2,
    "cosine_ndcg@5": (ndcg5q1 + 1) / 2,
    "cosine_mrr@3": 0.75,
    "cosine_map@5": (0.9 / 2 + 1) / 2,
  };

  it("computes sbert's accuracy/precision/recall/NDCG/MRR/MAP (hand-computed), over corpus chunks", async () => {
    const model = angleModel(irAngles);
    const ev = new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, { ...irK, corpusChunkSize: 4 });
    expect(ev.queriesIds).toEqual(["q1", "q2"]);
    const m = await ev.evaluate(model);
    expect(Object.keys(m)).toEqual(Object.keys(expected));
    for (const [k, v] of Object.entries(expected)) expect(m[k]).toBeCloseTo(v, 14);
    expect(ev.primaryMetric).toBe("cosine_ndcg@5");
    // Queries once, then the corpus in chunks of 4.
    expect(model.calls).toEqual([["query one", "query two"], ["doc 1", "doc 2", "doc 3", "doc 4"], ["doc 5", "doc 6"]]);
  });

  it("passes queryPrompt / corpusPromptName to encodeQuery / encodeDocument, and records them in the config", async () => {
    const seen: Array<[string, unknown]> = [];
    const inner = angleModel(irAngles);
    const model = {
      encode: inner.encode.bind(inner),
      encodeQuery: (s: string[], o?: Record<string, unknown>) => (seen.push(["query", o?.["prompt"] ?? o?.["promptName"]]), inner.encode(s)),
      encodeDocument: (s: string[], o?: Record<string, unknown>) => (seen.push(["document", o?.["prompt"] ?? o?.["promptName"]]), inner.encode(s)),
    };
    const ev = new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, { ...irK, queryPrompt: "q: ", corpusPromptName: "passage" });
    await ev.evaluate(model);
    expect(seen).toEqual([
      ["query", "q: "],
      ["document", "passage"],
    ]);
    expect(ev.getConfigDict()).toEqual({ query_prompt: "q: ", corpus_prompt_name: "passage" });
    // Without them, nothing is passed and the model's own prompts apply.
    seen.length = 0;
    await new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, irK).evaluate(model);
    expect(seen).toEqual([
      ["query", undefined],
      ["document", undefined],
    ]);
    expect(() => new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, { queryPrompt: 3 as never })).toThrow(/queryPrompt must be a string/);
  });

  it("uses the default k lists and sbert's key names", async () => {
    const ev = new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, { name: "nano" });
    expect(ev.primaryMetric).toBe("nano_cosine_ndcg@10");
    const m = await ev.evaluate(angleModel(irAngles));
    expect(Object.keys(m)).toEqual([
      "nano_cosine_accuracy@1",
      "nano_cosine_accuracy@3",
      "nano_cosine_accuracy@5",
      "nano_cosine_accuracy@10",
      "nano_cosine_precision@1",
      "nano_cosine_precision@3",
      "nano_cosine_precision@5",
      "nano_cosine_precision@10",
      "nano_cosine_recall@1",
      "nano_cosine_recall@3",
      "nano_cosine_recall@5",
      "nano_cosine_recall@10",
      "nano_cosine_ndcg@10",
      "nano_cosine_mrr@10",
      "nano_cosine_map@100",
    ]);
    // Only 6 documents: precision@10 counts the missing ranks as misses.
    expect(m["nano_cosine_precision@10"]).toBeCloseTo((2 / 10 + 1 / 10) / 2, 14);
    expect(m["nano_cosine_recall@10"]).toBe(1);
    expect(ev.primaryMetric).toBe("nano_cosine_ndcg@10");
  });

  it("several score functions: CSV columns in sorted name order, primary = best NDCG (first on ties)", async () => {
    const out = join(dir, "ir");
    const ev = new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, {
      ...irK,
      scoreFunctions: { dot: dotScore, cosine: cosSim },
      writePredictions: true,
    });
    const m = await ev.evaluate(angleModel(irAngles), { outputPath: out, epoch: 1, steps: 2 });
    expect(m["dot_ndcg@5"]).toBeCloseTo(expected["cosine_ndcg@5"], 12);
    expect(Object.keys(m)[0]).toBe("dot_accuracy@1");
    expect(ev.primaryMetric).toBe("cosine_ndcg@5");
    const csv = await readFile(join(out, "Information-Retrieval_evaluation_results.csv"), "utf8");
    const [header, row, end] = csv.split("\n");
    const cols = (fn: string) =>
      `${fn}-Accuracy@1,${fn}-Accuracy@3,${fn}-Precision@1,${fn}-Recall@1,${fn}-Precision@3,${fn}-Recall@3,${fn}-MRR@3,${fn}-NDCG@3,${fn}-NDCG@5,${fn}-MAP@5`;
    expect(header).toBe(`epoch,steps,${cols("cosine")},${cols("dot")}`);
    expect(row!.startsWith("1,2,0.5,1.0,0.5,0.5,0.3333333333333333,0.75,0.75,")).toBe(true);
    expect(row!.split(",")).toHaveLength(22);
    expect(end).toBe("");
    expect(csv.includes("\r")).toBe(false);

    const predictions = await readFile(join(out, "Information-Retrieval_evaluation_predictions_cosine.jsonl"), "utf8");
    const lines = predictions.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as { query_id: string; query: string; results: Array<{ corpus_id: string; score: number }> };
    expect(first.query_id).toBe("q1");
    expect(first.results.map((r) => r.corpus_id)).toEqual(["d1", "d2", "d6", "d5", "d3"]);
    expect(lines[0]!.startsWith('{"query_id": "q1", "query": "query one", "results": [{"corpus_id": "d1", "score": 0.98')).toBe(true);
  });

  it("validates its inputs", () => {
    expect(() => new InformationRetrievalEvaluator(irQueries, irCorpus, { q3: [] })).toThrow(/no query has relevant documents/);
    expect(() => new InformationRetrievalEvaluator(irQueries, {}, irRelevant)).toThrow(/corpus is empty/);
    expect(() => new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, { ndcgAtK: [] })).toThrow(/ndcgAtK/);
    expect(() => new InformationRetrievalEvaluator(irQueries, irCorpus, irRelevant, { mapAtK: [0] })).toThrow(/mapAtK\[0\]/);
  });
});

describe("SequentialEvaluator", () => {
  it("merges the metrics and derives sequential_score from the primary metrics", async () => {
    const sts = new EmbeddingSimilarityEvaluator(s1, s2, gold, { name: "sts" });
    const triplet = new TripletEvaluator(anchors, positives, negatives, { name: "trip" });
    const seq = new SequentialEvaluator([sts, triplet]);
    expect(seq.primaryMetric).toBe("sequential_score");
    const m = await seq.evaluate(bagModel());
    expect(Object.keys(m)).toEqual(["sts_pearson_cosine", "sts_spearman_cosine", "trip_cosine_accuracy", "sequential_score"]);
    expect(m["sequential_score"]).toBe(m["trip_cosine_accuracy"]);

    const mean = new SequentialEvaluator([sts, triplet], { mainScoreFunction: (s) => (s[0]! + s[1]!) / 2 });
    const m2 = await mean.evaluate(bagModel());
    expect(m2["sequential_score"]).toBeCloseTo((SCIPY.spearman_cosine + 0.800000011920929) / 2, 12);
    expect((await new SequentialEvaluator([]).evaluate(bagModel()))["sequential_score"]).toBe(0);
  });
});

describe("Python-compatible output formatting", () => {
  it("formats floats as Python's str()", () => {
    const cases: Array<[number, string]> = [
      [1, "1.0"],
      [0.1, "0.1"],
      [-0.5, "-0.5"],
      [1e16, "1e+16"],
      [1e15, "1000000000000000.0"],
      [1e-5, "1e-05"],
      [0.00012, "0.00012"],
      [1.5e-4, "0.00015"],
      [123456789.125, "123456789.125"],
      [1234567890123456.8, "1234567890123456.8"],
      [12345678901234567, "1.2345678901234568e+16"],
      [Math.fround(0.7), "0.699999988079071"],
      [NaN, "nan"],
      [-Infinity, "-inf"],
      [-0, "-0.0"],
      [2 / 3, "0.6666666666666666"],
    ];
    for (const [x, s] of cases) expect(formatPythonFloat(x)).toBe(s);
  });

  it("dumps JSON as Python's json.dumps", () => {
    expect(pythonJsonDumps({ a: "é\n\"", b: [1, 0.5, { int: 3 }], c: null })).toBe('{"a": "\\u00e9\\n\\"", "b": [1.0, 0.5, 3], "c": null}');
  });
});

const deg = (a: number) => (a * Math.PI) / 180;
/** cos of the angle between two unit vectors at the given angles, as float32 vectors give it. */
const angleCos = (a: number, b: number) => cosSim([Float32Array.of(Math.cos(deg(a)), Math.sin(deg(a)))], [Float32Array.of(Math.cos(deg(b)), Math.sin(deg(b)))])[0]![0]!;

describe("MSEEvaluator", () => {
  const src = ["s0", "s1"];
  const trg = ["t0", "t1"];
  const angles = { s0: 0, s1: 90, t0: 0, t1: 0 };

  it("reports negative_mse = -100 x the mean squared difference, encodes a teacher model once, writes sbert's CSV", async () => {
    const teacher = angleModel(angles);
    const ev = new MSEEvaluator(src, trg, teacher, { name: "kd" });
    expect(ev.primaryMetric).toBe("kd_negative_mse");
    expect(ev.greaterIsBetter).toBe(true);
    const out = join(dir, "mse");
    // Teacher (1,0),(0,1) against (1,0),(1,0): squared differences 0,0,1,1 -> mean 0.5.
    expect(await ev.evaluate(angleModel(angles), { outputPath: out })).toEqual({ kd_negative_mse: expect.closeTo(-50, 5) });
    await ev.evaluate(angleModel(angles), { outputPath: out, epoch: 1, steps: 3 });
    expect(teacher.calls).toEqual([src]);
    // The MSE column holds numpy float32 scalars.
    expect(await readFile(join(out, "mse_evaluation_kd_results.csv"), "utf8")).toBe("epoch,steps,MSE\r\n-1,-1,50.0\r\n1,3,50.0\r\n");
    // Without a name, sbert's file name keeps both underscores.
    expect(new MSEEvaluator(src, trg, teacher).csvFile).toBe("mse_evaluation__results.csv");
    expect(ev.description).toBe("Knowledge Distillation");
  });

  it("takes the teacher's embeddings instead of a teacher model, truncated as the model's", async () => {
    const given = [Float32Array.of(1, 0, 5), Float32Array.of(0, 1, 5)];
    const ev = new MSEEvaluator(src, trg, given, { truncateDim: 2 });
    expect((await ev.evaluate(angleModel(angles)))["negative_mse"]).toBeCloseTo(-50, 5);
    await expect(new MSEEvaluator(src, trg, given).evaluate(angleModel(angles))).rejects.toThrow(/teacher's embeddings have 3 dimensions but the model's have 2/);
  });

  it("names the argument in its errors", () => {
    const teacher = angleModel(angles);
    expect(() => new MSEEvaluator(src, ["t0"], teacher)).toThrow(/sourceSentences has 2 entries but targetSentences has 1/);
    expect(() => new MSEEvaluator([], [], teacher)).toThrow(RangeError);
    expect(() => new MSEEvaluator(["a", 1 as unknown as string], src, teacher)).toThrow(/sourceSentences\[1\]/);
    expect(() => new MSEEvaluator(src, trg, {} as EvaluatedModel)).toThrow(TypeError);
    expect(() => new MSEEvaluator(src, trg, undefined as unknown as EvaluatedModel)).toThrow(/teacher must be a model/);
    expect(() => new MSEEvaluator(src, trg, [Float32Array.of(1)])).toThrow(/teacher has 1 embeddings but sourceSentences has 2/);
    expect(() => new MSEEvaluator(src, trg, [Float32Array.of(1), [1] as unknown as Float32Array])).toThrow(/teacher\[1\] must be a Float32Array/);
    expect(() => new MSEEvaluator(src, trg, [Float32Array.of(1), Float32Array.of(1, 2)])).toThrow(/teacher\[1\] has 2 dimensions/);
    expect(() => new MSEEvaluator(src, trg, teacher, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new MSEEvaluator(src, trg, teacher, { truncateDim: 1.5 })).toThrow(/truncateDim/);
  });
});

describe("TranslationEvaluator", () => {
  // Sources at 0, 90, 270 degrees; targets at 10, 60, 80: s0->t0 right, s1->t2 and s2->t0 wrong;
  // t0->s0 and t1->s1 right, t2->s1 wrong.
  const angles = { s0: 0, s1: 90, s2: 270, t0: 10, t1: 60, t2: 80 };

  it("reports src2trg, trg2src and mean accuracy and writes sbert's CSV", async () => {
    const ev = new TranslationEvaluator(["s0", "s1", "s2"], ["t0", "t1", "t2"], { name: "it" });
    expect(ev.primaryMetric).toBe("it_mean_accuracy");
    const out = join(dir, "translation");
    const m = await ev.evaluate(angleModel(angles), { outputPath: out, epoch: 0, steps: 4 });
    expect(m).toEqual({ it_src2trg_accuracy: 1 / 3, it_trg2src_accuracy: 2 / 3, it_mean_accuracy: 0.5 });
    expect(await readFile(join(out, "translation_evaluation_it_results.csv"), "utf8")).toBe(
      "epoch,steps,src2trg,trg2src\r\n0,4,0.3333333333333333,0.6666666666666666\r\n",
    );
  });

  it("names the argument in its errors", () => {
    expect(() => new TranslationEvaluator(["a"], ["b", "c"])).toThrow(/sourceSentences has 1 entries but targetSentences has 2/);
    expect(() => new TranslationEvaluator([], [])).toThrow(RangeError);
    expect(() => new TranslationEvaluator("a" as unknown as string[], ["b"])).toThrow(/sourceSentences must be an array/);
    expect(() => new TranslationEvaluator(["a"], [null as unknown as string])).toThrow(/targetSentences\[0\]/);
    expect(() => new TranslationEvaluator(["a"], ["b"], { batchSize: -1 })).toThrow(RangeError);
    expect(() => new TranslationEvaluator(["a"], ["b"], { truncateDim: 0 })).toThrow(/truncateDim/);
  });
});

describe("ParaphraseMiningEvaluator", () => {
  // a 0, b 10, c 50, d 200 degrees: pairs ranked ab, bc, ac, cd, ad, bd.
  const angles = { A: 0, B: 10, C: 50, D: 200 };
  const sentences = { a: "A", b: "B", c: "C", d: "D" };

  it("scores the mined pairs against the duplicates: AP, and F1/precision/recall/threshold at the best-F1 cut", async () => {
    const ev = new ParaphraseMiningEvaluator(sentences, { duplicatesList: [["a", "b"], ["a", "c"], ["a", "zz"]], name: "pm" });
    expect(ev.totalNumDuplicates).toBe(2);
    expect(ev.primaryMetric).toBe("pm_average_precision");
    const out = join(dir, "paraphrase");
    const m = await ev.evaluate(angleModel(angles), { outputPath: out });
    // ab right (P 1, R 1/2), bc wrong, ac right (P 2/3, R 1: best F1 0.8), threshold midway between ac and cd.
    expect(m["pm_average_precision"]).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(m["pm_f1"]).toBeCloseTo(0.8, 12);
    expect(m["pm_precision"]).toBeCloseTo(2 / 3, 12);
    expect(m["pm_recall"]).toBe(1);
    expect(m["pm_threshold"]).toBeCloseTo((angleCos(0, 50) + angleCos(50, 200)) / 2, 6);
    const csv = await readFile(join(out, "paraphrase_mining_evaluation_pm_results.csv"), "utf8");
    expect(csv.split("\r\n")[0]).toBe("epoch,steps,precision,recall,f1,threshold,average_precision");
    expect(csv.split("\r\n")[1]).toMatch(/^-1,-1,0\.6666666666666666,1\.0,0\.8,-?0\.\d+,0\.8333333333333333$/);
  });

  it("writes Python ints (0) where nothing was found, and adds the transitive closure as sbert", async () => {
    const none = new ParaphraseMiningEvaluator(sentences, { duplicatesList: [["a", "zz"]] });
    const out = join(dir, "paraphrase-none");
    expect(await none.evaluate(angleModel(angles), { outputPath: out })).toEqual({ average_precision: 0, f1: 0, precision: 0, recall: 0, threshold: 0 });
    expect((await readFile(join(out, "paraphrase_mining_evaluation_results.csv"), "utf8")).split("\r\n")[1]).toBe("-1,-1,0,0,0,0,0");

    const chain = { duplicatesDict: { a: { b: true }, b: { c: true } } };
    expect(new ParaphraseMiningEvaluator(sentences, chain).totalNumDuplicates).toBe(2);
    expect(new ParaphraseMiningEvaluator(sentences, { ...chain, addTransitiveClosure: true }).totalNumDuplicates).toBe(3);
    // An explicit false is no duplicate, but the closure (as sbert's) follows every entry.
    expect(new ParaphraseMiningEvaluator(sentences, { duplicatesDict: { a: { b: false } } }).totalNumDuplicates).toBe(0);
    expect(new ParaphraseMiningEvaluator(sentences, { duplicatesDict: { a: { b: false } }, addTransitiveClosure: true }).totalNumDuplicates).toBe(1);
    // Numeric ids are their string form.
    const numeric = new ParaphraseMiningEvaluator(new Map([[1, "A"], [2, "B"]]), { duplicatesList: [[1, "2"]] });
    expect(numeric.ids).toEqual(["1", "2"]);
    expect(numeric.totalNumDuplicates).toBe(1);
    expect(numeric.getConfigDict()).toEqual({ add_transitive_closure: false, max_pairs: 500000, top_k: 100 });
  });

  it("names the argument in its errors", () => {
    expect(() => new ParaphraseMiningEvaluator(["A"] as unknown as Record<string, string>)).toThrow(/sentencesMap must be an object or a Map/);
    expect(() => new ParaphraseMiningEvaluator({})).toThrow(/sentencesMap is empty/);
    expect(() => new ParaphraseMiningEvaluator({ a: 3 as unknown as string })).toThrow(/sentencesMap\["a"\] must be a string/);
    expect(() => new ParaphraseMiningEvaluator(new Map<string | number, string>([[1, "A"], ["1", "B"]]))).toThrow(/id "1" twice/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { duplicatesList: [["a"]] as unknown as [string, string][] })).toThrow(/duplicatesList\[0\]/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { duplicatesList: [["a", {}]] as unknown as [string, string][] })).toThrow(/duplicatesList\[0\]\[1\]/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { duplicatesList: "ab" as unknown as [string, string][] })).toThrow(TypeError);
    expect(() => new ParaphraseMiningEvaluator(sentences, { duplicatesDict: { a: { b: 1 } } as unknown as Record<string, Record<string, boolean>> })).toThrow(
      /duplicatesDict\["a"\]\["b"\] must be a boolean/,
    );
    expect(() => new ParaphraseMiningEvaluator(sentences, { duplicatesDict: { a: [] } as unknown as Record<string, Record<string, boolean>> })).toThrow(
      /duplicatesDict\["a"\]/,
    );
    expect(() => new ParaphraseMiningEvaluator(sentences, { addTransitiveClosure: "yes" as unknown as boolean })).toThrow(/addTransitiveClosure/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { queryChunkSize: 0 })).toThrow(/queryChunkSize/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { corpusChunkSize: 2.5 })).toThrow(/corpusChunkSize/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { maxPairs: 0 })).toThrow(/maxPairs/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { topK: -1 })).toThrow(/topK/);
    expect(() => new ParaphraseMiningEvaluator(sentences, { batchSize: 0 })).toThrow(/batchSize/);
  });
});

describe("RerankingEvaluator", () => {
  // Query at 0 degrees; positives at 30 and 100, negatives at 60 and 120: ranked p30, n60, p100, n120.
  const angles = { q: 0, p30: 30, p100: 100, n60: 60, n120: 120, r: 0 };
  const sample = { query: "q", positive: ["p30", "p100"], negative: ["n60", "n120"] };

  it("reports MAP, MRR@k and NDCG@k (the primary metric), leaving out samples without positives or negatives", async () => {
    const ev = new RerankingEvaluator([sample, { query: "r", positive: ["p30"], negative: [] }], { name: "rr" });
    expect(ev.samples).toHaveLength(1);
    expect(ev.primaryMetric).toBe("rr_ndcg@10");
    const out = join(dir, "reranking");
    const m = await ev.evaluate(angleModel(angles), { outputPath: out });
    const idcg = 1 + 1 / Math.log2(3);
    expect(m).toEqual({
      rr_map: expect.closeTo((1 + 2 / 3) / 2, 12),
      "rr_mrr@10": 1,
      "rr_ndcg@10": expect.closeTo((1 + 1 / Math.log2(4)) / idcg, 12),
    });
    const csv = await readFile(join(out, "RerankingEvaluator_rr_results_@10.csv"), "utf8");
    expect(csv.split("\r\n")[0]).toBe("epoch,steps,MAP,MRR@10,NDCG@10");

    // Relevance swapped: the first relevant document is second; at k = 1 NDCG and MRR are 0.
    const swapped = new RerankingEvaluator([{ query: "q", positive: sample.negative, negative: sample.positive }], { mrrAtK: 1, useBatchedEncoding: false });
    expect(swapped.atK).toBe(1);
    expect(swapped.csvFile).toBe("RerankingEvaluator_results_@1.csv");
    expect(await swapped.evaluate(angleModel(angles))).toEqual({ map: expect.closeTo((1 / 2 + 2 / 4) / 2, 12), "mrr@1": 0, "ndcg@1": 0 });
  });

  it("gives NaN metrics (numpy's mean of nothing) when no sample is left", async () => {
    const ev = new RerankingEvaluator({ a: { query: "q", positive: [], negative: ["n60"] } });
    const model = angleModel(angles);
    const m = await ev.evaluate(model);
    expect(Object.keys(m)).toEqual(["map", "mrr@10", "ndcg@10"]);
    expect(Object.values(m).every(Number.isNaN)).toBe(true);
    expect(model.calls).toEqual([]);
  });

  it("names the argument in its errors", () => {
    expect(() => new RerankingEvaluator("q" as unknown as [])).toThrow(/samples must be an array/);
    expect(() => new RerankingEvaluator([null as unknown as typeof sample])).toThrow(/samples\[0\] must be an object/);
    expect(() => new RerankingEvaluator([{ ...sample, query: 1 as unknown as string }])).toThrow(/samples\[0\]\.query must be a string/);
    expect(() => new RerankingEvaluator([{ ...sample, positive: "p30" as unknown as string[] }])).toThrow(/samples\[0\]\.positive must be an array/);
    expect(() => new RerankingEvaluator([{ ...sample, negative: ["n60", 2 as unknown as string] }])).toThrow(/samples\[0\]\.negative\[1\]/);
    expect(() => new RerankingEvaluator([sample], { atK: 0 })).toThrow(/atK must be a positive integer/);
    expect(() => new RerankingEvaluator([sample], { mrrAtK: 0 })).toThrow(/mrrAtK must be a positive integer/);
    expect(() => new RerankingEvaluator([sample], { similarityFct: "cos" as "cosine" })).toThrow(/similarityFct must be one of/);
    expect(() => new RerankingEvaluator([sample], { similarityFct: 3 as unknown as "cosine" })).toThrow(TypeError);
    expect(() => new RerankingEvaluator([sample], { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new RerankingEvaluator([sample], { truncateDim: -2 })).toThrow(/truncateDim/);
  });
});

describe("ndcgScore equals sklearn.metrics.ndcg_score", () => {
  it("averages the gain of tied scores, with and without k", () => {
    // Values printed by scikit-learn 1.x for the same inputs.
    expect(ndcgScore([1, 0, 0], [0.5, 0.5, 0.1])).toBeCloseTo(0.8154648767857287, 14);
    expect(ndcgScore([1, 0, 0], [0.5, 0.5, 0.1], 1)).toBeCloseTo(0.5, 14);
    expect(ndcgScore([0, 1, 0, 1], [0.2, 0.9, 0.2, 0.2], 2)).toBeCloseTo(0.7420981285103055, 14);
    expect(ndcgScore([0, 0], [0.3, 0.1])).toBe(0);
  });

  it("refuses what sklearn refuses", () => {
    expect(() => ndcgScore([1], [0.5])).toThrow(RangeError);
    expect(() => ndcgScore([1, -1], [0.5, 0.2])).toThrow(/relevance\[1\]/);
    expect(() => ndcgScore([1, 0], [0.5, 0.2], 0)).toThrow(/k must be a positive integer/);
    expect(() => ndcgScore([1, 0], [0.5])).toThrow(RangeError);
  });
});

describe("numpy float32 formatting", () => {
  it("formats float32 scalars as numpy's str()", () => {
    const cases: Array<[number, string]> = [
      [0.805045, "0.805045"],
      [1 / 3, "0.33333334"],
      [1e-4, "1e-04"],
      [0.00012345, "0.00012345"],
      [999999, "999999.0"],
      [1e6, "1e+06"],
      [1234567, "1.234567e+06"],
      [123456789, "1.2345679e+08"],
      // An exact midpoint between two shortest candidates: numpy takes the even digit.
      [1156618.25, "1.1566182e+06"],
      [-3.25, "-3.25"],
      [100, "100.0"],
      [0, "0.0"],
      [-0, "-0.0"],
      [NaN, "nan"],
    ];
    for (const [x, s] of cases) expect(formatNumpyFloat32(x), String(x)).toBe(s);
  });
});
