#include "kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SBERT_KERNELS_X86 1
#include <immintrin.h>
// Only these functions use AVX2/FMA; the rest of the addon stays baseline x86-64, and available() decides.
#define SBERT_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace sbert::kernels {

int64_t panel_floats(int64_t n, int64_t k) { return (n + kPanel - 1) / kPanel * kPanel * k; }

namespace {

template <typename RowOf>
void pack_rows(RowOf row_of, int64_t n, int64_t k, int64_t stride_k, float* out) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = out + p * k * kPanel;
    const int64_t cols = std::min<int64_t>(kPanel, n - p * kPanel);
    const float* src[kPanel];
    for (int64_t c = 0; c < cols; ++c) src[c] = row_of(p * kPanel + c);
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t c = 0; c < cols; ++c) dst[j * kPanel + c] = src[c][j * stride_k];
      for (int64_t c = cols; c < kPanel; ++c) dst[j * kPanel + c] = 0.f;
    }
  }
}

}  // namespace

void pack_panels(const float* w, int64_t n, int64_t k, int64_t stride_n, int64_t stride_k, float* out) {
  if (stride_n != 1) return pack_rows([&](int64_t i) { return w + i * stride_n; }, n, k, stride_k, out);
  // Rows side by side in memory (column-major weights, values): copy whole 16-float lines, reading w in order
  // (2x faster than gathering a panel at a time, which walks w with a page-sized stride).
  const int64_t full = n / kPanel;
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t p = 0; p < full; ++p) std::memcpy(out + (p * k + j) * kPanel, w + j * stride_k + p * kPanel, kPanel * sizeof(float));
  }
  if (full * kPanel < n) pack_rows([&](int64_t i) { return w + full * kPanel + i; }, n - full * kPanel, k, stride_k, out + full * k * kPanel);
}

void pack_panels(const float* const* rows, int64_t n, int64_t k, int64_t stride_k, float* out) {
  pack_rows([&](int64_t i) { return rows[i]; }, n, k, stride_k, out);
}

int64_t int8_panel_bytes(int64_t n, int64_t k) { return (n + kPanel - 1) / kPanel * kPanel * ((k + 1) / 2 * 2); }

void pack_panels_int8(const int8_t* q, int64_t n, int64_t k, int8_t* out) {
  const int64_t panels = (n + kPanel - 1) / kPanel, pairs = (k + 1) / 2;
  for (int64_t p = 0; p < panels; ++p) {
    for (int64_t j = 0; j < pairs; ++j) {
      int8_t* dst = out + (p * pairs + j) * 2 * kPanel;
      for (int64_t c = 0; c < kPanel; ++c) {
        const int64_t col = p * kPanel + c;
        for (int64_t t = 0; t < 2; ++t) {
          const int64_t kk = 2 * j + t;
          dst[c * 2 + t] = col < n && kk < k ? q[col * k + kk] : 0;
        }
      }
    }
  }
}

namespace {

// Element by element, in the order libtorch's ops round: mul_, add_(alpha), addcmul_, sqrt / bias2_sqrt + eps,
// addcdiv_ (value · m first, then / denom).
inline void adamw_scalar(float* p, const float* g, float* m, float* v, int64_t begin, int64_t end, const AdamWStep& s) {
  for (int64_t i = begin; i < end; ++i) {
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

// A 32-bit mixing function (xorshift-multiply rounds, constants from Chris Wellons' hash-prospector "lowbias32"):
// a bijection on 32 bits whose output bits each flip with probability ~1/2 when one input bit does.
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Two rounds keyed by the seed's halves: mix32(mix32(low half of j ^ low key) + second key), where the index's
// high half (arrays past 2^32 elements) joins the second key.
inline uint32_t dropout_key2(uint64_t j, uint64_t seed) {
  return static_cast<uint32_t>(seed >> 32) ^ (static_cast<uint32_t>(j >> 32) * 0x9e3779b9U);
}

inline uint32_t dropout_hash(uint64_t j, uint64_t seed) {
  return mix32(mix32(static_cast<uint32_t>(j) ^ static_cast<uint32_t>(seed)) + dropout_key2(j, seed));
}

inline void dropout_scalar(float* out, int64_t begin, int64_t end, const DropoutDraw& d) {
  for (int64_t i = begin; i < end; ++i) {
    out[i] = (dropout_hash(static_cast<uint64_t>(i), d.seed) >> 8) < d.keep_threshold ? d.scale : 0.f;
  }
}

}  // namespace

#ifdef SBERT_KERNELS_X86

SBERT_AVX2 static inline __m256i mix32_avx2(__m256i x) {
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x7feb352d));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0x846ca68bU)));
  return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}

