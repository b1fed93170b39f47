/**
 * The classification heads of Hugging Face's `*ForSequenceClassification` models, by config.json's model_type: where
 * each keeps its encoder (the base model prefix) and the layers it puts on the pooled token. The encoders' heads are
 * first token (or the tokens' mean) → dense → activation → (LayerNorm) → out; the decoders' (transformers'
 * GenericForSequenceClassification) are the last token that is not the pad token → `score`, a linear layer without
 * bias. Dropout aside, which inference skips, the native Pooling, LastNonPadToken, Dense and LayerNorm modules run
 * them; this table only names their checkpoint keys and, where config.json chooses, reads its choices.
 */
import { SbertError } from "../errors.js";
import { ConfigReader } from "../io/files.js";
import type { DenseActivation } from "../models/Dense.js";

export interface ClassificationHead {
  /** config.json's `architectures` entry, e.g. "BertForSequenceClassification" */
  modelClass: string;
  /** Hugging Face's base_model_prefix: the encoder's keys are `${prefix}.…` */
  prefix: string;
  /**
   * What the head reads: the first token's embedding, the mean of the tokens' (attention mask), or the last token
   * whose input id is not config.json's pad_token_id (decoders; not the attention mask: their tokenizers may append
   * the pad token as end of text, which is then skipped).
   */
  pooling: "cls" | "mean" | "last_non_pad";
  /**
   * The hidden → hidden layer and its activation (BertPooler, RobertaClassificationHead.dense, pre_classifier);
   * none where the out layer reads the pooled token itself (decoders).
   */
  dense?: { key: string; activation: DenseActivation; bias: boolean };
  /** A LayerNorm after the activation (ModernBertPredictionHead.norm), if the head has one. */
  norm?: { key: string; eps: number; bias: boolean };
  /** The hidden → num_labels layer. */
  out: { key: string; bias: boolean };
  /**
   * Training's dropout in the head, as config.json sets it: before the out layer, and with `beforeDense` before the
   * dense layer too (RobertaClassificationHead). Inference skips it. None in decoders' heads.
   */
  dropout?: { fields: string[]; beforeDense?: boolean };
  /** With "last_non_pad" pooling: config.json's pad_token_id as transformers reads it; null where none is set. */
  padTokenId?: number | null;
  /** For heads whose shape config.json chooses: the head it describes (an ERR_CONFIG naming the field otherwise). */
  configure?: (config: ConfigReader) => ClassificationHead;
}

const robertaLike = (modelClass: string, prefix: string): ClassificationHead => ({
  modelClass,
  prefix,
  pooling: "cls",
  dense: { key: "classifier.dense", activation: "tanh", bias: true },
  out: { key: "classifier.out_proj", bias: true },
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
  out: { key: "classifier", bias: true },
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

/**
 * transformers' GenericForSequenceClassification on a decoder (Qwen3ForSequenceClassification,
 * Gemma3TextForSequenceClassification): the encoder under `model.`, `score` (no bias) on the last non-pad token.
 * `defaultPad` is the config class's pad_token_id where config.json has none.
 */
function decoderHead(modelClass: string, defaultPad: number | null): ClassificationHead {
  const head: ClassificationHead = {
    modelClass,
    prefix: "model",
    pooling: "last_non_pad",
    out: { key: "score", bias: false },
    padTokenId: defaultPad,
    configure: (c) => {
      const v = c.obj["pad_token_id"];
      if (v === undefined) return { ...head, configure: undefined };
      if (v !== null && (typeof v !== "number" || !Number.isInteger(v) || v < 0)) {
        throw new SbertError("ERR_CONFIG", `${c.file}: field 'pad_token_id' must be a non-negative integer or null, got ${JSON.stringify(v)}`, { op: c.op });
      }
      return { ...head, padTokenId: v, configure: undefined };
    },
  };
  return head;
}

/**
 * The head's dropout probability: the first of its config.json fields that is set (null counts as unset), else 0.1;
 * 0 for a head without dropout.
 */
export function headDropout(head: ClassificationHead, config: ConfigReader): number {
  if (!head.dropout) return 0;
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
    out: { key: "classifier", bias: true },
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
    out: { key: "classifier", bias: true },
    dropout: { fields: ["seq_classif_dropout"] },
  },
  modernbert: MODERNBERT,
  // The config classes' defaults: Qwen3Config sets no pad token, Gemma3TextConfig id 0.
  qwen3: decoderHead("Qwen3ForSequenceClassification", null),
  gemma3_text: decoderHead("Gemma3TextForSequenceClassification", 0),
};
