// The AVX2 + FMA path. Fused multiply-adds are spelled out (the kernels build with -ffp-contract=off), so the bits
// do not depend on what the compiler fuses, and avx512.cc can compute the same ones.
#include "kernels/internal.h"

#ifdef SBERT_KERNELS_X86

#include <immintrin.h>

#include <cmath>
#include <limits>
#include <vector>

namespace sbert::kernels::avx2 {

namespace {

constexpr int kMaxRows = 6;  // rows per micro-kernel call: 6 x 16 accumulators in 12 ymm registers

SBERT_AVX2 inline __m256i mix32_avx2(__m256i x) {
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x7feb352d));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0x846ca68bU)));
  return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}

// The first `count` lanes (0 to 8) set, for masked loads and stores.
SBERT_AVX2 inline __m256i first_lanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// dst[0:cols] = the 16 floats lo, hi (a panel's columns 0-7 and 8-15); only cols of them when the panel is partial.
SBERT_AVX2 inline void store_panel_row(float* dst, __m256 lo, __m256 hi, int64_t cols) {
  if (cols == kPanel) {
    _mm256_storeu_ps(dst, lo);
    _mm256_storeu_ps(dst + 8, hi);
    return;
  }
  alignas(32) float tmp[kPanel];
  _mm256_store_ps(tmp, lo);
  _mm256_store_ps(tmp + 8, hi);
  std::memcpy(dst, tmp, cols * sizeof(float));
}

// c[0:R, 0:cols] (+)= a[0:R, 0:kc] · panel[0:kc, 0:16]. accumulate: start from c; else start from zero and add
// bias (16 floats, or null) at the end. Also prefetches the lines of `ahead` (prefetch_share).
template <int R>
SBERT_AVX2 void micro(const float* a, int64_t lda, const float* panel, int64_t kc, float* c, int64_t ldc, int64_t cols, const float* bias,
                      bool accumulate, PrefetchLines ahead) {
  __m256 acc[R][2];
  alignas(32) float tmp[kPanel];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    if (!accumulate) {
      acc[r][0] = _mm256_setzero_ps();
      acc[r][1] = _mm256_setzero_ps();
    } else if (cols == kPanel) {
      acc[r][0] = _mm256_loadu_ps(c + r * ldc);
      acc[r][1] = _mm256_loadu_ps(c + r * ldc + 8);
    } else {
      std::memset(tmp, 0, sizeof tmp);
      std::memcpy(tmp, c + r * ldc, cols * sizeof(float));
      acc[r][0] = _mm256_load_ps(tmp);
      acc[r][1] = _mm256_load_ps(tmp + 8);
    }
  }
  for (int64_t j = 0; j < kc; ++j) {
    if (j < ahead.count) _mm_prefetch(ahead.from + j * 64, _MM_HINT_T0);
    const __m256 b0 = _mm256_loadu_ps(panel + j * kPanel);
    const __m256 b1 = _mm256_loadu_ps(panel + j * kPanel + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(a + r * lda + j);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  if (bias != nullptr) {
    const __m256 bias0 = _mm256_loadu_ps(bias), bias1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      acc[r][0] = _mm256_add_ps(acc[r][0], bias0);
      acc[r][1] = _mm256_add_ps(acc[r][1], bias1);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) store_panel_row(c + r * ldc, acc[r][0], acc[r][1], cols);
}

SBERT_AVX2 void micro_rows(int rows, const float* a, int64_t lda, const float* panel, int64_t kc, float* c, int64_t ldc, int64_t cols,
                           const float* bias, bool accumulate, PrefetchLines ahead) {
  switch (rows) {
    case 6: return micro<6>(a, lda, panel, kc, c, ldc, cols, bias, accumulate, ahead);
    case 5: return micro<5>(a, lda, panel, kc, c, ldc, cols, bias, accumulate, ahead);
    case 4: return micro<4>(a, lda, panel, kc, c, ldc, cols, bias, accumulate, ahead);
    case 3: return micro<3>(a, lda, panel, kc, c, ldc, cols, bias, accumulate, ahead);
    case 2: return micro<2>(a, lda, panel, kc, c, ldc, cols, bias, accumulate, ahead);
    case 1: return micro<1>(a, lda, panel, kc, c, ldc, cols, bias, accumulate, ahead);
  }
}

// exp(x) for 8 floats: Cody-Waite reduction to x = n ln2 + r, |r| <= ln2/2, and a degree-6 polynomial for
// e^r (Cephes' expf coefficients, ~1 ulp); 0 below -87.3 (where 2^n would leave the normal range).
SBERT_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.3f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(exponent)));
}

