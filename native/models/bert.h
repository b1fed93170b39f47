// BERT encoder in plain libtorch, one small module per Hugging Face submodule so that named_parameters()
// yields the checkpoint keys (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`, ...).
// forward() returns the last hidden states; pooling lives in pooling.h.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sbert {

enum class Activation { GeluErf, GeluTanh, Relu, Silu, Tanh, Sigmoid, Identity };

// Accepts Hugging Face `hidden_act` names; throws a Config error for anything else.
Activation parse_hidden_act(const std::string& name);
at::Tensor apply_activation(Activation act, const at::Tensor& x);

// Dropout as training applies it: each element zeroed with probability p, the others scaled by 1 / (1 - p), as
// x * noise (so autograd saves the noise, as for libtorch's dropout). On CPU float32 with sbert-node's kernels the
// noise comes from kernels::dropout_noise, keyed by one draw from libtorch's default generator: manual_seed, a
// saved RNG state and the gradient cache's replay of a forward pass govern it as they govern libtorch's
// bernoulli_, which it replaces (that op draws element by element from the locked generator: about a tenth of
// a MiniLM training step here). Elsewhere libtorch's dropout.
at::Tensor train_dropout(const at::Tensor& x, double p);

struct BertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t pad_token_id = 0;
  double initializer_range = 0.02;

  void validate() const;
};

// How fp32 inference (no grad, eval mode, CPU) runs its products, process-wide (see set_linear_backend):
//  - Auto (the default): on CPUs with AVX2 and FMA, linear layers over few rows, attention, GELU and the
//    residual LayerNorm run on sbert-node's own kernels (kernels.h), larger linear layers on libtorch's BLAS
//    path; BLAS only elsewhere;
//  - Blas: libtorch's ops only (linear layers through BLAS, attention as matmul + softmax);
//  - OneDnn: linear layers through oneDNN, attention as Blas.
enum class LinearBackend { Auto, Blas, OneDnn };
void set_linear_backend(LinearBackend backend);
LinearBackend linear_backend();

// Inference precision of a model's linear layers: float32, or int8 weights (per-channel symmetric scales) with
// dynamically quantized activations: oneDNN's per-batch scales, or over few rows sbert-node's own kernel with
// one scale per row (kernels.h).
enum class LinearPrecision { Float32, Int8 };

class Linear : public torch::nn::Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  // Training or autograd: at::linear. Inference: the configured backend, with weights prepared once and
  // re-prepared whenever they change (tracked by the tensors' version counters).
  at::Tensor forward(const at::Tensor& x) const;
  // torch.nn.Linear's default initialisation: uniform in ±1/sqrt(in_features), weight and bias.
  void reset_uniform(uint64_t seed);
  at::Tensor weight;
  at::Tensor bias;  // undefined when the layer has none
  LinearPrecision precision = LinearPrecision::Float32;

 private:
  at::Tensor inference_forward(const at::Tensor& x) const;
  // Float32 inference through BLAS, split by output columns over the batch's team (team.h).
  at::Tensor split_forward(const at::Tensor& x) const;
  // Float32 inference over few rows on sbert-node's kernel, the weight packed once, split as split_forward.
  at::Tensor panel_forward(const at::Tensor& x) const;
  // The same in int8: the rows quantized once, then split as panel_forward.
  at::Tensor int8_panel_forward(const at::Tensor& x) const;
  // Prepared weights, keyed by the version of weight and bias they were made from.
  enum class Form { Panels, OneDnn, Int8, Int8Panels };
  struct Prepared {
    int64_t version = -1;
    at::Tensor panels;
    at::Tensor onednn_weight;
    c10::IValue int8_packed;
    at::Tensor int8_panels, int8_scales;  // int8 panels (kernels::pack_panels_int8), float32 scale per column
  };
  Prepared prepared(Form form) const;
  mutable std::mutex prepare_mutex_;
  mutable Prepared prepared_;
};

