/**
 * `sbert-node train` with `modelType: sparse-encoder`: a SparseEncoder (SPLADE) trained by SparseEncoderTrainer,
 * through the loop of trainerRun.ts (fit's options mean what they mean for a SentenceTransformer's fit).
 */
import { SbertError } from "../errors.js";
import { resolveModelFolder } from "../hub/index.js";
import { SparseEncoder } from "../sparseEncoder/SparseEncoder.js";
import { SparseEncoderTrainer, SparseEncoderTrainingArguments } from "../sparseEncoder/SparseEncoderTrainer.js";
import { localOrId } from "./common.js";
import { ConfigError } from "./config.js";
import { buildEvaluator, buildSparseEncoderLoss, datasetSection, loadSpecDataset, sparseEncoderTrainDataset } from "./specs.js";
import type { ModelPlan, TrainJob } from "./train.js";
import { runTrainer } from "./trainerRun.js";

/** Loads the sparse encoder a plan names; a folder holding another kind of model is refused naming model.path. */
async function loadSparseEncoder(plan: ModelPlan, base: string, device: string | undefined): Promise<SparseEncoder> {
  const folder = await resolveModelFolder(await localOrId(plan.path, base));
  let model: SparseEncoder;
  try {
    model = await SparseEncoder.load(folder, { ...(device !== undefined && { device }) });
  } catch (e) {
    if (e instanceof SbertError && (e.code === "ERR_INPUT" || e.code === "ERR_FILE_NOT_FOUND" || e.code === "ERR_FORMAT" || e.code === "ERR_CONFIG")) {
      throw new ConfigError(plan.fields["path"]!, `${plan.path} does not load as a SparseEncoder: ${e.message}`);
    }
    throw e;
  }
  if (plan.maxSeqLength !== undefined) {
    try {
      model.maxSeqLength = plan.maxSeqLength;
    } catch (e) {
      model.dispose();
      throw new ConfigError(plan.fields["maxSeqLength"]!, (e as Error).message);
    }
  }
  return model;
}

export async function trainSparseEncoder(job: TrainJob): Promise<number> {
  const { plan, base, train } = job;
  const model = await loadSparseEncoder(plan, base, job.device);
  try {
    const loss = buildSparseEncoderLoss(job.lossSec, model);
    const trainData = await loadSpecDataset(datasetSection(train), base, "train");
    const dataset = sparseEncoderTrainDataset(trainData, train, loss);
    if (dataset.length === 0) throw new ConfigError(train.field("path"), "the training data has no rows");
    const built = job.evalSec ? await buildEvaluator(job.evalSec, base) : undefined;
    if (built && built.modelType !== "sparse-encoder") throw new ConfigError(job.evalSec!.field("type"), `${built.type} does not evaluate sparse encoders`);

    return await runTrainer(job, {
      model,
      lossName: loss.name,
      dataset,
      built,
      describe: `sparse encoder, vocabulary ${model.getSentenceEmbeddingDimension()}, max length ${model.maxSeqLength}`,
      makeArgs: (init) => new SparseEncoderTrainingArguments(init),
      makeTrainer: (args, callback) => new SparseEncoderTrainer({ model, args, trainDataset: dataset, loss, callbacks: [callback] }),
    });
  } finally {
    model.dispose();
  }
}
