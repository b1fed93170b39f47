#include "ops/rotary.h"

#include <ATen/ATen.h>

namespace sbert::ops {

RotaryTables rotary_tables(const at::Tensor& positions, double theta, int64_t head_dim) {
  const auto options = positions.options().dtype(at::kFloat);
  auto inv_freq = at::reciprocal(at::pow(theta, at::arange(0, head_dim, 2, options) / static_cast<double>(head_dim)));
  auto angles = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;
  auto both = at::cat({angles, angles}, -1);
  return {both.cos(), both.sin()};
}

at::Tensor apply_rotary(const at::Tensor& x, const RotaryTables& t, int64_t head_dim) {
  std::vector<int64_t> heads_shape(x.sizes().begin(), x.sizes().end() - 1);
  heads_shape.push_back(x.size(-1) / head_dim);
  heads_shape.push_back(head_dim);
  auto h = x.reshape(heads_shape);
  const int64_t half = head_dim / 2;
  auto rotated = at::cat({-h.narrow(-1, half, half), h.narrow(-1, 0, half)}, -1);
  auto out = h * t.cos.unsqueeze(-2) + rotated * t.sin.unsqueeze(-2);
  return out.reshape(x.sizes());
}

}  // namespace sbert::ops
