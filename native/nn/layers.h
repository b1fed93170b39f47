// The layers architectures are built from, as torch::nn::Modules so that a model's named_parameters() spell its
// checkpoint keys. Each holds its parameters and hands the work to the op layer (ops/), which decides how it runs.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ops/context.h"
#include "ops/linear.h"
#include "ops/pointwise.h"

namespace sbert::nn {

// One factor of a LoRA update, a bias-free linear layer of its own (peft's lora_A or lora_B) so that its
// parameter is spelled `<layer>.lora_A.weight` as peft saves it.
class LoraFactor : public torch::nn::Module {
 public:
  LoraFactor(int64_t in_features, int64_t out_features);
  at::Tensor weight;  // [out, in]
};

class Linear : public torch::nn::Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  // A layer over existing tensors, registered as its own parameters: a weight shared with another module (tied).
  Linear(at::Tensor weight, at::Tensor bias);
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x) const;
  // act(forward(x)), for a layer whose output is the input of another Linear only: at bf16 precision it may come
  // back in bf16 (ops::linear_activation), which Linear::forward takes.
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x, ops::Activation act) const;
  // torch.nn.Linear's default initialisation: uniform in ±1/sqrt(in_features), weight and bias.
  void reset_uniform(uint64_t seed);
  ops::LinearWeights weights() const { return {weight, bias}; }
  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out], undefined when the layer has none
  ops::Precision precision = ops::Precision::Float32;
  // Its weights in the forms inference runs them in.
  ops::PreparedWeights prepared;

  // peft's LoRA: y = W x + b + lora_B(lora_A(dropout(x))) * scaling, with A [r, in] drawn as torch.nn.Linear's
  // default (kaiming-uniform, a = sqrt(5)) from `seed` and B [out, r] zero, so the layer starts unchanged.
  void add_lora(int64_t r, double scaling, double dropout, uint64_t seed);
  // W += scaling * B A; the adapter is then removed.
  void merge_lora();
  bool has_lora() const { return lora_A != nullptr; }
  ops::LoraWeights lora() const { return {lora_A->weight, lora_B->weight, lora_scaling, lora_dropout}; }
  std::shared_ptr<LoraFactor> lora_A, lora_B;
  double lora_scaling = 0;
  double lora_dropout = 0;
};

// Several linear layers over the same input (Q, K and V), as if each ran alone; at inference one product over
// their weights side by side, prepared in `prepared` (the caller's, one per group). Precision: the first layer's.
std::vector<at::Tensor> linear_group(const ops::Context& ctx, const std::vector<const Linear*>& layers, const at::Tensor& x,
                                     const ops::PreparedWeights& prepared);

class LayerNorm : public torch::nn::Module {
 public:
  // bias false: a scale only, as torch.nn.LayerNorm(bias=False) (ModernBERT).
  LayerNorm(int64_t dim, double eps, bool bias = true);
  at::Tensor forward(const at::Tensor& x) const;
  // LayerNorm(dropout(x) + residual), the shape of post-norm encoders' sublayer outputs.
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x, const at::Tensor& residual, double dropout_p) const;
  at::Tensor weight;
  at::Tensor bias;  // undefined without one
  double eps;
};

class RMSNorm : public torch::nn::Module {
 public:
  // unit_offset: the weight is stored as an offset from one (Gemma), and initialised to zero.
  RMSNorm(int64_t dim, double eps, bool unit_offset = false);
  at::Tensor forward(const at::Tensor& x) const;
  // x [.., heads * dim]: each head's values normalised on their own (decoders' q_norm / k_norm).
  at::Tensor forward_heads(const at::Tensor& x) const;
  at::Tensor weight;
  double eps;
  bool unit_offset;
};

// The gated MLP of decoders (Llama's, Qwen's, Gemma's; Hugging Face's `gate_proj`, `up_proj`, `down_proj`, no
// biases): down(act(gate(x)) * up(x)), gate and up as one product at inference.
class GatedMLP : public torch::nn::Module {
 public:
  GatedMLP(int64_t hidden, int64_t intermediate, ops::Activation act);
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x);
  const ops::Activation act;
  std::shared_ptr<Linear> gate_proj, up_proj, down_proj;

 private:
  ops::PreparedWeights gate_up_prepared_;
};

class Embedding : public torch::nn::Module {
 public:
  // padding_idx: the row initialised to zero (as torch.nn.Embedding's padding_idx), if any.
  Embedding(int64_t num, int64_t dim, std::optional<int64_t> padding_idx = std::nullopt);
  at::Tensor forward(const at::Tensor& ids) const;
  at::Tensor weight;
  std::optional<int64_t> padding_idx;
};

// Whether a parameter of root (named as named_parameters() spells it) belongs to a LoRA adapter.
std::set<std::string> lora_parameters(const torch::nn::Module& root);

// Hugging Face's initialisation of a model, by layer type: linear and embedding weights normal(0, std), biases
// zero, embedding padding rows zero, LayerNorm weight one and bias zero, RMSNorm weight one (zero with a unit
// offset).
void init_normal(torch::nn::Module& root, double std, uint64_t seed);

// Inference precision of every linear layer under root.
void set_precision(torch::nn::Module& root, ops::Precision precision);

// The parameters under root (names as named_parameters() spells them) that training does not decay, as Hugging
// Face's Trainer (which sentence-transformers trains with) groups them: every parameter of a normalisation layer,
// and every parameter whose lower-cased name holds "bias", "layernorm", "rmsnorm" or a "norm" component.
std::set<std::string> no_decay_parameters(const torch::nn::Module& root);

}  // namespace sbert::nn
