#include "ops/attention.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <limits>

#include "kernels/kernels.h"
#include "ops/pointwise.h"

namespace sbert::ops {

namespace {

// Rows of one token apart by `row_stride` floats, tokens of a padded batch one after the other: the layout the
// kernel walks.
bool kernel_layout(const at::Tensor& t, int64_t row_stride, const Tokens& tokens) {
  if (t.scalar_type() != at::kFloat || t.stride(-1) != 1 || t.stride(-2) != row_stride) return false;
  return tokens.packed() ? t.dim() == 2 : t.dim() == 3 && t.stride(0) == tokens.seq_len() * row_stride;
}

// sbert-node's kernel: per (sentence, head) in cache, without a [B, heads, L, L] tensor; undefined when it does
// not apply.
at::Tensor kernel_attention(const Context& ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const Tokens& tokens,
                            const AttentionSpec& spec) {
  const int64_t heads = spec.heads;
  const at::Tensor& rel_bias = spec.rel_bias;
  const int64_t width = q.size(-1), row_stride = q.stride(-2);
  if (!ctx.own_kernels || q.scalar_type() != at::kFloat) return {};
  if (!kernel_layout(q, row_stride, tokens) || !kernel_layout(k, row_stride, tokens) || !kernel_layout(v, row_stride, tokens)) {
    // Projections changed after their product (normalised, rotated) no longer share its rows: side by side again
    // in one pass, which costs far less than the scores.
    if (q.dim() != k.dim() || q.dim() != v.dim() || q.dim() != (tokens.packed() ? 2 : 3)) return {};
    auto qkv = at::cat({q, k, v}, -1);
    const int64_t kv_width = k.size(-1);
    return kernel_attention(ctx, qkv.narrow(-1, 0, width), qkv.narrow(-1, width, kv_width), qkv.narrow(-1, width + kv_width, kv_width), tokens, spec);
  }
  const int64_t batch = tokens.batch(), seq_len = tokens.seq_len();
  auto mask = tokens.additive_mask().reshape({batch, seq_len}).contiguous();
  auto context = at::empty(q.sizes(), q.options().memory_format(at::MemoryFormat::Contiguous));
  kernels::AttentionShape shape{batch, seq_len, heads, width / heads, row_stride, width};
  shape.kv_heads = spec.kv_heads;
  shape.window_left = spec.window_left;
  shape.window_right = spec.window_right;
  // [heads, 2L - 1], contiguous float: the kernel's layout.
  const at::Tensor bias = rel_bias.defined() ? rel_bias.to(at::kFloat).contiguous() : at::Tensor();
  if (bias.defined()) shape.rel_bias = bias.data_ptr<float>();
  if (tokens.packed()) {
    shape.starts = tokens.starts().data_ptr<int64_t>();
    shape.lengths = tokens.lengths().data_ptr<int64_t>();
  }
  const int64_t items = batch * heads;
  // Items (sentence, head) split evenly over the call's parts.
  ctx.run_parts([&](int part, int parts) {
    kernels::attention(ctx.isa, q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), tokens.packed() ? nullptr : mask.data_ptr<float>(),
                       context.data_ptr<float>(), shape, items * part / parts, items * (part + 1) / parts);
  });
  return context;
}

// [1, heads, L, L]: rel_bias[h, j - i + L - 1] at (h, i, j).
at::Tensor relative_bias_matrix(const at::Tensor& rel_bias, int64_t seq_len) {
  auto positions = at::arange(seq_len, rel_bias.options().dtype(at::kLong));
  auto index = positions.unsqueeze(0) - positions.unsqueeze(1) + (seq_len - 1);
  return rel_bias.index_select(1, index.reshape({-1})).view({1, rel_bias.size(0), seq_len, seq_len});
}

// [L, L] bool: true where the band hides key j from query i.
at::Tensor outside_band(const AttentionSpec& spec, int64_t seq_len, const at::TensorOptions& options) {
  auto positions = at::arange(seq_len, options.dtype(at::kLong));
  auto offset = positions.unsqueeze(0) - positions.unsqueeze(1);  // [i, j] -> j - i
  auto outside = at::zeros({seq_len, seq_len}, options.dtype(at::kBool));
  if (spec.window_left >= 0) outside = outside.logical_or(offset < -spec.window_left);
  if (spec.window_right >= 0) outside = outside.logical_or(offset > spec.window_right);
  return outside;
}

}  // namespace

at::Tensor attention(const Context& ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const Tokens& tokens, const AttentionSpec& spec) {
  const bool inference = !ctx.train && !at::GradMode::is_enabled();
  if (inference && q.is_cpu()) {
    if (auto context = kernel_attention(ctx, q, k, v, tokens, spec); context.defined()) return context;
  }
  const int64_t heads = spec.heads, kv_heads = spec.kv_heads > 0 ? spec.kv_heads : heads;
  const int64_t batch = tokens.batch(), seq_len = tokens.seq_len(), width = q.size(-1), head_dim = width / heads;
  auto split_heads = [&](const at::Tensor& t, int64_t n) {
    auto h = (tokens.packed() ? tokens.pad(t) : t).view({batch, seq_len, n, head_dim}).transpose(1, 2);
    // Each key/value head serves heads / kv_heads query heads in a row.
    return n == heads ? h : h.repeat_interleave(heads / n, 1);
  };
  const bool banded = spec.window_left >= 0 || spec.window_right >= 0;
  auto scores = at::matmul(split_heads(q, heads), split_heads(k, kv_heads).transpose(-1, -2));
  at::Tensor probs;
  if (inference) {
    // Scale, bias, mask and softmax in place, so one [batch, heads, L, L] tensor is alive instead of four (for
    // 8 x 512 tokens of BERT-base, 100 MiB each).
    scores.div_(std::sqrt(static_cast<double>(head_dim)));
    if (spec.rel_bias.defined()) scores.add_(relative_bias_matrix(spec.rel_bias, seq_len));
    scores.add_(tokens.additive_mask());
    if (banded) scores.masked_fill_(outside_band(spec, seq_len, scores.options()), -std::numeric_limits<float>::infinity());
    probs = at::_softmax_out(scores, scores, -1, false);
  } else {
    scores = scores / std::sqrt(static_cast<double>(head_dim));
    if (spec.rel_bias.defined()) scores = scores + relative_bias_matrix(spec.rel_bias, seq_len);
    scores = scores + tokens.additive_mask();
    if (banded) scores = scores.masked_fill(outside_band(spec, seq_len, scores.options()), -std::numeric_limits<float>::infinity());
    probs = dropout(ctx, at::softmax(scores, -1), spec.dropout_p);
  }
  auto context = at::matmul(probs, split_heads(v, kv_heads)).transpose(1, 2).reshape({batch, seq_len, width});
  return tokens.packed() ? tokens.pack(context) : context;
}

}  // namespace sbert::ops
