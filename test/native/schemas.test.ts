// The lists TypeScript and the native addon each keep (pooling modes, schedulers, activations, output values,
// losses, linear backends, model types, cross-encoder heads by model type) agree, and the process-wide settings
// behave as their specs say.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { describe, expect, test } from "vitest";

import { CLASSIFICATION_HEADS } from "../../lib/crossEncoder/heads.js";
import * as sbert from "../../lib/index.js";
import { SCHEDULERS } from "../../lib/fit.js";
import * as ceLosses from "../../lib/crossEncoder/losses/index.js";
import * as losses from "../../lib/losses/index.js";
import { DENSE_ACTIVATIONS } from "../../lib/models/Dense.js";
import { native } from "../../lib/native.js";
import { OUTPUT_VALUES } from "../../lib/SentenceTransformer.js";
import { LR_SCHEDULERS } from "../../lib/SentenceTransformerTrainingArguments.js";
import { MASKED_LM_HEADS, SPLADE_ACTIVATIONS, SPLADE_POOLING_STRATEGIES } from "../../lib/sparseEncoder/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("one list per enum: TypeScript agrees with native", () => {
  const schemas = native().schemas();

  test("pooling modes, schedulers, output values, model types", () => {
    expect([...sbert.models.POOLING_MODES]).toEqual(schemas.poolingModes);
    // fit's schedules and the trainer's (transformers' names mapped) are together what native code runs.
    expect([...new Set([...SCHEDULERS, ...Object.values(LR_SCHEDULERS)])].sort()).toEqual([...schemas.schedulers].sort());
    expect([...OUTPUT_VALUES]).toEqual(schemas.outputValues);
    expect(sbert.models.supportedModelTypes()).toEqual(schemas.modelTypes);
  });

  test("every transformers scheduler name the trainer takes maps to a native schedule", () => {
    for (const native of Object.values(LR_SCHEDULERS)) expect(schemas.schedulers).toContain(native);
  });

  test("every Dense activation is one native code runs", () => {
    for (const short of Object.values(DENSE_ACTIVATIONS)) expect(schemas.activations).toContain(short);
  });

  test("every architecture native code runs has a CrossEncoder classification head, and no other; each head's activation is a Dense one", () => {
    expect(Object.keys(CLASSIFICATION_HEADS).sort()).toEqual([...schemas.modelTypes].sort());
    for (const head of Object.values(CLASSIFICATION_HEADS)) if (head.dense) expect(Object.values(DENSE_ACTIVATIONS)).toContain(head.dense.activation);
  });

  test("every native loss has a loss class of the same name (cross-encoder losses under crossEncoder.losses), and each cross-encoder loss class runs a native loss", () => {
    const classes = losses as Record<string, unknown>;
    const ceClasses = ceLosses as Record<string, unknown>;
    for (const name of schemas.losses) {
      const ce = /^CrossEncoder\.(.+)$/.exec(name);
      if (ce) expect(typeof ceClasses[ce[1]!], name).toBe("function");
      else expect(typeof classes[name], name).toBe("function");
    }
    const concrete = Object.entries(ceClasses).filter(([n, c]) => typeof c === "function" && !["CrossEncoderLoss", "ListwiseLoss", "PairLoss"].includes(n));
    expect(concrete.length).toBeGreaterThan(0);
    for (const [name] of concrete) {
      const native = name === "CachedMultipleNegativesRankingLoss" ? "MultipleNegativesRankingLoss" : name;
      expect(schemas.losses, name).toContain(`CrossEncoder.${native}`);
    }
  });

  test("SpladePooling's pooling strategies and activations", () => {
    expect([...SPLADE_POOLING_STRATEGIES]).toEqual(schemas.spladePoolingStrategies);
    expect([...SPLADE_ACTIVATIONS]).toEqual(schemas.spladeActivations);
  });

  test("every masked-LM head runs on an architecture native code runs", () => {
    for (const type of Object.keys(MASKED_LM_HEADS)) expect(schemas.modelTypes).toContain(type);
  });

  test("linear precisions (quantize)", () => {
    expect([...sbert.LINEAR_PRECISIONS]).toEqual(schemas.linearPrecisions);
  });

  test("linear backends, kernel instruction sets", () => {
    const spec = (name: string) => sbert.settings().find((s) => s.name === name)!;
    expect([...sbert.LINEAR_BACKENDS]).toEqual(spec("linearBackend").choices);
    expect([...sbert.KERNEL_ISAS]).toEqual(spec("kernelIsa").choices);
  });
});

