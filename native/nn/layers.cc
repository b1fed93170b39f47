#include "nn/layers.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>

#include "errors.h"
#include "ops/pointwise.h"

namespace sbert::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias) {
  // Shape [out, in] as the checkpoint has it, in the memory layout its products read fastest on this CPU.
  weight = register_parameter("weight", ops::empty_linear_weight(out_features, in_features));
  if (with_bias) bias = register_parameter("bias", at::zeros({out_features}));
}

Linear::Linear(at::Tensor weight_, at::Tensor bias_) {
  weight = register_parameter("weight", std::move(weight_));
  if (bias_.defined()) bias = register_parameter("bias", std::move(bias_));
}

LoraFactor::LoraFactor(int64_t in_features, int64_t out_features) {
  weight = register_parameter("weight", at::zeros({out_features, in_features}));
}

at::Tensor Linear::forward(const ops::Context& ctx, const at::Tensor& x) const {
  auto y = ops::linear(ctx, {weights()}, precision, x, prepared).front();
  return has_lora() ? ops::add_lora(ctx, y, x, lora()) : y;
}

at::Tensor Linear::forward(const ops::Context& ctx, const at::Tensor& x, ops::Activation act) const {
  if (has_lora()) return ops::activation(ctx, act, forward(ctx, x));
  return ops::linear_activation(ctx, weights(), precision, act, x, prepared);
}

void Linear::add_lora(int64_t r, double scaling, double dropout, uint64_t seed) {
  if (has_lora()) fail(ErrorCode::Input, "the layer already has a LoRA adapter");
  const auto options = at::TensorOptions().dtype(at::kFloat).device(weight.device());
  lora_A = register_module("lora_A", std::make_shared<LoraFactor>(weight.size(1), r));
  lora_B = register_module("lora_B", std::make_shared<LoraFactor>(r, weight.size(0)));
  c10::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1)));
  lora_A->weight.set_data(at::empty({r, weight.size(1)}).uniform_(-bound, bound, gen).to(options));
  lora_B->weight.set_data(at::zeros({weight.size(0), r}, options));
  lora_scaling = scaling;
  lora_dropout = dropout;
}

void Linear::merge_lora() {
  if (!has_lora()) return;
  {
    c10::NoGradGuard no_grad;
    // In place: the weight keeps its layout, and its version bump drops the prepared forms made from it.
    weight.add_(at::matmul(lora_B->weight, lora_A->weight), lora_scaling);
  }
  unregister_module("lora_A");
  unregister_module("lora_B");
  lora_A.reset();
  lora_B.reset();
}

void Linear::reset_uniform(uint64_t seed) {
  c10::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1)));
  weight.copy_(at::empty(weight.sizes()).uniform_(-bound, bound, gen));
  if (bias.defined()) bias.copy_(at::empty(bias.sizes()).uniform_(-bound, bound, gen));
}

std::vector<at::Tensor> linear_group(const ops::Context& ctx, const std::vector<const Linear*>& layers, const at::Tensor& x,
                                     const ops::PreparedWeights& prepared) {
  std::vector<ops::LinearWeights> weights;
  for (const auto* l : layers) weights.push_back(l->weights());
  auto out = ops::linear(ctx, weights, layers.front()->precision, x, prepared);
  // Adapters run beside the fused product, each on its own layer's output.
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i]->has_lora()) out[i] = ops::add_lora(ctx, out[i], x, layers[i]->lora());
  }
  return out;
}

LayerNorm::LayerNorm(int64_t dim, double eps_, bool with_bias) : eps(eps_) {
  weight = register_parameter("weight", at::ones({dim}));
  if (with_bias) bias = register_parameter("bias", at::zeros({dim}));
}

at::Tensor LayerNorm::forward(const at::Tensor& x) const { return ops::layer_norm(x, weight, bias, eps); }

at::Tensor LayerNorm::forward(const ops::Context& ctx, const at::Tensor& x, const at::Tensor& residual, double dropout_p) const {
  return ops::residual_layer_norm(ctx, x, residual, weight, bias, eps, dropout_p);
}

RMSNorm::RMSNorm(int64_t dim, double eps_, bool unit_offset_) : eps(eps_), unit_offset(unit_offset_) {
  weight = register_parameter("weight", unit_offset ? at::zeros({dim}) : at::ones({dim}));
}