SBERT_AVX2 inline float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

SBERT_AVX2 inline float max8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// row[0:width] (width a multiple of 8; entries past the sequence hold -inf in mask) becomes
// softmax(row / sqrt_d + bias + mask), with bias (its first n entries, the sentence's keys) only when kBias.
template <bool kBias>
SBERT_AVX2 void softmax_row(float* row, const float* mask, const float* bias, int64_t n, int64_t width, float sqrt_d) {
  const __m256 divisor = _mm256_set1_ps(sqrt_d);
  __m256 top = _mm256_set1_ps(-std::numeric_limits<float>::max());
  for (int64_t j = 0; j < width; j += 8) {
    __m256 x = _mm256_div_ps(_mm256_loadu_ps(row + j), divisor);
    if constexpr (kBias) {
      if (j < n) x = _mm256_add_ps(x, j + 8 <= n ? _mm256_loadu_ps(bias + j) : _mm256_maskload_ps(bias + j, first_lanes(n - j)));
    }
    x = _mm256_add_ps(x, _mm256_loadu_ps(mask + j));
    _mm256_storeu_ps(row + j, x);
    top = _mm256_max_ps(top, x);
  }
  const __m256 m = _mm256_set1_ps(max8(top));
  __m256 total = _mm256_setzero_ps();
  for (int64_t j = 0; j < width; j += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), m));
    _mm256_storeu_ps(row + j, e);
    total = _mm256_add_ps(total, e);
  }
  const __m256 inv = _mm256_set1_ps(1.f / sum8(total));
  for (int64_t j = 0; j < width; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
}

SBERT_AVX2 inline __m256 gelu8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f), sign_bit = _mm256_set1_ps(-0.f);
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 sign = _mm256_and_ps(z, sign_bit);
  const __m256 a = _mm256_andnot_ps(sign_bit, z);
  // erf(a) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-a²), t = 1 / (1 + p a)
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), a, one));
  __m256 poly = _mm256_fmadd_ps(_mm256_set1_ps(1.061405429f), t, _mm256_set1_ps(-1.453152027f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
  poly = _mm256_mul_ps(poly, t);
  const __m256 erf_a = _mm256_fnmadd_ps(poly, exp8(_mm256_xor_ps(_mm256_mul_ps(a, a), sign_bit)), one);
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(one, _mm256_or_ps(erf_a, sign)));
}

// The AdamW update of 8 elements (kernels.h's formulas; three multiply-adds fused, as avx512.cc does too).
struct AdamWVectors {
  __m256 decay, b1, a1, b2, a2, bc2, eps, step;
};
SBERT_AVX2 inline void adamw8(__m256& p, __m256 grad, __m256& m, __m256& v, const AdamWVectors& s) {
  m = _mm256_fmadd_ps(grad, s.a1, _mm256_mul_ps(m, s.b1));
  v = _mm256_fmadd_ps(_mm256_mul_ps(s.a2, grad), grad, _mm256_mul_ps(v, s.b2));
  const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), s.bc2), s.eps);
  p = _mm256_fmadd_ps(p, s.decay, _mm256_div_ps(_mm256_mul_ps(s.step, m), denom));  // x 1 is exact when there is no decay
}

// c[0:R, 0:cols] = dequantized (p[0:R] · panel) + bias over all k: accumulators stay in registers throughout (a
// panel's k pairs, 32 bytes each, fit L1/L2 at these sizes). Also prefetches the lines of `ahead` (prefetch_share).
template <int R>
SBERT_AVX2 void micro_int8(const int16_t* p, int64_t ldp, const int8_t* panel, int64_t pairs, const float* row_scale, const float* col_scale,
                           const float* bias, float* c, int64_t ldc, int64_t cols, PrefetchLines ahead) {
  __m256i acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t j = 0; j < pairs; ++j) {
    if (j < ahead.count) _mm_prefetch(ahead.from + j * 64, _MM_HINT_T0);
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(panel + j * 2 * kPanel)));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(panel + j * 2 * kPanel + kPanel)));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      int32_t pair;
      std::memcpy(&pair, p + r * ldp + 2 * j, sizeof pair);
      const __m256i x = _mm256_set1_epi32(pair);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(w0, x));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(w1, x));
    }
  }
  const __m256 cs0 = _mm256_loadu_ps(col_scale), cs1 = _mm256_loadu_ps(col_scale + 8);
  const __m256 b0 = bias != nullptr ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 b1 = bias != nullptr ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const __m256 rs = _mm256_set1_ps(row_scale[r]);
    const __m256 y0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][0]), _mm256_mul_ps(rs, cs0), b0);
    const __m256 y1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][1]), _mm256_mul_ps(rs, cs1), b1);
    store_panel_row(c + r * ldc, y0, y1, cols);
  }
}

