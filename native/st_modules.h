// The other sentence-transformers modules that published models use, beside Transformer, Pooling, Dense and
// Normalize: LayerNorm and Dropout on the sentence embedding, WeightedLayerPooling over the encoder's hidden
// states, WordEmbeddings and WordWeights (GloVe-style models), CNN and LSTM over token embeddings. Each holds its
// parameters under the names sentence-transformers' checkpoints give them, and forward holds the math only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "modules.h"
#include "nn/layers.h"

namespace sbert {

// sentence_embedding <- LayerNorm(sentence_embedding). Keys norm.weight, norm.bias (without bias: norm.weight only,
// as a classification head's norm in ModernBERT). sentence-transformers' LayerNorm module: torch's eps 1e-5, a bias.
class LayerNormModule : public SentenceModule {
 public:
  LayerNormModule(int64_t dimension, double eps, bool bias);
  const char* kind() const override { return "layer_norm"; }
  void forward(const ops::Context& ctx, Features& features) override;
  void init_weights(uint64_t seed) override;
  std::shared_ptr<nn::LayerNorm> norm;
};

// sentence_embedding <- the token embedding at each row's last position whose input id is not the pad id
// (last_non_pad_positions): what the score layer of a decoder's *ForSequenceClassification reads. pad_token_id < 0:
// config.json sets none, and as in transformers only a batch of one row can be scored.
class LastNonPadTokenModule : public SentenceModule {
 public:
  explicit LastNonPadTokenModule(int64_t pad_token_id) : pad_token_id(pad_token_id) {}
  const char* kind() const override { return "last_non_pad_token"; }
  void forward(const ops::Context& ctx, Features& features) override;
  const int64_t pad_token_id;
};

// sentence_embedding <- dropout(sentence_embedding, p) in training; the identity otherwise.
class DropoutModule : public SentenceModule {
 public:
  explicit DropoutModule(double p);
  const char* kind() const override { return "dropout"; }
  void forward(const ops::Context& ctx, Features& features) override;
  const double p;
};

// token_embeddings <- the mean of the hidden states from layer_start on (the embeddings' output counts as 0),
// weighted by layer_weights. Without hidden states (the Transformer's config.json does not ask for them) the
// features pass unchanged, as in sentence-transformers.
class WeightedLayerPoolingModule : public SentenceModule {
 public:
  WeightedLayerPoolingModule(int64_t num_hidden_layers, int64_t layer_start);
  const char* kind() const override { return "weighted_layer_pooling"; }
  void forward(const ops::Context& ctx, Features& features) override;
  void init_weights(uint64_t seed) override;
  const int64_t num_hidden_layers, layer_start;
  at::Tensor layer_weights;  // [num_hidden_layers + 1 - layer_start]
};

// token_embeddings <- emb_layer(input_ids), padding included (the padding id's row). The matrix learns only with
// update_embeddings.
class WordEmbeddingsModule : public SentenceModule {
 public:
  WordEmbeddingsModule(int64_t num_embeddings, int64_t dimension, bool update_embeddings);
  const char* kind() const override { return "word_embeddings"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // Zeros; the matrix normally comes with the module.
  void init_weights(uint64_t seed) override;
  std::shared_ptr<nn::Embedding> emb_layer;
};

// Scales each token's embedding by its word's weight (emb_layer, one column) and records each text's sum of
// weights over its real tokens, which Pooling's mean modes then divide by instead of the token count.
class WordWeightsModule : public SentenceModule {
 public:
  explicit WordWeightsModule(int64_t vocab_size);
  const char* kind() const override { return "word_weights"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // Every word weighs 1; the weights normally come with the module.
  void init_weights(uint64_t seed) override;
  std::shared_ptr<nn::Embedding> emb_layer;
};

// One 1-d convolution over a sequence, zero-padded by (kernel_size - 1) / 2 on each side (so odd kernels keep
// the length), as torch.nn.Conv1d with stride 1. Keys weight [out, in, kernel_size], bias [out].
class Conv1d : public torch::nn::Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size);
  // x: [B, in, L] -> [B, out, L]
  at::Tensor forward(const at::Tensor& x) const;
  // torch.nn.Conv1d's default initialisation: uniform in ±1/sqrt(in * kernel_size), weight and bias.
  void reset_uniform(at::Generator& gen);
  at::Tensor weight, bias;
  const int64_t padding;
};

// token_embeddings <- the convolutions' outputs side by side ([B, L, out_channels * kernel sizes]). As in
// sentence-transformers, the convolutions near a text's end read what the module before left at the padding.
class CnnModule : public SentenceModule {
 public:
  CnnModule(int64_t in_dimension, int64_t out_channels, std::vector<int64_t> kernel_sizes);
  const char* kind() const override { return "cnn"; }
  void forward(const ops::Context& ctx, Features& features) override;
  void init_weights(uint64_t seed) override;
  std::vector<std::shared_ptr<Conv1d>> convs;
};

// A stacked, optionally bidirectional LSTM as torch.nn.LSTM holds it (keys weight_ih_l{k}[_reverse], weight_hh_l{k},
// bias_ih_l{k}, bias_hh_l{k}), run over each text's real tokens only.
class Lstm : public torch::nn::Module {
 public:
  Lstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, double dropout, bool bidirectional);
  // x: [B, L, input_size], lengths: [B] int64 on the CPU, each in [1, L] -> [B, L, hidden_size * directions],
  // zero after each text's length. Between layers, training's dropout.
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x, const at::Tensor& lengths) const;
  // torch.nn.LSTM's default initialisation: every parameter uniform in ±1/sqrt(hidden_size).
  void reset_uniform(at::Generator& gen);
  const int64_t hidden_size, num_layers;
  const double dropout;
  const bool bidirectional;

 private:
  std::vector<at::Tensor> layer_params(int64_t layer) const;
};

