// The modules of sentence-transformers' SparseEncoder (SPLADE): a masked-language-model head that turns each
// token's hidden state into a score per vocabulary entry, and SpladePooling, which makes those scores one sparse
// vector per text. Each holds its parameters under module-local names (the Hugging Face keys of each
// architecture's *ForMaskedLM head are mapped onto them by TypeScript), and forward holds the math only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "modules.h"
#include "nn/layers.h"

namespace sbert {

// Which of the masked-LM head's layers have a bias (ModernBERT's config.json may leave each out).
struct MaskedLmHeadBiases {
  bool dense = true, layer_norm = true, decoder = true;
};

// token_embeddings [B, L, H] <- decoder(layer_norm(act(dense(token_embeddings)))) [B, L, vocab], the prediction
// head of BertForMaskedLM (cls.predictions), DistilBertForMaskedLM (vocab_transform, vocab_layer_norm,
// vocab_projector), RobertaForMaskedLM (lm_head) and ModernBertForMaskedLM (head.dense, head.norm, decoder). Keys
// dense.{weight,bias}, layer_norm.{weight,bias}, decoder.{weight,bias}, each bias only where `biases` has it; the
// decoder's weight is the word-embedding matrix where the checkpoint ties them.
class MaskedLmHeadModule : public SentenceModule {
 public:
  MaskedLmHeadModule(int64_t hidden_size, int64_t vocab_size, ops::Activation activation, double layer_norm_eps, MaskedLmHeadBiases biases = {});
  const char* kind() const override { return "mlm_head"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // Hugging Face's initialisation with initializer_range `std` 0.02 (normal weights, zero biases, unit norms).
  void init_weights(uint64_t seed) override;
  void set_precision(ops::Precision precision) override { nn::set_precision(*this, precision); }
  // The decoder's weight becomes `embeddings` itself (the encoder's word embeddings), as transformers ties them:
  // training then updates one tensor through both uses.
  void tie_decoder(const at::Tensor& embeddings);
  std::shared_ptr<nn::Linear> dense, decoder;
  std::shared_ptr<nn::LayerNorm> layer_norm;
  const ops::Activation activation;
};

// sentence-transformers' MLMTransformer as one module of a pipeline: the encoder, then its masked-LM head
// (token_embeddings <- the head's scores over the vocabulary). Both are shared with their own handles, which save and
// load them.
class MlmTransformerModule : public SentenceModule {
 public:
  // `tied_key`: the encoder parameter the head's decoder weight is tied to, when the checkpoint ties them and the
  // head holds the same values (empty: not tied).
  MlmTransformerModule(std::shared_ptr<SentenceModule> transformer, std::shared_ptr<SentenceModule> head, const std::string& tied_key = "");
  const char* kind() const override { return "mlm_transformer"; }
  void forward(const ops::Context& ctx, Features& features) override;
  void set_precision(ops::Precision precision) override;
  void move_to(const at::Device& device) override;
  const std::shared_ptr<SentenceModule> transformer, head;
};

// sentence_embedding [B, vocab] <- weight where the text holds the token (its attention mask 1), else 0; times the
// sentence embedding a module before it left, if any. sentence-transformers' SparseStaticEmbedding (IDF-like weights
// for inference-free query encoders). Key `weight` [vocab].
class SparseStaticEmbeddingModule : public SentenceModule {
 public:
  explicit SparseStaticEmbeddingModule(int64_t vocab_size);
  const char* kind() const override { return "sparse_static_embedding"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // Every token weighs 1, as sentence-transformers starts one without weights.
  void init_weights(uint64_t seed) override;
  at::Tensor weight;
};

enum class SpladeStrategy { Max, Sum };
enum class SpladeActivation { Relu, Log1pRelu };

SpladeStrategy parse_splade_strategy(const std::string& name);
SpladeActivation parse_splade_activation(const std::string& name);
// Each enum's names as sentence-transformers' SpladePooling config spells them, in the enum's order.
const std::vector<std::string>& splade_strategy_names();
const std::vector<std::string>& splade_activation_names();

// sentence_embedding [B, vocab] <- the max (or sum) over each text's real tokens of log1p(relu(score)), with a
// second log1p for "log1p_relu"; padding counts as a score of 0, so every value is >= 0.
class SpladePoolingModule : public SentenceModule {
 public:
  SpladePoolingModule(SpladeStrategy strategy, SpladeActivation activation) : strategy(strategy), activation(activation) {}
  const char* kind() const override { return "splade_pooling"; }
  void forward(const ops::Context& ctx, Features& features) override;
  const SpladeStrategy strategy;
  const SpladeActivation activation;
};

}  // namespace sbert