SBERT_AVX2 void micro_int8_rows(int rows, const int16_t* p, int64_t ldp, const int8_t* panel, int64_t pairs, const float* row_scale,
                                const float* col_scale, const float* bias, float* c, int64_t ldc, int64_t cols, PrefetchLines ahead) {
  switch (rows) {
    case 6: return micro_int8<6>(p, ldp, panel, pairs, row_scale, col_scale, bias, c, ldc, cols, ahead);
    case 5: return micro_int8<5>(p, ldp, panel, pairs, row_scale, col_scale, bias, c, ldc, cols, ahead);
    case 4: return micro_int8<4>(p, ldp, panel, pairs, row_scale, col_scale, bias, c, ldc, cols, ahead);
    case 3: return micro_int8<3>(p, ldp, panel, pairs, row_scale, col_scale, bias, c, ldc, cols, ahead);
    case 2: return micro_int8<2>(p, ldp, panel, pairs, row_scale, col_scale, bias, c, ldc, cols, ahead);
    case 1: return micro_int8<1>(p, ldp, panel, pairs, row_scale, col_scale, bias, c, ldc, cols, ahead);
  }
}

}  // namespace

// multiply_panels over panels `panel_stride` floats apart (k * kPanel when packed for this k; more when the product
// reads rows [r, r + k) of panels packed for more, as attention does with a band of keys), `total` bytes from
// `panels` readable (what prefetching may reach).
SBERT_AVX2 static void multiply_panels_strided(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t panel_stride,
                                               int64_t total, const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end) {
  alignas(32) float bias_tail[kPanel];
  const bool stream = total > kStreamBytes;
  for (int64_t m0 = 0; m0 < m; m0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, m - m0);
    const int64_t calls = (rows + kMaxRows - 1) / kMaxRows;
    // Panel by panel, so the weights stream through memory in order (at a sentence's few rows each weight is
    // read from memory once and used a handful of times).
    for (int64_t col = col_begin; col < col_end; col += kPanel) {
      const int64_t cols = std::min(kPanel, col_end - col);
      for (int64_t k0 = 0; k0 < k; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, k - k0);
        const float* panel = panels + col / kPanel * panel_stride + k0 * kPanel;
        const float* b = bias != nullptr && k0 == 0 ? panel_wide(bias + col, cols, bias_tail) : nullptr;
        // The calls prefetch the block kPrefetchAhead further on (kBlockK lines of 16 floats).
        const int64_t ahead = (panel - panels + kPrefetchAhead * kBlockK * kPanel) * static_cast<int64_t>(sizeof(float));
        int64_t row = m0;
        for (int64_t i = 0; i < calls; ++i) {
          const int r = rows_of_call(rows, calls, i);
          micro_rows(r, a + row * lda + k0, lda, panel, kc, c + row * ldc + col, ldc, cols, b, k0 > 0,
                     prefetch_share(panels, total, stream, ahead, kBlockK, calls, i));
          row += r;
        }
      }
    }
  }
}

SBERT_AVX2 void multiply_panels(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n, const float* bias, float* c,
                                int64_t ldc, int64_t col_begin, int64_t col_end) {
  multiply_panels_strided(a, lda, m, k, panels, k * kPanel, panel_floats(n, k) * static_cast<int64_t>(sizeof(float)), bias, c, ldc, col_begin, col_end);
}

SBERT_AVX2 void gelu_inplace(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    // The tail through the same vector arithmetic.
    alignas(32) float tail[8] = {};
    std::memcpy(tail, x + i, (n - i) * sizeof(float));
    _mm256_store_ps(tail, gelu8(_mm256_load_ps(tail)));
    std::memcpy(x + i, tail, (n - i) * sizeof(float));
  }
}