SBERT_AVX2 static void dropout_avx2(float* out, int64_t n, const DropoutDraw& d) {
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

void dropout_noise(float* out, int64_t n, const DropoutDraw& d) {
  if (available()) return dropout_avx2(out, n, d);
  dropout_scalar(out, 0, n, d);
}

bool available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

namespace {

// k is cut into blocks of this many so that a panel's block (16 KiB) stays in L1 while every row block of a
// product streams past it. Fixed, so sums always break at the same k.
constexpr int64_t kBlockK = 256;
// Rows of a (and c) handled per pass over the panels; a's block stays in L2.
constexpr int64_t kBlockRows = 96;
constexpr int kMaxRows = 6;  // rows per micro-kernel call: 6 x 16 accumulators in 12 ymm registers
// Weights past this size stream from memory (L2 is 512 KiB a core here). A panel block is read from memory by
// the first micro-kernel call over it and from L1 by the others, so the hardware prefetcher, which follows
// misses, sits idle through those: each call also asks for its share of the lines kPrefetchAhead blocks further
// on (the panels lie in memory in the order they are read). Measured with and without in turn in one process,
// one 25-token sentence on 2 cores: BERT-base 5-8% faster, MiniLM (weights mostly in L3) 3-5%.
constexpr int64_t kStreamBytes = int64_t{1} << 20;
constexpr int64_t kPrefetchAhead = 2;

// Rows of micro-kernel call i when `rows` are spread evenly over `calls` (20 rows: 5+5+5+5, not 6+6+6+2: the FMA
// pipes need ~8 independent accumulators).
inline int rows_of_call(int64_t rows, int64_t calls, int64_t i) { return static_cast<int>(rows / calls + (i < rows % calls ? 1 : 0)); }

// The 64-byte lines micro-kernel call i of `calls` prefetches: its share of the `block_lines` lines that start
// `block_offset` bytes into the weights (`total` bytes; none past their end), or none when `stream` is false.
struct PrefetchLines {
  const char* from;
  int64_t count;
};
inline PrefetchLines prefetch_share(const void* weights, int64_t total, bool stream, int64_t block_offset, int64_t block_lines, int64_t calls,
                                    int64_t i) {
  const int64_t share = (block_lines + calls - 1) / calls, offset = block_offset + i * share * 64;
  if (!stream || offset >= total) return {nullptr, 0};
  return {static_cast<const char*>(weights) + offset, std::min(share, (total - offset) / 64)};
}

// src[0:cols] when cols is a whole panel, else a copy zero-padded to 16 floats in `tail` (null stays null).
inline const float* panel_wide(const float* src, int64_t cols, float* tail) {
  if (src == nullptr || cols == kPanel) return src;
  std::memset(tail, 0, kPanel * sizeof(float));
  std::memcpy(tail, src, cols * sizeof(float));
  return tail;
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
// softmax(row / sqrt_d + mask).
SBERT_AVX2 void softmax_row(float* row, const float* mask, int64_t width, float sqrt_d) {
  const __m256 divisor = _mm256_set1_ps(sqrt_d);
  __m256 top = _mm256_set1_ps(-std::numeric_limits<float>::max());
  for (int64_t j = 0; j < width; j += 8) {
    const __m256 x = _mm256_add_ps(_mm256_div_ps(_mm256_loadu_ps(row + j), divisor), _mm256_loadu_ps(mask + j));
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

}  // namespace

SBERT_AVX2 void multiply_panels(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n, const float* bias, float* c,
                                int64_t ldc, int64_t col_begin, int64_t col_end) {
  alignas(32) float bias_tail[kPanel];
  const int64_t total = panel_floats(n, k) * static_cast<int64_t>(sizeof(float));
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
        const float* panel = panels + col / kPanel * k * kPanel + k0 * kPanel;
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

namespace {

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

}  // namespace

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
    for (; j < width; ++j) sq += (row[j] - mean) * (row[j] - mean);
    const float rstd = 1.f / std::sqrt(sq / static_cast<float>(width) + eps);
    const __m256 rstd8 = _mm256_set1_ps(rstd);
    for (j = 0; j + 8 <= width; j += 8) {
      const __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + j), mean8), rstd8);
      _mm256_storeu_ps(row + j, _mm256_fmadd_ps(n, _mm256_loadu_ps(gamma + j), _mm256_loadu_ps(beta + j)));
    }
    for (; j < width; ++j) row[j] = (row[j] - mean) * rstd * gamma[j] + beta[j];
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
    const float inv = finite && top > 0 ? 127.f / top : 0.f;
    row_scale[i] = finite ? top / 127.f : std::numeric_limits<float>::quiet_NaN();
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

namespace {

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
    const __m256 y0 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][0]), _mm256_mul_ps(rs, cs0)), b0);
    const __m256 y1 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][1]), _mm256_mul_ps(rs, cs1)), b1);
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

