/**
 * The classification heads of Hugging Face's `*ForSequenceClassification` models, by config.json's model_type: where
 * each keeps its encoder (the base model prefix) and the two linear layers it puts on the first token's embedding.
 * Every one of them is first token → dense → activation → out (dropout aside, which inference skips), so the
 * native Pooling ("cls") and Dense modules run them; this table only names their checkpoint keys.
 */
import type { DenseActivation } from "../models/Dense.js";

export interface ClassificationHead {
  /** config.json's `architectures` entry, e.g. "BertForSequenceClassification" */
  modelClass: string;
  /** Hugging Face's base_model_prefix: the encoder's keys are `${prefix}.…` */
  prefix: string;
  /** The hidden → hidden layer and its activation (BertPooler, RobertaClassificationHead.dense, pre_classifier). */
  dense: { key: string; activation: DenseActivation };
  /** The hidden → num_labels layer. */
  out: { key: string };
}

const robertaLike = (modelClass: string, prefix: string): ClassificationHead => ({
  modelClass,
  prefix,
  dense: { key: "classifier.dense", activation: "tanh" },
  out: { key: "classifier.out_proj" },
});

/** Keyed by model_type; test/native/schemas.test.ts checks that every architecture the addon runs has one. */
export const CLASSIFICATION_HEADS: Readonly<Record<string, ClassificationHead>> = {
  bert: { modelClass: "BertForSequenceClassification", prefix: "bert", dense: { key: "bert.pooler.dense", activation: "tanh" }, out: { key: "classifier" } },
  roberta: robertaLike("RobertaForSequenceClassification", "roberta"),
  "xlm-roberta": robertaLike("XLMRobertaForSequenceClassification", "roberta"),
  mpnet: robertaLike("MPNetForSequenceClassification", "mpnet"),
  distilbert: {
    modelClass: "DistilBertForSequenceClassification",
    prefix: "distilbert",
    dense: { key: "pre_classifier", activation: "relu" },
    out: { key: "classifier" },
  },
};

/**
 * Architectures the addon runs as encoders but not as cross-encoders: decoders' `*ForSequenceClassification` score the
 * last token that is not the pad token by id (not by attention mask), which their tokenizers also append as end of
 * text. Listed so that the schema test tells a missing head from one left out on purpose.
 */
export const WITHOUT_CLASSIFICATION_HEAD: readonly string[] = ["qwen3", "gemma3_text"];