// bf16_of on 8 floats: the rounded upper halves in each 32-bit lane's low 16 bits.
SBERT_AVX2 inline __m256i bf16_of8(__m256i u) {
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)))), 16);
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
  return _mm256_blendv_epi8(rounded, _mm256_set1_epi32(0x7fc0), nan);
}

SBERT_AVX2 void to_bf16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i lo = bf16_of8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    const __m256i hi = bf16_of8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 8)));
    // packus works within 128-bit lanes: [lo0 hi0 lo1 hi1] in 64-bit pieces, put back in order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), packed);
  }
  for (; i < n; ++i) out[i] = bf16_of(x[i]);
}

SBERT_AVX2 void from_bf16(const uint16_t* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_slli_epi32(w, 16));
  }
  for (; i < n; ++i) out[i] = float_of_bf16(x[i]);
}

SBERT_AVX2 void add_layer_norm(float* x, const float* residual, const float* gamma, const float* beta, int64_t rows, int64_t width, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = x + i * width;
    const float* res = residual + i * width;
    __m256 sum8v = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= width; j += 8) {
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(res + j));
      _mm256_storeu_ps(row + j, v);
      sum8v = _mm256_add_ps(sum8v, v);
    }
    float sum = sum8(sum8v);
    for (; j < width; ++j) sum += (row[j] += res[j]);
    const float mean = sum / static_cast<float>(width);
    // The variance from the deviations (a second pass, in cache), not from E[x²] - mean².
    const __m256 mean8 = _mm256_set1_ps(mean);
    __m256 sq8 = _mm256_setzero_ps();
    for (j = 0; j + 8 <= width; j += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + j), mean8);
      sq8 = _mm256_fmadd_ps(d, d, sq8);
    }
    float sq = sum8(sq8);
    for (; j < width; ++j) sq = std::fma(row[j] - mean, row[j] - mean, sq);
    const float rstd = 1.f / std::sqrt(sq / static_cast<float>(width) + eps);
    const __m256 rstd8 = _mm256_set1_ps(rstd);
    for (j = 0; j + 8 <= width; j += 8) {
      const __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + j), mean8), rstd8);
      _mm256_storeu_ps(row + j, _mm256_fmadd_ps(n, _mm256_loadu_ps(gamma + j), _mm256_loadu_ps(beta + j)));
    }
    for (; j < width; ++j) row[j] = std::fma((row[j] - mean) * rstd, gamma[j], beta[j]);
  }
}

SBERT_AVX2 void quantize_rows(const float* a, int64_t lda, int64_t m, int64_t k, int16_t* p, float* row_scale) {
  const int64_t ldp = (k + 1) / 2 * 2;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    int16_t* out = p + i * ldp;
    __m256 top8 = _mm256_setzero_ps(), nan8 = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= k; j += 8) {
      const __m256 v = _mm256_loadu_ps(x + j);
      top8 = _mm256_max_ps(top8, _mm256_and_ps(v, abs_mask));
      nan8 = _mm256_or_ps(nan8, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    float top = max8(top8);
    bool finite = _mm256_movemask_ps(nan8) == 0;
    for (; j < k; ++j) {
      finite = finite && !std::isnan(x[j]);
      top = std::max(top, std::fabs(x[j]));
    }
    finite = finite && std::isfinite(top);
    // All zero: every p is 0 and the row's products are the bias. Not finite: p = 0 and a NaN scale, so the row's
    // products are NaN, as float32 would give.
    row_scale[i] = finite ? top / 127.f : std::numeric_limits<float>::quiet_NaN();
    if (!finite) {
      std::memset(out, 0, ldp * sizeof(int16_t));
      continue;
    }
    const float inv = top > 0 ? 127.f / top : 0.f;
    const __m256 scale = _mm256_set1_ps(inv);
    for (j = 0; j + 8 <= k; j += 8) {
      // Round half to even (the default rounding mode), as nearbyint.
      const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), scale));
      const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(q, q), 0x08);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), _mm256_castsi256_si128(packed));
    }
    for (; j < k; ++j) out[j] = static_cast<int16_t>(std::nearbyint(x[j] * inv));
    if (ldp > k) out[k] = 0;
  }
}

