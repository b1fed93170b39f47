// A batch's tokens as the encoder's layers run them. On CPU a batch with padding runs on its real tokens only:
// rows of a [T, H] tensor, a sentence's tokens consecutive ("packed"), so linear layers, norms, activations and
// dropout never compute padding, and attention runs per sentence on its own rows. A padded position's output
// reaches nothing (a key the mask hides, a query no real token reads, masked in pooling), so the real tokens'
// values and every gradient are those of the padded computation. Elsewhere (GPUs, where finding the real tokens
// would wait for the device; batches without padding) the layers see the padded [B, L, H] batch.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sbert::ops {

class Tokens {
 public:
  // attention_mask: [B, L], non-zero at real tokens.
  explicit Tokens(const at::Tensor& attention_mask);

  bool packed() const { return index_.defined(); }
  int64_t batch() const { return batch_; }
  int64_t seq_len() const { return seq_len_; }
  // Per-token values [B, L, ...] as the layers take them: the real tokens' rows [T, ...] when packed.
  at::Tensor take(const at::Tensor& per_token) const;
  // The layers' output as [B, L, W], zero at padded positions when packed.
  at::Tensor restore(const at::Tensor& rows) const;
  // Packed only: rows [T, W] -> [B, L, W] with zero rows at padding, and back.
  at::Tensor pad(const at::Tensor& rows) const;
  at::Tensor pack(const at::Tensor& padded) const;
  // [B, 1, 1, L] float: 0 where attended, the most negative float at padding (as Hugging Face builds it).
  const at::Tensor& additive_mask() const { return additive_mask_; }
  // Packed only: each sentence's first row and number of rows, [B] int64.
  const at::Tensor& starts() const { return starts_; }
  const at::Tensor& lengths() const { return lengths_; }

 private:
  int64_t batch_ = 0, seq_len_ = 0;
  at::Tensor index_;  // packed: the real tokens' flat positions b * L + l, in order
  at::Tensor starts_, lengths_;
  at::Tensor additive_mask_;
};

}  // namespace sbert::ops
