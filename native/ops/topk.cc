#include "ops/topk.h"

#include <ATen/ATen.h>

#include <string>

#include "errors.h"

namespace sbert::ops {

at::Tensor keep_top_k(const at::Tensor& x, int64_t k) {
  if (x.dim() < 1) fail(ErrorCode::Input, "keep_top_k needs at least one dimension");
  const int64_t n = x.size(-1);
  if (k < 1 || k > n) fail(ErrorCode::Input, "keep_top_k: k must lie between 1 and " + std::to_string(n) + ", got " + std::to_string(k));
  // Sorted, as at::topk's default: which of equal values win may depend on it.
  auto top = at::topk(x, k, /*dim=*/-1, /*largest=*/true, /*sorted=*/true);
  return at::zeros_like(x).scatter(-1, std::get<1>(top), std::get<0>(top));
}

}  // namespace sbert::ops