SBERT_AVX2 void multiply_panels_int8(const int16_t* p, int64_t m, int64_t k, const float* row_scale, const int8_t* panels, const float* col_scale,
                                     int64_t n, const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end) {
  const int64_t pairs = (k + 1) / 2, ldp = 2 * pairs, panel_bytes = pairs * 2 * kPanel;
  const int64_t total = (n + kPanel - 1) / kPanel * panel_bytes;
  const bool stream = total > kStreamBytes;
  alignas(32) float scale_tail[kPanel], bias_tail[kPanel];
  for (int64_t m0 = 0; m0 < m; m0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, m - m0);
    const int64_t calls = (rows + kMaxRows - 1) / kMaxRows;
    for (int64_t col = col_begin; col < col_end; col += kPanel) {
      const int64_t cols = std::min(kPanel, col_end - col);
      const float* cs = panel_wide(col_scale + col, cols, scale_tail);
      const float* b = panel_wide(bias != nullptr ? bias + col : nullptr, cols, bias_tail);
      const int64_t offset = col / kPanel * panel_bytes;
      // The calls prefetch the next panel.
      int64_t row = m0;
      for (int64_t i = 0; i < calls; ++i) {
        const int r = rows_of_call(rows, calls, i);
        micro_int8_rows(r, p + row * ldp, ldp, panels + offset, pairs, row_scale + row, cs, b, c + row * ldc + col, ldc, cols,
                        prefetch_share(panels, total, stream, offset + panel_bytes, panel_bytes / 64, calls, i));
        row += r;
      }
    }
  }
}

SBERT_AVX2 void attention(const float* q, const float* k, const float* v, const float* mask, float* out, const AttentionShape& s, int64_t begin,
                          int64_t end) {
  const int64_t L = s.seq_len, d = s.head_dim;
  const int64_t width = (L + kPanel - 1) / kPanel * kPanel;  // score rows padded to whole panels
  // Per thread, reused across calls: packed keys and values, the scores of one (sentence, head), its mask row.
  thread_local std::vector<float> key_panels, value_panels, scores, mask_row;
  // Queries go kBlockRows at a time, so the scores scratch stays small (96 x L) however long the sequence.
  const int64_t query_rows = std::min(L, kBlockRows);
  key_panels.resize(panel_floats(L, d));
  value_panels.resize(panel_floats(d, L));
  scores.resize(query_rows * width);
  mask_row.resize(width);
  const float sqrt_d = std::sqrt(static_cast<float>(d));
  int64_t mask_of = -1;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item / s.heads, h = item % s.heads;
    const int64_t n = s.lengths ? s.lengths[b] : L;  // this sentence's rows
    if (n <= 0) continue;
    const int64_t start = s.starts ? s.starts[b] : b * L;
    const int64_t cols = (n + kPanel - 1) / kPanel * kPanel;
    const int64_t offset = start * s.row_stride + h * d, kv_offset = start * s.row_stride + kv_head_of(s, h) * d;
    if (mask_of != b) {
      if (mask && !s.lengths) std::memcpy(mask_row.data(), mask + b * L, n * sizeof(float));
      else std::fill(mask_row.begin(), mask_row.begin() + n, 0.f);
      // Past the sequence: -inf, so those columns weigh exactly 0 even when every real key is masked.
      std::fill(mask_row.begin() + n, mask_row.begin() + cols, -std::numeric_limits<float>::infinity());
      mask_of = b;
    }
    // The keys are the "weights" of the scores ([n, d]; padding keys are zero panels, so padded columns score
    // 0); the values, as a [d, n] matrix, those of the context.
    pack_panels(k + kv_offset, n, d, s.row_stride, 1, key_panels.data());
    pack_panels(v + kv_offset, d, n, 1, s.row_stride, value_panels.data());
    // bias[j - i] is the relative position bias of query i and key j (kernels.h).
    const float* bias = s.rel_bias ? s.rel_bias + h * (2 * L - 1) + L - 1 : nullptr;
    const int64_t value_bytes = panel_floats(d, n) * static_cast<int64_t>(sizeof(float));
    for (int64_t i0 = 0; i0 < n; i0 += query_rows) {
      const int64_t rows = std::min(query_rows, n - i0);
      // The keys some query of the block attends (the band's bounds grow with the query), in whole panels: only
      // those are scored and weighed, so a causal band costs about half and a sliding window a strip.
      const int64_t c0 = band_keys(s, i0, n).first / kPanel * kPanel;
      const int64_t c1 = std::min(cols, (band_keys(s, i0 + rows - 1, n).last + kPanel - 1) / kPanel * kPanel);
      multiply_panels(q + offset + i0 * s.row_stride, s.row_stride, rows, d, key_panels.data(), cols, nullptr, scores.data(), cols, c0, c1);
      for (int64_t i = 0; i < rows; ++i) {
        float* row = scores.data() + i * cols;
        const KeyRange band = band_keys(s, i0 + i, n);
        std::fill(row + c0, row + band.first, -std::numeric_limits<float>::infinity());
        std::fill(row + band.last, row + std::min(n, c1), -std::numeric_limits<float>::infinity());
        if (bias) softmax_row<true>(row + c0, mask_row.data() + c0, bias - (i0 + i) + c0, n - c0, c1 - c0, sqrt_d);
        else softmax_row<false>(row + c0, mask_row.data() + c0, nullptr, n - c0, c1 - c0, sqrt_d);
      }
      // Values of keys [c0, min(n, c1)): rows c0 on of each [d, n] panel.
      multiply_panels_strided(scores.data() + c0, cols, rows, std::min(n, c1) - c0, value_panels.data() + c0 * kPanel, n * kPanel,
                              value_bytes - c0 * kPanel * static_cast<int64_t>(sizeof(float)), nullptr, out + (start + i0) * s.out_stride + h * d,
                              s.out_stride, 0, d);
    }
  }
}

