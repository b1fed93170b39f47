// The portable path: plain C++ for any CPU, with the layouts, blocking and summation order of the vector paths,
// written so that compilers can vectorize the 16 columns of a panel. Also the reference the tests hold every
// other path to.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/internal.h"

namespace sbert::kernels::generic {

namespace {

// One fused multiply-add where the CPU has the instruction (arm64), else a product and a sum: a libm fma call per
// term would cost more than the product itself.
inline float madd(float a, float b, float c) {
#ifdef FP_FAST_FMAF
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

constexpr int kMaxRows = 4;  // rows per pass over a panel block: 4 x 16 accumulators

// c[0:R, 0:cols] (+)= a[0:R, 0:kc] · panel[0:kc, 0:16] (accumulate: start from c; else from zero, bias added at
// the end).
void micro(int rows, const float* a, int64_t lda, const float* panel, int64_t kc, float* c, int64_t ldc, int64_t cols, const float* bias,
           bool accumulate) {
  float acc[kMaxRows][kPanel] = {};
  if (accumulate) {
    for (int r = 0; r < rows; ++r) std::memcpy(acc[r], c + r * ldc, cols * sizeof(float));
  }
  for (int64_t j = 0; j < kc; ++j) {
    const float* w = panel + j * kPanel;
    for (int r = 0; r < rows; ++r) {
      const float x = a[r * lda + j];
      for (int t = 0; t < kPanel; ++t) acc[r][t] = madd(x, w[t], acc[r][t]);
    }
  }
  for (int r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < cols; ++t) c[r * ldc + t] = bias != nullptr ? acc[r][t] + bias[t] : acc[r][t];
  }
}

// 0.5 x (1 + erf(x / √2)), erf by Abramowitz and Stegun 7.1.26 as the vector paths compute it.
inline float gelu1(float x) {
  const float z = x * 0.70710678118654752f, a = std::fabs(z);
  const float t = 1.f / (0.3275911f * a + 1.f);
  float poly = 1.061405429f * t + -1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t + -0.284496736f;
  poly = poly * t + 0.254829592f;
  poly = poly * t;
  const float erf_a = 1.f - poly * std::exp(-(a * a));
  return 0.5f * x * (1.f + std::copysign(erf_a, z));
}

}  // namespace

void multiply_panels(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n, const float* bias, float* c,
                     int64_t ldc, int64_t col_begin, int64_t col_end) {
  for (int64_t col = col_begin; col < col_end; col += kPanel) {
    const int64_t cols = std::min(kPanel, col_end - col);
    const float* b = bias != nullptr ? bias + col : nullptr;
    for (int64_t k0 = 0; k0 < k; k0 += kBlockK) {
      const int64_t kc = std::min(kBlockK, k - k0);
      const float* panel = panels + col / kPanel * k * kPanel + k0 * kPanel;
      for (int64_t row = 0; row < m; row += kMaxRows) {
        const int rows = static_cast<int>(std::min<int64_t>(kMaxRows, m - row));
        micro(rows, a + row * lda + k0, lda, panel, kc, c + row * ldc + col, ldc, cols, k0 == 0 ? b : nullptr, k0 > 0);
      }
    }
  }
}

void quantize_rows(const float* a, int64_t lda, int64_t m, int64_t k, int16_t* p, float* row_scale) {
  const int64_t ldp = (k + 1) / 2 * 2;
  for (int64_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    int16_t* out = p + i * ldp;
    float top = 0.f;
    bool finite = true;
    for (int64_t j = 0; j < k; ++j) {
      finite = finite && std::isfinite(x[j]);
      top = std::max(top, std::fabs(x[j]));
    }
    const float inv = finite && top > 0 ? 127.f / top : 0.f;
    row_scale[i] = finite ? top / 127.f : std::numeric_limits<float>::quiet_NaN();
    // Round half to even (the default rounding mode), as the vector conversions do.
    for (int64_t j = 0; j < k; ++j) out[j] = finite ? static_cast<int16_t>(std::nearbyint(x[j] * inv)) : 0;
    if (ldp > k) out[k] = 0;
  }
}

void multiply_panels_int8(const int16_t* p, int64_t m, int64_t k, const float* row_scale, const int8_t* panels, const float* col_scale, int64_t n,
                          const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end) {
  const int64_t pairs = (k + 1) / 2, ldp = 2 * pairs, panel_bytes = pairs * 2 * kPanel;
  for (int64_t col = col_begin; col < col_end; col += kPanel) {
    const int64_t cols = std::min(kPanel, col_end - col);
    const int8_t* panel = panels + col / kPanel * panel_bytes;
    for (int64_t i = 0; i < m; ++i) {
      int32_t acc[kPanel] = {};
      for (int64_t j = 0; j < pairs; ++j) {
        const int32_t p0 = p[i * ldp + 2 * j], p1 = p[i * ldp + 2 * j + 1];
        const int8_t* w = panel + j * 2 * kPanel;
        for (int t = 0; t < kPanel; ++t) acc[t] += p0 * w[2 * t] + p1 * w[2 * t + 1];
      }
      for (int64_t t = 0; t < cols; ++t) {
        const float b = bias != nullptr ? bias[col + t] : 0.f;
        c[i * ldc + col + t] = std::fma(static_cast<float>(acc[t]), row_scale[i] * col_scale[col + t], b);
      }
    }
  }
}

void gelu_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = gelu1(x[i]);
}

