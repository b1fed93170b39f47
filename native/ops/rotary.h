// Rotary position embeddings (RoFormer's, in the layout Hugging Face's Llama-family, Qwen, Gemma and ModernBERT
// models apply them: each head's two halves rotated together, "rotate_half").
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sbert::ops {

// cos and sin of every token's angles, [.., head_dim] for positions [..]: angle k of position p is
// p / theta^(2k / head_dim), the head's first and second halves alike. Computed in float32 in the order Hugging
// Face computes them, so the rotation matches it bit for bit where libtorch's cos and sin do.
struct RotaryTables {
  at::Tensor cos, sin;
};
RotaryTables rotary_tables(const at::Tensor& positions, double theta, int64_t head_dim);

// x [.., heads * head_dim] (rows as positions' shape, then the heads side by side), each head rotated by its
// token's angles: x cos + rotate_half(x) sin, rotate_half(x) = (-x2, x1) of its halves x1, x2.
at::Tensor apply_rotary(const at::Tensor& x, const RotaryTables& tables, int64_t head_dim);

}  // namespace sbert::ops
