import { join } from "node:path";

import type { InformationRetrievalEvaluatorOptions } from "../../evaluation/InformationRetrievalEvaluator.js";
import { NanoBEIREvaluator, type NanoBEIREvaluatorOptions, type NanoBEIRRetrievalOptions } from "../../evaluation/NanoBEIREvaluator.js";
import type { EvaluateOptions, EvaluatedModel } from "../../evaluation/SentenceEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { SparseInformationRetrievalEvaluator, avgFlops } from "./SparseInformationRetrievalEvaluator.js";
import { appendToLastRow, checkMaxActiveDims, checkSparseModel } from "./sparsity.js";

export interface SparseNanoBEIREvaluatorOptions extends Omit<NanoBEIREvaluatorOptions, "truncateDim"> {
  /** Keep only each embedding's largest values; undefined: the model's maxActiveDims. */
  maxActiveDims?: number | null;
}

/**
 * sentence-transformers' `SparseNanoBEIREvaluator`: the NanoBEIREvaluator with a SparseInformationRetrievalEvaluator
 * per dataset, so each dataset also reports its queries' and corpus's active dimensions and sparsity ratio and
 * `avg_flops`. The aggregated statistics are weighted by each dataset's number of queries (or corpus entries), and
 * the aggregated `avg_flops` comes from the activation counts of all datasets together; they are also appended to
 * the CSV row. With `maxActiveDims`, the names gain `_{maxActiveDims}` (`NanoBEIR_mean_64_…`, `NanoMSMARCO_64_…`).
 */
export class SparseNanoBEIREvaluator extends NanoBEIREvaluator {
  readonly maxActiveDims: number | undefined;
  /** The last evaluation's aggregated statistics, unprefixed. */
  sparsityStats: Record<string, number> = {};
  declare evaluators: SparseInformationRetrievalEvaluator[];

  static override async create(options: SparseNanoBEIREvaluatorOptions = {}): Promise<SparseNanoBEIREvaluator> {
    const evaluator = new SparseNanoBEIREvaluator(options);
    await evaluator.loadDatasets();
    return evaluator;
  }

  constructor(options: SparseNanoBEIREvaluatorOptions = {}) {
    const { maxActiveDims, ...rest } = options ?? {};
    if ((rest as { truncateDim?: unknown }).truncateDim != null) throw new TypeError("SparseNanoBEIREvaluator: truncateDim does not apply to sparse embeddings (use maxActiveDims)");
    super(rest);
    this.maxActiveDims = checkMaxActiveDims(maxActiveDims, "SparseNanoBEIREvaluator");
    if (this.maxActiveDims !== undefined) {
      const base = this.name;
      this.name += `_${this.maxActiveDims}`;
      this.primaryMetric = this.name + this.primaryMetric.slice(base.length);
    }
  }

  protected override appendCsvHeaders(names: readonly string[]): void {
    super.appendCsvHeaders(names);
    // Only with metric columns, so the columns are added once when the score function comes from the model.
    if (names.length > 0) this.csvHeaders.push("query_active_dims", "query_sparsity_ratio", "corpus_active_dims", "corpus_sparsity_ratio", "avg_flops");
  }

  protected override datasetEvaluatorName(datasetName: string): string {
    const name = super.datasetEvaluatorName(datasetName);
    return this.maxActiveDims === undefined ? name : `${name}_${this.maxActiveDims}`;
  }

  protected override retrievalOptions(): InformationRetrievalEvaluatorOptions {
    const { truncateDim: _, ...rest } = super.retrievalOptions();
    return rest;
  }

  protected override makeRetrievalEvaluator(
    queries: Record<string, string>,
    corpus: Record<string, string>,
    relevantDocs: Record<string, Set<string>>,
    options: NanoBEIRRetrievalOptions,
  ): SparseInformationRetrievalEvaluator {
    const { truncateDim: _, ...rest } = options;
    return new SparseInformationRetrievalEvaluator(queries, corpus, relevantDocs, { ...rest, ...(this.maxActiveDims !== undefined && { maxActiveDims: this.maxActiveDims }) });
  }

  override async evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    checkSparseModel(model, "SparseNanoBEIREvaluator");
    // The datasets' sparse evaluators take the SparseEncoder itself.
    const results = await super.evaluate(model as unknown as EvaluatedModel, options);

    // Each statistic weighted by the dataset's queries (query_…) or corpus entries (corpus_…).
    const lengths = { query: this.evaluators.map((e) => e.queries.length), corpus: this.evaluators.map((e) => e.corpus.length) };
    const stats: Record<string, number> = {};
    for (const key of Object.keys(this.evaluators[0]!.sparsityStats)) {
      if (key === "avg_flops") {
        stats[key] = 0;
        continue;
      }
      const weights = lengths[key.split("_")[0] as "query" | "corpus"];
      let weighted = 0;
      this.evaluators.forEach((e, i) => (weighted += e.sparsityStats[key]! * weights[i]!));
      stats[key] = weighted / weights.reduce((a, b) => a + b, 0);
    }
    // FLOPS from the summed activation counts over the summed number of texts, not a mean of the datasets' FLOPS.
    const total = (side: "query" | "corpus"): { counts: Int32Array; texts: number } => {
      const counts = new Int32Array(this.evaluators[0]!.countVectors[side]!.counts.length);
      for (const e of this.evaluators) {
        const c = e.countVectors[side]!.counts;
        for (let j = 0; j < counts.length; j++) counts[j]! += c[j]!;
      }
      return { counts, texts: lengths[side].reduce((a, b) => a + b, 0) };
    };
    stats["avg_flops"] = avgFlops(total("query"), total("corpus"));
    this.sparsityStats = stats;
    Object.assign(results, this.prefixNameToMetrics(stats, this.name));
    if (options.outputPath !== undefined && options.outputPath !== null && this.writeCsv) {
      await appendToLastRow(join(options.outputPath, this.csvFile), Object.values(stats));
    }
    return results;
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}