// token_embeddings <- the LSTM's outputs. Each text's length is its attention mask's count (at least 1).
class LstmModule : public SentenceModule {
 public:
  LstmModule(int64_t embedding_dimension, int64_t hidden_dim, int64_t num_layers, double dropout, bool bidirectional);
  const char* kind() const override { return "lstm"; }
  void forward(const ops::Context& ctx, Features& features) override;
  void init_weights(uint64_t seed) override;
  std::shared_ptr<Lstm> encoder;
};

// sentence_embedding <- the mean of each text's token vectors over its real tokens (torch.nn.EmbeddingBag in mean
// mode, on the ids the attention mask keeps, one bag per text); a text without tokens gets zeros. Key
// embedding.weight, which always learns.
class StaticEmbeddingModule : public SentenceModule {
 public:
  StaticEmbeddingModule(int64_t num_embeddings, int64_t dimension);
  const char* kind() const override { return "static_embedding"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // torch.nn.EmbeddingBag's initialisation: normal(0, 1), drawn from a CPU generator seeded with `seed` (what
  // torch.manual_seed(seed) followed by constructing the EmbeddingBag draws).
  void init_weights(uint64_t seed) override;
  std::shared_ptr<nn::Embedding> embedding;
};

// Sends each batch through one of several module lists, chosen by the batch's route (Features::route, else the
// default route), as sentence-transformers' Router does with the task its preprocessing resolved. The lists are
// registered as sub_modules.<route>.<i>, the keys Python's Router gives their weights; the modules themselves are
// shared with their own handles, which save and load them.
class RouterModule : public SentenceModule {
 public:
  RouterModule(std::vector<std::pair<std::string, ModuleList>> routes, std::string default_route);
  const char* kind() const override { return "router"; }
  void forward(const ops::Context& ctx, Features& features) override;
  void set_precision(ops::Precision precision) override;
  void move_to(const at::Device& device) override;
  const std::vector<std::pair<std::string, ModuleList>> routes;
  const std::string default_route;  // empty: a batch without a route is refused
};

}  // namespace sbert