describe("process-wide settings", () => {
  test("each setter round-trips through its getter, is reported by backendInfo as set by the API, and refuses bad values naming itself", () => {
    const before = sbert.backendInfo().settings;
    try {
      sbert.setSplitBatches(false);
      expect(sbert.getSplitBatches()).toBe(false);
      sbert.setCpuCacheLimit(64);
      expect(sbert.getCpuCacheLimit()).toBe(64);
      sbert.setMallocTuning(false);
      expect(sbert.getMallocTuning()).toBe(false);
      sbert.setBlasThreads(1);
      expect(sbert.getBlasThreads()).toBe(1);
      sbert.setEncodeConcurrency(3);
      expect(sbert.getEncodeConcurrency()).toBe(3);
      const info = sbert.backendInfo();
      expect(info.concurrency).toBe(3);
      for (const name of ["splitBatches", "cpuCacheMb", "mallocTuning", "blasThreads", "encodeConcurrency"]) {
        expect(info.settings[name]!.source, name).toBe("api");
      }
      expect(() => sbert.setCpuCacheLimit(-1)).toThrow(/setCpuCacheLimit: expected an integer from 0/);
      expect(() => sbert.setEncodeConcurrency(0)).toThrow(RangeError);
      expect(() => sbert.setSplitBatches("no" as unknown as boolean)).toThrow(TypeError);
      // The native side checks too, naming the setting and what it takes.
      expect(() => native().setSetting("cpuCacheMb", "lots")).toThrow(/setting 'cpuCacheMb' takes an integer/);
      expect(() => native().setSetting("linearBackend", "mkl")).toThrow(/setting 'linearBackend' takes one of "auto", "blas", "onednn", got "mkl"/);
      expect(() => native().setSetting("nope", 1)).toThrow(/unknown setting 'nope' \(settings: linearBackend, kernelIsa, splitBatches/);
    } finally {
      sbert.setSplitBatches(before["splitBatches"]!.value as boolean);
      sbert.setCpuCacheLimit(before["cpuCacheMb"]!.value as number);
      sbert.setMallocTuning(before["mallocTuning"]!.value as boolean);
      sbert.setBlasThreads(before["blasThreads"]!.value as number);
      native().setSetting("encodeConcurrency", before["encodeConcurrency"]!.value as number);
    }
  });

  test("environment variables give the defaults, read once; unparsable ones leave the default", () => {
    const script = `
      import { backendInfo } from "./dist/index.js";
      const s = backendInfo().settings;
      console.log(JSON.stringify({ split: s.splitBatches, cache: s.cpuCacheMb, backend: s.linearBackend, conc: s.encodeConcurrency }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, SBERT_NODE_SPLIT_BATCHES: "0", SBERT_NODE_CPU_CACHE_MB: "128", SBERT_NODE_LINEAR_BACKEND: "blas", SBERT_NODE_ENCODE_CONCURRENCY: "many" },
    });
    expect(r.stderr).toBe("");
    const s = JSON.parse(r.stdout) as Record<string, { value: unknown; source: string }>;
    expect(s["split"]).toMatchObject({ value: false, source: "environment" });
    expect(s["cache"]).toMatchObject({ value: 128, source: "environment" });
    expect(s["backend"]).toMatchObject({ value: "blas", source: "environment" });
    expect(s["conc"]).toMatchObject({ value: 0, source: "default" });
  });
});