SBERT_AVX2 void multiply_panels_int8(const int16_t* p, int64_t m, int64_t k, const float* row_scale, const int8_t* panels, const float* col_scale,
                                     int64_t n, const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end) {
  const int64_t pairs = (k + 1) / 2, ldp = 2 * pairs, panel_bytes = pairs * 2 * kPanel;
  const int64_t total = int8_panel_bytes(n, k);
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
    const int64_t offset = start * s.row_stride + h * d;
    if (mask_of != b) {
      if (mask && !s.lengths) std::memcpy(mask_row.data(), mask + b * L, n * sizeof(float));
      else std::fill(mask_row.begin(), mask_row.begin() + n, 0.f);
      // Past the sequence: -inf, so those columns weigh exactly 0 even when every real key is masked.
      std::fill(mask_row.begin() + n, mask_row.begin() + cols, -std::numeric_limits<float>::infinity());
      mask_of = b;
    }
    // The keys are the "weights" of the scores ([n, d]; padding keys are zero panels, so padded columns score
    // 0); the values, as a [d, n] matrix, those of the context.
    pack_panels(k + offset, n, d, s.row_stride, 1, key_panels.data());
    pack_panels(v + offset, d, n, 1, s.row_stride, value_panels.data());
    for (int64_t i0 = 0; i0 < n; i0 += query_rows) {
      const int64_t rows = std::min(query_rows, n - i0);
      multiply_panels(q + offset + i0 * s.row_stride, s.row_stride, rows, d, key_panels.data(), cols, nullptr, scores.data(), cols, 0, cols);
      for (int64_t i = 0; i < rows; ++i) softmax_row(scores.data() + i * cols, mask_row.data(), cols, sqrt_d);
      multiply_panels(scores.data(), cols, rows, n, value_panels.data(), d, nullptr, out + (start + i0) * s.out_stride + h * d, s.out_stride, 0, d);
    }
  }
}

SBERT_AVX2 static void adamw_avx2(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  const __m256 decay = _mm256_set1_ps(s.decay ? s.decay_factor : 1.f), b1 = _mm256_set1_ps(s.beta1), a1 = _mm256_set1_ps(s.one_minus_beta1),
               b2 = _mm256_set1_ps(s.beta2), a2 = _mm256_set1_ps(s.one_minus_beta2), bc2 = _mm256_set1_ps(s.bias2_sqrt),
               eps = _mm256_set1_ps(s.eps), step = _mm256_set1_ps(s.neg_step_size);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 grad = _mm256_loadu_ps(g + i);
    const __m256 param = _mm256_mul_ps(_mm256_loadu_ps(p + i), decay);  // x 1 is exact when there is no decay
    const __m256 mi = _mm256_fmadd_ps(grad, a1, _mm256_mul_ps(_mm256_loadu_ps(m + i), b1));
    const __m256 vi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2), _mm256_mul_ps(_mm256_mul_ps(a2, grad), grad));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, _mm256_add_ps(param, _mm256_div_ps(_mm256_mul_ps(step, mi), denom)));
  }
  adamw_scalar(p, g, m, v, i, n, s);
}

void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  if (available()) return adamw_avx2(p, g, m, v, n, s);
  adamw_scalar(p, g, m, v, 0, n, s);
}

#else  // not x86-64 with GCC/Clang: callers see available() == false and use libtorch.

void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) { adamw_scalar(p, g, m, v, 0, n, s); }
void dropout_noise(float* out, int64_t n, const DropoutDraw& d) { dropout_scalar(out, 0, n, d); }

bool available() { return false; }
void multiply_panels(const float*, int64_t, int64_t, int64_t, const float*, int64_t, const float*, float*, int64_t, int64_t, int64_t) {
  throw std::logic_error("multiply_panels: this build has no AVX2 kernels (check kernels::available() first)");
}
void attention(const float*, const float*, const float*, const float*, float*, const AttentionShape&, int64_t, int64_t) {
  throw std::logic_error("attention: this build has no AVX2 kernels (check kernels::available() first)");
}
void add_layer_norm(float*, const float*, const float*, const float*, int64_t, int64_t, float) {
  throw std::logic_error("add_layer_norm: this build has no AVX2 kernels (check kernels::available() first)");
}
void gelu_inplace(float*, int64_t) { throw std::logic_error("gelu_inplace: this build has no AVX2 kernels (check kernels::available() first)"); }
void quantize_rows(const float*, int64_t, int64_t, int64_t, int16_t*, float*) {
  throw std::logic_error("quantize_rows: this build has no AVX2 kernels (check kernels::available() first)");
}
void multiply_panels_int8(const int16_t*, int64_t, int64_t, const float*, const int8_t*, const float*, int64_t, const float*, float*, int64_t, int64_t,
                          int64_t) {
  throw std::logic_error("multiply_panels_int8: this build has no AVX2 kernels (check kernels::available() first)");
}

#endif

}  // namespace sbert::kernels
