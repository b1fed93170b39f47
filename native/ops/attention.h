// Scaled dot-product self-attention over a batch's tokens (ops::Tokens): per sentence and head,
// softmax(q kᵀ / sqrt(d) + position bias + mask) v, with dropout on the probabilities in training.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "ops/context.h"
#include "ops/packing.h"

namespace sbert::ops {

// q, k, v: the tokens' projections as the layers hold them ([T, H] packed rows or [B, L, H]; views into one
// product are fine), H = heads * head_dim. rel_bias, optional: [heads, 2L - 1], added to the score of query
// position i and key position j as rel_bias[h, j - i + L - 1] (relative position bias). Returns each token's
// context, shaped as q.
at::Tensor attention(const Context& ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const Tokens& tokens, int64_t heads,
                     const at::Tensor& rel_bias, double dropout_p);

}  // namespace sbert::ops
