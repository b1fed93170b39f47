// Per-element and per-row ops: activations, dropout, LayerNorm (alone and fused with the residual add that
// precedes it in post-norm encoders).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "ops/context.h"

namespace sbert::ops {

enum class Activation { GeluErf, GeluTanh, Relu, Silu, Tanh, Sigmoid, Identity };

// Accepts Hugging Face `hidden_act` names; throws a Config error naming `field` (as the message should start,
// e.g. "config.json: field 'hidden_act'") for anything else.
Activation parse_activation(const std::string& name, const std::string& field = "hidden_act");
// The names parse_activation accepts, for messages and for TypeScript.
const char* activation_names();
const std::vector<std::string>& activation_name_list();

// act(x). At inference the exact GELU runs in place on sbert-node's kernel, split over the call's parts.
at::Tensor activation(const Context& ctx, Activation act, const at::Tensor& x);

// x (float32) rounded to bf16 (x already bf16: as it is), and bf16 widened to float32: bf16 inference's activations
// around each product.
// On CPU with sbert-node's kernels, split over the call's parts (libtorch's conversions ran on one thread, ~9% of
// MiniLM's bf16 batch-32 encode on an AVX-512 EPYC); the same bits as libtorch's for every number (NaN aside).
at::Tensor to_bf16(const Context& ctx, const at::Tensor& x);
at::Tensor from_bf16(const Context& ctx, const at::Tensor& x);

// Training's dropout (outside a training step, the identity): each element zeroed with probability p, the others
// scaled by 1 / (1 - p), as x * noise (so autograd saves the noise, as for libtorch's dropout). On CPU float32 with
// sbert-node's kernels the noise comes from kernels::dropout_noise, keyed by one draw from the context's generator:
// its seed, a saved state and the gradient cache's replay of a forward pass govern it as they govern libtorch's
// bernoulli_, which it replaces (that op draws element by element from the locked generator: about a tenth of a
// MiniLM training step). Elsewhere libtorch's dropout.
at::Tensor dropout(const Context& ctx, const at::Tensor& x, double p);
// The same noise whatever the context says about training (the same bits on every ISA: an integer hash).
at::Tensor train_dropout(const at::Tensor& x, double p, const at::Generator& generator, kernels::Isa isa);

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// RMSNorm over the last dimension, in float32 as Hugging Face computes it: x / sqrt(mean(x²) + eps), times weight
// (Llama, Qwen), or times 1 + weight with unit_offset (Gemma, whose weights are stored as offsets from one).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool unit_offset);

// LayerNorm(dropout(x) + residual). At inference, the add and the norm in one pass per row on sbert-node's
// kernel, in place in x, rows split over the call's parts.
at::Tensor residual_layer_norm(const Context& ctx, const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                               const at::Tensor& bias, double eps, double dropout_p);

}  // namespace sbert::ops