class LayerNorm : public torch::nn::Module {
 public:
  LayerNorm(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight;
  at::Tensor bias;
  double eps;
};

class Embedding : public torch::nn::Module {
 public:
  Embedding(int64_t num, int64_t dim);
  at::Tensor forward(const at::Tensor& ids) const;
  at::Tensor weight;
};

// The real (unpadded) tokens of a [B, L] batch, as rows of a [T, H] tensor: `index` holds their flat positions
// b * L + l in order, so a sentence's tokens are consecutive rows. Every per-token op runs on these rows only;
// attention runs per sentence on its rows (sbert-node's kernel), or scatters them back to [B, L, ...] (zeros
// where padded, which the additive mask hides as keys and nothing reads as queries).
struct Packing {
  at::Tensor index;            // [T] int64
  at::Tensor starts, lengths;  // [B] int64: each sentence's first row and number of rows
  int64_t batch = 0, seq_len = 0;
  // [T, W] -> [B, L, W], zero rows where padded.
  at::Tensor pad(const at::Tensor& rows) const;
  // [B, L, W] -> [T, W].
  at::Tensor pack(const at::Tensor& padded) const;
};

class BertEmbeddings : public torch::nn::Module {
 public:
  explicit BertEmbeddings(const BertConfig& c);
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);
  // Any shape of ids and types (packed: the real tokens, [T] each), positions broadcasting against them; returns
  // their shape with H appended.
  at::Tensor forward_rows(const at::Tensor& ids, const at::Tensor& types, const at::Tensor& positions);
  std::shared_ptr<Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<LayerNorm> layer_norm;
  double dropout;
};

class BertSelfAttention : public torch::nn::Module {
 public:
  explicit BertSelfAttention(const BertConfig& c);
  // additive_mask: [B, 1, 1, L], 0 where attended, the most negative float where padded. hidden is [B, L, H], or
  // [T, H] rows with `packing` (then so is the result).
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing = nullptr);
  std::shared_ptr<Linear> query, key, value;
  int64_t heads, head_dim;
  double dropout;

 private:
  // At inference the three projections run as one GEMM on concatenated weights (not a checkpoint key).
  std::shared_ptr<Linear> fused_qkv() const;
  mutable std::mutex fused_mutex_;
  mutable std::shared_ptr<Linear> fused_;
  mutable std::vector<int64_t> fused_versions_;
  // Inference on sbert-node's attention kernel (kernels.h); an undefined tensor when it does not apply.
  at::Tensor kernel_forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing);
  // Q, K and V side by side, [rows, 3H], for kernel_forward: over few rows from panels packed straight from the
  // three weights (no concatenated copy of them), else three BLAS products into one tensor.
  at::Tensor project_qkv(const at::Tensor& x2);
  std::vector<int64_t> qkv_versions() const;
  mutable at::Tensor qkv_panels_, qkv_bias_;
  mutable std::vector<int64_t> qkv_panel_versions_;
};

// Dense + dropout + residual LayerNorm: the shape of both `attention.output` and `output`.
class BertResidualOutput : public torch::nn::Module {
 public:
  BertResidualOutput(int64_t in, int64_t out, double eps, double dropout);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& residual);
  std::shared_ptr<Linear> dense;
  std::shared_ptr<LayerNorm> layer_norm;
  double dropout;
};

class BertAttention : public torch::nn::Module {
 public:
  explicit BertAttention(const BertConfig& c);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing = nullptr);
  std::shared_ptr<BertSelfAttention> self_attention;  // key "self"
  std::shared_ptr<BertResidualOutput> output;
};

class BertIntermediate : public torch::nn::Module {
 public:
  explicit BertIntermediate(const BertConfig& c);
  at::Tensor forward(const at::Tensor& hidden);
  std::shared_ptr<Linear> dense;
  Activation act;
};

class BertLayer : public torch::nn::Module {
 public:
  explicit BertLayer(const BertConfig& c);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing = nullptr);
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;
};

// Holds the layers as children "0", "1", ... so their keys read `layer.{i}.…`.
class BertLayerList : public torch::nn::Module {
 public:
  explicit BertLayerList(const BertConfig& c);
  std::vector<std::shared_ptr<BertLayer>> layers;
};

class BertEncoder : public torch::nn::Module {
 public:
  explicit BertEncoder(const BertConfig& c);
  at::Tensor forward(at::Tensor hidden, const at::Tensor& additive_mask, const Packing* packing = nullptr);
  std::shared_ptr<BertLayerList> layer;
};

class BertModel : public torch::nn::Module {
 public:
  explicit BertModel(const BertConfig& c);
  // input_ids, attention_mask, token_type_ids: [B, L] int64 on the model's device. Returns [B, L, H]. On CPU, a
  // batch with padding runs its layers on the real tokens only (Packing) and padded positions of the result are
  // zero; the real tokens' values are those of the padded computation.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids);
  // Hugging Face's initialisation: normal(0, initializer_range) weights, zero biases, unit LayerNorm, zero padding row.
  void init_weights(uint64_t seed);
  // Inference precision of every linear layer of the encoder.
  void set_precision(LinearPrecision precision);
  const BertConfig config;
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;
};

}  // namespace sbert