void to_bf16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_of(x[i]);
}

void from_bf16(const uint16_t* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = float_of_bf16(x[i]);
}

void add_layer_norm(float* x, const float* residual, const float* gamma, const float* beta, int64_t rows, int64_t width, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = x + i * width;
    const float* res = residual + i * width;
    float sum = 0.f;
    for (int64_t j = 0; j < width; ++j) sum += (row[j] += res[j]);
    const float mean = sum / static_cast<float>(width);
    float sq = 0.f;
    for (int64_t j = 0; j < width; ++j) sq += (row[j] - mean) * (row[j] - mean);
    const float rstd = 1.f / std::sqrt(sq / static_cast<float>(width) + eps);
    for (int64_t j = 0; j < width; ++j) row[j] = (row[j] - mean) * rstd * gamma[j] + beta[j];
  }
}

void attention(const float* q, const float* k, const float* v, const float* mask, float* out, const AttentionShape& s, int64_t begin,
               int64_t end) {
  const int64_t L = s.seq_len, d = s.head_dim;
  const float sqrt_d = std::sqrt(static_cast<float>(d));
  std::vector<float> scores(L), context(d);
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item / s.heads, h = item % s.heads;
    const int64_t n = s.lengths ? s.lengths[b] : L;
    if (n <= 0) continue;
    const int64_t start = s.starts ? s.starts[b] : b * L;
    const float* mask_row = mask != nullptr && s.lengths == nullptr ? mask + b * L : nullptr;
    const float* bias = s.rel_bias != nullptr ? s.rel_bias + h * (2 * L - 1) + L - 1 : nullptr;  // bias[j - i]
    const int64_t kv = kv_head_of(s, h);
    for (int64_t i = 0; i < n; ++i) {
      const float* qi = q + (start + i) * s.row_stride + h * d;
      float top = -std::numeric_limits<float>::max();
      const KeyRange band = band_keys(s, i, n);
      for (int64_t j = 0; j < n; ++j) {
        if (j < band.first || j >= band.last) {
          scores[j] = -std::numeric_limits<float>::infinity();
          continue;
        }
        const float* kj = k + (start + j) * s.row_stride + kv * d;
        float dot = 0.f;
        for (int64_t t = 0; t < d; ++t) dot = madd(qi[t], kj[t], dot);
        float x = dot / sqrt_d;
        if (bias != nullptr) x += bias[j - i];
        if (mask_row != nullptr) x += mask_row[j];
        scores[j] = x;
        top = std::max(top, x);
      }
      float total = 0.f;
      for (int64_t j = 0; j < n; ++j) total += (scores[j] = std::exp(scores[j] - top));
      const float inv = 1.f / total;
      std::fill(context.begin(), context.end(), 0.f);
      for (int64_t j = 0; j < n; ++j) {
        const float* vj = v + (start + j) * s.row_stride + kv * d;
        const float weight = scores[j] * inv;
        for (int64_t t = 0; t < d; ++t) context[t] = madd(weight, vj[t], context[t]);
      }
      std::memcpy(out + (start + i) * s.out_stride + h * d, context.data(), d * sizeof(float));
    }
  }
}

// Element by element, in the order libtorch's ops round: mul_, add_(alpha), addcmul_, sqrt / bias2_sqrt + eps,
// addcdiv_ (value · m first, then / denom).
void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i];
    const float param = s.decay ? p[i] * s.decay_factor : p[i];
    const float mi = m[i] * s.beta1 + s.one_minus_beta1 * grad;
    const float vi = v[i] * s.beta2 + s.one_minus_beta2 * grad * grad;
    const float denom = std::sqrt(vi) / s.bias2_sqrt + s.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = param + s.neg_step_size * mi / denom;
  }
}

void dropout_noise(float* out, int64_t n, const DropoutDraw& d) { dropout_scalar(out, 0, n, d); }

}  // namespace sbert::kernels::generic