SBERT_AVX2 void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  const AdamWVectors sv{_mm256_set1_ps(s.decay ? s.decay_factor : 1.f), _mm256_set1_ps(s.beta1), _mm256_set1_ps(s.one_minus_beta1),
                        _mm256_set1_ps(s.beta2),  _mm256_set1_ps(s.one_minus_beta2), _mm256_set1_ps(s.bias2_sqrt),
                        _mm256_set1_ps(s.eps),    _mm256_set1_ps(s.neg_step_size)};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pi = _mm256_loadu_ps(p + i), mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
    adamw8(pi, _mm256_loadu_ps(g + i), mi, vi, sv);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, pi);
  }
  if (i < n) {
    // The tail through the same arithmetic (masked lanes read and write nothing), so an element's bits do not
    // depend on where the array was cut among threads.
    const __m256i lanes = first_lanes(n - i);
    __m256 pi = _mm256_maskload_ps(p + i, lanes), mi = _mm256_maskload_ps(m + i, lanes), vi = _mm256_maskload_ps(v + i, lanes);
    adamw8(pi, _mm256_maskload_ps(g + i, lanes), mi, vi, sv);
    _mm256_maskstore_ps(m + i, lanes, mi);
    _mm256_maskstore_ps(v + i, lanes, vi);
    _mm256_maskstore_ps(p + i, lanes, pi);
  }
}

SBERT_AVX2 void dropout_noise(float* out, int64_t n, const DropoutDraw& d) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i key1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(d.seed)));
  const __m256i threshold = _mm256_set1_epi32(static_cast<int>(d.keep_threshold));
  const __m256 scale = _mm256_set1_ps(d.scale);
  int64_t i = 0;
  while (i < n) {
    // Runs of indices that share their high 32 bits (one second key serves a run); the AVX2 lanes add in 32 bits.
    const uint64_t j = static_cast<uint64_t>(i);
    const int64_t to_wrap = static_cast<int64_t>(std::min<uint64_t>((uint64_t{1} << 32) - (j & 0xffffffffULL), static_cast<uint64_t>(n - i)));
    const int64_t span = to_wrap / 8 * 8;
    if (span == 0) {  // the array's last few (runs end on multiples of 8 otherwise)
      dropout_scalar(out, i, i + to_wrap, d);
      i += to_wrap;
      continue;
    }
    const __m256i key2 = _mm256_set1_epi32(static_cast<int>(dropout_key2(j, d.seed)));
    __m256i index = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(j))), lanes);
    for (const int64_t end = i + span; i < end; i += 8) {
      const __m256i h = mix32_avx2(_mm256_add_epi32(mix32_avx2(_mm256_xor_si256(index, key1)), key2));
      const __m256i keep = _mm256_cmpgt_epi32(threshold, _mm256_srli_epi32(h, 8));  // both below 2^24: signed compare is exact
      _mm256_storeu_ps(out + i, _mm256_and_ps(_mm256_castsi256_ps(keep), scale));
      index = _mm256_add_epi32(index, _mm256_set1_epi32(8));
    }
  }
}

}  // namespace sbert::kernels::avx2

#endif
