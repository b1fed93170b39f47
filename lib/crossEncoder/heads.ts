/**
 * The classification heads of Hugging Face's `*ForSequenceClassification` models, by config.json's model_type: where
 * each keeps its encoder (the base model prefix) and the layers it puts on the first token's embedding (or the
 * tokens' mean). Every one of them is pooled token → dense → activation → (LayerNorm) → out (dropout aside, which
 * inference skips), so the native Pooling, Dense and LayerNorm modules run them; this table only names their
 * checkpoint keys and, where config.json chooses, reads its choices.
 */
import { SbertError } from "../errors.js";
import { ConfigReader } from "../io/files.js";
import type { DenseActivation } from "../models/Dense.js";

export interface ClassificationHead {
  /** config.json's `architectures` entry, e.g. "BertForSequenceClassification" */
  modelClass: string;
  /** Hugging Face's base_model_prefix: the encoder's keys are `${prefix}.…` */
  prefix: string;
  /** What the head reads: the first token's embedding, or the mean of the tokens' (attention mask). */
  pooling: "cls" | "mean";
  /** The hidden → hidden layer and its activation (BertPooler, RobertaClassificationHead.dense, pre_classifier). */
  dense: { key: string; activation: DenseActivation; bias: boolean };
  /** A LayerNorm after the activation (ModernBertPredictionHead.norm), if the head has one. */
  norm?: { key: string; eps: number; bias: boolean };
  /** The hidden → num_labels layer. */
  out: { key: string };
  /**
   * Training's dropout in the head, as config.json sets it: before the out layer, and with `beforeDense` before the
   * dense layer too (RobertaClassificationHead). Inference skips it.
   */
  dropout: { fields: string[]; beforeDense?: boolean };
  /** For heads whose shape config.json chooses: the head it describes (an ERR_CONFIG naming the field otherwise). */
  configure?: (config: ConfigReader) => ClassificationHead;
}

const robertaLike = (modelClass: string, prefix: string): ClassificationHead => ({
  modelClass,
  prefix,
  pooling: "cls",
  dense: { key: "classifier.dense", activation: "tanh", bias: true },
  out: { key: "classifier.out_proj" },
  dropout: { fields: ["classifier_dropout", "hidden_dropout_prob"], beforeDense: true },
});

// transformers' ACT2FN names of the activations a Dense runs.
const HF_ACTIVATIONS: Readonly<Record<string, DenseActivation>> = { gelu: "gelu", relu: "relu", silu: "silu", swish: "silu", tanh: "tanh", sigmoid: "sigmoid", linear: "identity" };

// ModernBertForSequenceClassification: classifier_pooling, then ModernBertPredictionHead (dense without bias unless
// classifier_bias, classifier_activation, a LayerNorm as the encoder's norms), then the classifier.
const MODERNBERT: ClassificationHead = {
  modelClass: "ModernBertForSequenceClassification",
  prefix: "model",
  pooling: "cls",
  dense: { key: "head.dense", activation: "gelu", bias: false },
  norm: { key: "head.norm", eps: 1e-5, bias: false },
  out: { key: "classifier" },
  dropout: { fields: ["classifier_dropout"] },
  configure: (c) => {
    const pooling = c.string("classifier_pooling", "cls");
    if (pooling !== "cls" && pooling !== "mean") throw new SbertError("ERR_CONFIG", `${c.file}: field 'classifier_pooling' must be "cls" or "mean", got ${JSON.stringify(pooling)}`, { op: c.op });
    const act = c.string("classifier_activation", "gelu");
    const activation = Object.hasOwn(HF_ACTIVATIONS, act) ? HF_ACTIVATIONS[act]! : undefined;
    if (activation === undefined) {
      throw new SbertError("ERR_CONFIG", `${c.file}: field 'classifier_activation' must be one of ${Object.keys(HF_ACTIVATIONS).join(", ")}, got ${JSON.stringify(act)}`, { op: c.op });
    }
    return {
      ...MODERNBERT,
      pooling,
      dense: { key: "head.dense", activation, bias: c.bool("classifier_bias", false) },
      norm: { key: "head.norm", eps: c.number("norm_eps", 1e-5), bias: c.bool("norm_bias", false) },
      configure: undefined,
    };
  },
};

/** The head's dropout probability: the first of its config.json fields that is set (null counts as unset), else 0.1. */
export function headDropout(head: ClassificationHead, config: ConfigReader): number {
  for (const field of head.dropout.fields) {
    const v = config.obj[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !(v >= 0 && v < 1)) throw new SbertError("ERR_CONFIG", `${config.file}: field '${field}' must be a probability in [0, 1), got ${JSON.stringify(v)}`, { op: config.op });
    return v;
  }
  return 0.1;
}

/** Keyed by model_type; test/native/schemas.test.ts checks that every architecture the addon runs has one. */
export const CLASSIFICATION_HEADS: Readonly<Record<string, ClassificationHead>> = {
  bert: {
    modelClass: "BertForSequenceClassification",
    prefix: "bert",
    pooling: "cls",
    dense: { key: "bert.pooler.dense", activation: "tanh", bias: true },
    out: { key: "classifier" },
    dropout: { fields: ["classifier_dropout", "hidden_dropout_prob"] },
  },
  roberta: robertaLike("RobertaForSequenceClassification", "roberta"),
  "xlm-roberta": robertaLike("XLMRobertaForSequenceClassification", "roberta"),
  mpnet: robertaLike("MPNetForSequenceClassification", "mpnet"),
  distilbert: {
    modelClass: "DistilBertForSequenceClassification",
    prefix: "distilbert",
    pooling: "cls",
    dense: { key: "pre_classifier", activation: "relu", bias: true },
    out: { key: "classifier" },
    dropout: { fields: ["seq_classif_dropout"] },
  },
  modernbert: MODERNBERT,
};

/**
 * Architectures the addon runs as encoders but not as cross-encoders: decoders' `*ForSequenceClassification` score the
 * last token that is not the pad token by id (not by attention mask), which their tokenizers also append as end of
 * text. Listed so that the schema test tells a missing head from one left out on purpose.
 */
export const WITHOUT_CLASSIFICATION_HEAD: readonly string[] = ["qwen3", "gemma3_text"];
