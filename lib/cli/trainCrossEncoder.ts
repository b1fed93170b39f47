/**
 * `sbert-node train` with `modelType: cross-encoder`: a CrossEncoder trained by CrossEncoderTrainer, through the
 * loop of trainerRun.ts (fit's options mean what they mean for a SentenceTransformer's fit).
 */
import { CrossEncoder, isCrossEncoderFolder } from "../crossEncoder/CrossEncoder.js";
import { CrossEncoderTrainer, CrossEncoderTrainingArguments } from "../crossEncoder/CrossEncoderTrainer.js";
import { resolveModelFolder } from "../hub/index.js";
import { localOrId } from "./common.js";
import { ConfigError } from "./config.js";
import { buildCrossEncoderLoss, buildEvaluator, crossEncoderTrainDataset, datasetSection, loadSpecDataset } from "./specs.js";
import type { ModelPlan, TrainJob } from "./train.js";
import { runTrainer } from "./trainerRun.js";

/** Loads the cross-encoder a plan names, refusing a folder that holds another kind of model and a label count other than numLabels. */
async function loadCrossEncoder(plan: ModelPlan, base: string, device: string | undefined): Promise<CrossEncoder> {
  const folder = await resolveModelFolder(await localOrId(plan.path, base));
  if (!(await isCrossEncoderFolder(folder))) {
    throw new ConfigError(
      plan.fields["path"]!,
      `${plan.path} is not a cross-encoder (no config.json naming a *ForSequenceClassification model, or a SentenceTransformer's modules.json); ` +
        `a bi-encoder trains without modelType: cross-encoder`,
    );
  }
  const model = await CrossEncoder.load(folder, { ...(device !== undefined && { device }) });
  try {
    if (plan.numLabels !== undefined && plan.numLabels !== model.numLabels) {
      throw new ConfigError(plan.fields["numLabels"]!, `is ${plan.numLabels}, but the model at ${plan.path} has ${model.numLabels} label(s) (config.json's id2label / num_labels)`);
    }
    if (plan.maxLength !== undefined) {
      try {
        model.maxLength = plan.maxLength;
      } catch (e) {
        throw new ConfigError(plan.fields["maxLength"]!, (e as Error).message);
      }
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export async function trainCrossEncoder(job: TrainJob): Promise<number> {
  const { plan, base, train } = job;
  const model = await loadCrossEncoder(plan, base, job.device);
  try {
    const loss = buildCrossEncoderLoss(job.lossSec, model);
    const trainData = await loadSpecDataset(datasetSection(train), base, "train");
    const dataset = crossEncoderTrainDataset(trainData, train, loss);
    if (dataset.length === 0) throw new ConfigError(train.field("path"), "the training data has no rows");
    const built = job.evalSec ? await buildEvaluator(job.evalSec, base) : undefined;
    if (built && built.modelType !== "cross-encoder") throw new ConfigError(job.evalSec!.field("type"), `${built.type} does not evaluate cross-encoders`);

    return await runTrainer(job, {
      model,
      lossName: loss.name,
      dataset,
      built,
      describe: `cross-encoder, ${model.numLabels} label(s), max length ${model.maxLength}`,
      makeArgs: (init) => new CrossEncoderTrainingArguments(init),
      makeTrainer: (args, callback) => new CrossEncoderTrainer({ model, args, trainDataset: dataset, loss, callbacks: [callback] }),
    });
  } finally {
    model.dispose();
  }
}
