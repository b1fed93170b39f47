// Scaled dot-product self-attention over a batch's tokens (ops::Tokens): per sentence and head,
// softmax(q kᵀ / sqrt(d) + position bias + mask) v, with dropout on the probabilities in training.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "ops/context.h"
#include "ops/packing.h"

namespace sbert::ops {

// Which keys each query reads, and how.
struct AttentionSpec {
  int64_t heads = 1;
  // Grouped-query attention: k and v hold this many heads, each read by heads / kv_heads query heads in turn
  // (query head h reads h / (heads / kv_heads)); 0: as many as the queries.
  int64_t kv_heads = 0;
  // Optional [heads, 2L - 1], added to the score of query position i and key position j as rel_bias[h, j - i +
  // L - 1] (relative position bias).
  at::Tensor rel_bias;
  // Query i attends key j only where i - window_left <= j <= i + window_right, positions as in the padded batch
  // (causal: window_right 0; a sliding window of w keys: window_left w - 1); negative: no bound.
  int64_t window_left = -1, window_right = -1;
  double dropout_p = 0;
};

// q [.., heads * head_dim], k and v [.., kv_heads * head_dim]: the tokens' projections as the layers hold them
// ([T, W] packed rows or [B, L, W]; views into one product are fine). Returns each token's context, shaped as q.
at::Tensor attention(const Context& ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const Tokens& tokens, const AttentionSpec& spec);

}  // namespace sbert::ops
