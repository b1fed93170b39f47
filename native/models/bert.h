// BERT's modules, named after Hugging Face's (BertEmbeddings, BertSelfAttention, ... BertModel). RoBERTa-family
// encoders are BERT's encoder under other embeddings, so roberta.cc builds on these.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/encoder.h"
#include "nn/layers.h"
#include "ops/packing.h"
#include "ops/pointwise.h"

namespace sbert::bert {

struct Config {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  ops::Activation hidden_act = ops::Activation::GeluErf;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t pad_token_id = 0;
  double initializer_range = 0.02;

  static Config read(const ConfigReader& config);
};

class BertEmbeddings : public torch::nn::Module {
 public:
  // position_padding: the position row torch initialises to zero (RoBERTa's padding_idx), if any.
  explicit BertEmbeddings(const Config& c, std::optional<int64_t> position_padding = std::nullopt);
  // ids, types and positions of the tokens (any shape, the same for all three); returns their shape with H appended.
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& ids, const at::Tensor& types, const at::Tensor& positions);
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> layer_norm;
  double dropout;
};

class BertSelfAttention : public torch::nn::Module {
 public:
  explicit BertSelfAttention(const Config& c);
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens);
  std::shared_ptr<nn::Linear> query, key, value;
  int64_t heads;
  double dropout;

 private:
  ops::PreparedWeights qkv_prepared_;  // Q, K and V side by side, as inference runs them
};

// Dense + dropout + residual LayerNorm: the shape of both `attention.output` (BertSelfOutput) and `output`
// (BertOutput).
class BertSelfOutput : public torch::nn::Module {
 public:
  BertSelfOutput(int64_t in, int64_t out, double eps, double dropout);
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const at::Tensor& residual);
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> layer_norm;
  double dropout;
};
using BertOutput = BertSelfOutput;

class BertAttention : public torch::nn::Module {
 public:
  explicit BertAttention(const Config& c);
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens);
  std::shared_ptr<BertSelfAttention> self_attention;  // key "self"
  std::shared_ptr<BertSelfOutput> output;
};

// act(dense(hidden)), the input of the layer's output dense only (so in bf16 it may stay bf16: nn::Linear).
class BertIntermediate : public torch::nn::Module {
 public:
  BertIntermediate(int64_t in, int64_t out, ops::Activation act);
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden);
  std::shared_ptr<nn::Linear> dense;
  ops::Activation act;
};

class BertLayer : public torch::nn::Module {
 public:
  explicit BertLayer(const Config& c);
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens);
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertOutput> output;
};

class BertEncoder : public torch::nn::Module {
 public:
  explicit BertEncoder(const Config& c);
  // With `states`, the input and each layer's output, as [B, L, H].
  at::Tensor forward(const ops::Context& ctx, at::Tensor hidden, const ops::Tokens& tokens, std::vector<at::Tensor>* states = nullptr);
  std::shared_ptr<torch::nn::Module> layer;  // children "0", "1", ... so that keys read `layer.{i}.…`
  std::vector<std::shared_ptr<BertLayer>> layers;
};

class BertModel : public Encoder {
 public:
  explicit BertModel(const Config& c);
  at::Tensor forward(const ops::Context& ctx, const EncoderInput& input, std::vector<at::Tensor>* hidden_states = nullptr) override;
  void init_weights(uint64_t seed) override;
  EncoderInfo info() const override;
  const Config config;
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;
};

}  // namespace sbert::bert
