// Selection over the last dimension: each row's k largest values kept, every other value zeroed.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sbert::ops {

// x with all but the k largest values of each row (last dimension) set to 0, same shape and type; a row's ties at the
// k-th value are broken as at::topk (sorted) breaks them. k must lie in [1, x.size(-1)] (the caller names the option in its
// message). Differentiable: the gradient reaches the kept positions only.
at::Tensor keep_top_k(const at::Tensor& x, int64_t k);

}  // namespace sbert::ops
