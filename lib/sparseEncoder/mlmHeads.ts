/**
 * The prediction heads of Hugging Face's `*ForMaskedLM` models, by config.json's model_type: where each keeps its
 * encoder and the checkpoint keys of its layers. Every one of them is dense → activation → LayerNorm → decoder to
 * the vocabulary, which the native `mlm_head` module runs under its own names (dense, layer_norm, decoder); this
 * table only maps the checkpoint keys onto them and reads the head's choices (activation, eps, which layers have a
 * bias) from config.json.
 */
import { ConfigReader } from "../io/files.js";

export interface MaskedLmHeadKeys {
  /** config.json's `architectures` entry, e.g. "BertForMaskedLM" */
  modelClass: string;
  /** Hugging Face's base_model_prefix: the encoder's keys are `${prefix}.…` */
  prefix: string;
  /** The hidden → hidden layer. */
  dense: string;
  /** The LayerNorm after the activation. */
  layerNorm: string;
  /**
   * The hidden → vocabulary layer (`${decoder}.weight`, `${decoder}.bias`). Where config.json ties the word
   * embeddings (the default) and the checkpoint stores no weight of its own, its weight is the word embeddings'.
   */
  decoder: string;
  /** The head's own bias, which a tied decoder's bias is (undefined where the decoder's bias is the only one). */
  tiedBias?: string;
  /** The word embeddings' key under the prefix, which a tied decoder reads. */
  wordEmbeddings: string;
  /** The activation (a native activation name) and the LayerNorm's eps, as config.json sets them. */
  activation: (config: ConfigReader) => string;
  layerNormEps: (config: ConfigReader) => number;
  /** Which layers have a bias, as config.json sets it (every one where this is left out). */
  biases?: (config: ConfigReader) => MaskedLmHeadBiases;
}

export interface MaskedLmHeadBiases {
  dense: boolean;
  layerNorm: boolean;
  decoder: boolean;
}

const lmHead = (modelClass: string, prefix: string): MaskedLmHeadKeys => ({
  modelClass,
  prefix,
  dense: "lm_head.dense",
  layerNorm: "lm_head.layer_norm",
  decoder: "lm_head.decoder",
  tiedBias: "lm_head.bias",
  wordEmbeddings: "embeddings.word_embeddings.weight",
  // RobertaLMHead and MPNetLMHead apply gelu whatever hidden_act says.
  activation: () => "gelu",
  layerNormEps: (c) => c.number("layer_norm_eps", 1e-12),
});

/** Keyed by model_type. */
export const MASKED_LM_HEADS: Readonly<Record<string, MaskedLmHeadKeys>> = {
  bert: {
    modelClass: "BertForMaskedLM",
    prefix: "bert",
    dense: "cls.predictions.transform.dense",
    layerNorm: "cls.predictions.transform.LayerNorm",
    decoder: "cls.predictions.decoder",
    tiedBias: "cls.predictions.bias",
    wordEmbeddings: "embeddings.word_embeddings.weight",
    activation: (c) => c.string("hidden_act", "gelu"),
    layerNormEps: (c) => c.number("layer_norm_eps", 1e-12),
  },
  distilbert: {
    modelClass: "DistilBertForMaskedLM",
    prefix: "distilbert",
    dense: "vocab_transform",
    layerNorm: "vocab_layer_norm",
    decoder: "vocab_projector",
    wordEmbeddings: "embeddings.word_embeddings.weight",
    activation: (c) => c.string("activation", "gelu"),
    // DistilBertForMaskedLM's vocab_layer_norm has a fixed eps.
    layerNormEps: () => 1e-12,
  },
  roberta: lmHead("RobertaForMaskedLM", "roberta"),
  "xlm-roberta": lmHead("XLMRobertaForMaskedLM", "roberta"),
  mpnet: lmHead("MPNetForMaskedLM", "mpnet"),
  // ModernBertPredictionHead (head.dense, head.norm) then the decoder, each bias where config.json asks for it. Its
  // sparse_prediction only drops unmasked positions when labels are given, which encoding never passes.
  modernbert: {
    modelClass: "ModernBertForMaskedLM",
    prefix: "model",
    dense: "head.dense",
    layerNorm: "head.norm",
    decoder: "decoder",
    wordEmbeddings: "embeddings.tok_embeddings.weight",
    activation: (c) => c.string("classifier_activation", "gelu"),
    layerNormEps: (c) => c.number("norm_eps", 1e-5),
    biases: (c) => ({ dense: c.bool("classifier_bias", false), layerNorm: c.bool("norm_bias", false), decoder: c.bool("decoder_bias", true) }),
  },
};