at::Tensor RMSNorm::forward(const at::Tensor& x) const { return ops::rms_norm(x, weight, eps, unit_offset); }

at::Tensor RMSNorm::forward_heads(const at::Tensor& x) const {
  const int64_t dim = weight.size(0);
  auto sizes = x.sizes().vec();
  sizes.back() = x.size(-1) / dim;
  sizes.push_back(dim);
  return forward(x.reshape(sizes)).reshape(x.sizes());
}

GatedMLP::GatedMLP(int64_t hidden, int64_t intermediate, ops::Activation act_) : act(act_) {
  gate_proj = register_module("gate_proj", std::make_shared<Linear>(hidden, intermediate, false));
  up_proj = register_module("up_proj", std::make_shared<Linear>(hidden, intermediate, false));
  down_proj = register_module("down_proj", std::make_shared<Linear>(intermediate, hidden, false));
}

at::Tensor GatedMLP::forward(const ops::Context& ctx, const at::Tensor& x) {
  const auto gate_up = linear_group(ctx, {gate_proj.get(), up_proj.get()}, x, gate_up_prepared_);
  return down_proj->forward(ctx, ops::activation(ctx, act, gate_up[0]) * gate_up[1]);
}

Embedding::Embedding(int64_t num, int64_t dim, std::optional<int64_t> padding_idx_) : padding_idx(padding_idx_) {
  weight = register_parameter("weight", at::empty({num, dim}));
}

// As torch.nn.Embedding: the padding row gets no gradient (decoders whose pad token is also their end-of-text
// token read it at real positions).
at::Tensor Embedding::forward(const at::Tensor& ids) const { return at::embedding(weight, ids, padding_idx.value_or(-1)); }

std::set<std::string> lora_parameters(const torch::nn::Module& root) {
  std::set<std::string> out;
  for (const auto& m : root.named_modules("", /*include_self=*/true)) {
    if (dynamic_cast<const LoraFactor*>(m.value().get()) == nullptr) continue;
    const std::string prefix = m.key().empty() ? "" : m.key() + ".";
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false)) out.insert(prefix + p.key());
  }
  return out;
}

void init_normal(torch::nn::Module& root, double std, uint64_t seed) {
  c10::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto normal = [&](at::Tensor& p) { p.copy_(at::empty(p.sizes(), at::kFloat).normal_(0.0, std, gen)); };
  for (const auto& m : root.modules(/*include_self=*/true)) {
    if (auto* l = dynamic_cast<Linear*>(m.get())) {
      normal(l->weight);
      if (l->bias.defined()) l->bias.zero_();
    } else if (auto* e = dynamic_cast<Embedding*>(m.get())) {
      normal(e->weight);
      if (e->padding_idx && *e->padding_idx >= 0 && *e->padding_idx < e->weight.size(0)) e->weight[*e->padding_idx].zero_();
    } else if (auto* n = dynamic_cast<LayerNorm*>(m.get())) {
      n->weight.fill_(1.0);
      if (n->bias.defined()) n->bias.zero_();
    } else if (auto* r = dynamic_cast<RMSNorm*>(m.get())) {
      r->weight.fill_(r->unit_offset ? 0.0 : 1.0);
    }
  }
}

void set_precision(torch::nn::Module& root, ops::Precision precision) {
  for (const auto& m : root.modules(/*include_self=*/true)) {
    if (auto* l = dynamic_cast<Linear*>(m.get())) l->precision = precision;
  }
}

std::set<std::string> no_decay_parameters(const torch::nn::Module& root) {
  std::set<std::string> out;
  for (const auto& m : root.named_modules("", /*include_self=*/true)) {
    if (dynamic_cast<const LayerNorm*>(m.value().get()) == nullptr) continue;
    const std::string prefix = m.key().empty() ? "" : m.key() + ".";
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false)) out.insert(prefix + p.key());
  }
  static const std::regex by_name("bias|layernorm|rmsnorm|(^|\\.)norm($|\\.)|_norm($|\\.)");
  for (const auto& p : root.named_parameters(/*recurse=*/true)) {
    std::string lower = p.key();
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::regex_search(lower, by_name)) out.insert(p.key());
  }
  return out;
}

}  // namespace sbert::nn
