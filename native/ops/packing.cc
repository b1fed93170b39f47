#include "ops/packing.h"

#include <ATen/ATen.h>

#include <limits>

namespace sbert::ops {

Tokens::Tokens(const at::Tensor& attention_mask) : batch_(attention_mask.size(0)), seq_len_(attention_mask.size(1)) {
  additive_mask_ = (1.0 - attention_mask.to(at::kFloat).unsqueeze(1).unsqueeze(2)) * std::numeric_limits<float>::lowest();
  if (!attention_mask.device().is_cpu()) return;
  auto present = attention_mask.ne(0);
  auto index = present.reshape({-1}).nonzero().view({-1});
  if (index.numel() == 0 || index.numel() == batch_ * seq_len_) return;
  index_ = index;
  lengths_ = present.sum(1, /*keepdim=*/false, at::kLong);
  starts_ = lengths_.cumsum(0) - lengths_;
}

at::Tensor Tokens::take(const at::Tensor& per_token) const {
  if (!packed()) return per_token;
  auto sizes = per_token.sizes().vec();
  sizes.erase(sizes.begin());
  sizes[0] = batch_ * seq_len_;
  return per_token.reshape(sizes).index_select(0, index_);
}

at::Tensor Tokens::restore(const at::Tensor& rows) const { return packed() ? pad(rows) : rows; }

at::Tensor Tokens::pad(const at::Tensor& rows) const {
  const int64_t width = rows.size(-1);
  return at::zeros({batch_ * seq_len_, width}, rows.options()).index_copy(0, index_, rows).view({batch_, seq_len_, width});
}

at::Tensor Tokens::pack(const at::Tensor& padded) const { return padded.reshape({batch_ * seq_len_, padded.size(-1)}).index_select(0, index_); }

}  // namespace sbert::ops
