// The AVX-512 path (F, BW, VL; VNNI for int8). Each kernel gives avx2.cc's bits: the same fused multiply-adds per
// element, and reductions (softmax's sum, LayerNorm's) accumulated in 8 lanes in avx2.cc's order; what changes is
// how many columns, rows and elements one instruction and one register tile cover.
#include "kernels/internal.h"

#ifdef SBERT_KERNELS_X86

#include <immintrin.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

// GCC 12's AVX-512 intrinsics start many results from _mm512_undefined_*(), a variable initialized from itself,
// which -Wuninitialized then reports at every use (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace sbert::kernels::avx512 {

namespace {

// Register tiles (32 zmm registers): up to 12 rows x 2 panels, 24 accumulators, 2 panel rows and 1 broadcast.
constexpr int kMaxRows = 12;
constexpr int kMaxGroup = 2;
// Float32 weights streamed from memory (kStreamBytes) under at most this many rows go one panel at a time: a
// single sequential stream reads faster than two, and the few rows leave nothing for a wider tile to gain.
// Measured on this project's shapes, one thread, weights cycled through 30+ copies: 1-4 rows 10-25% faster one
// panel at a time; 8 rows and more 15-25% faster two at a time; weights in cache, two at a time is faster at any
// row count (up to 2x at 1 row), hence only for streamed weights.
constexpr int kFewRows = 6;

SBERT_AVX512 inline __mmask16 first_lanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1);
}

// c[0:R, group's columns] (+)= a[0:R, 0:kc] · P panels (each [kc][16], `stride` floats apart). accumulate: start
// from c; else from zero, and add bias (P x 16 floats, or null) at the end. cols: the group's columns (1 to 16P).
// Also prefetches the lines of ahead[0:P] (prefetch_share), one line of each per k.
template <int R, int P>
SBERT_AVX512 void micro(const float* a, int64_t lda, const float* panel, int64_t stride, int64_t kc, float* c, int64_t ldc, int64_t cols,
                        const float* bias, bool accumulate, const PrefetchLines* ahead) {
  __mmask16 mask[P];
  for (int p = 0; p < P; ++p) mask[p] = first_lanes(cols - p * kPanel);
  __m512 acc[R][P];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = accumulate ? _mm512_maskz_loadu_ps(mask[p], c + r * ldc + p * kPanel) : _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < kc; ++j) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      if (j < ahead[p].count) _mm_prefetch(ahead[p].from + j * 64, _MM_HINT_T0);
    }
    __m512 w[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) w[p] = _mm512_loadu_ps(panel + p * stride + j * kPanel);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(a[r * lda + j]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(x, w[p], acc[r][p]);
    }
  }
  if (bias != nullptr) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      const __m512 b = _mm512_maskz_loadu_ps(mask[p], bias + p * kPanel);
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r) acc[r][p] = _mm512_add_ps(acc[r][p], b);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) _mm512_mask_storeu_ps(c + r * ldc + p * kPanel, mask[p], acc[r][p]);
  }
}

using MicroFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t, int64_t, const float*, bool, const PrefetchLines*);

template <int P, int... R>
MicroFn micro_of_rows(int rows, std::integer_sequence<int, R...>) {
  MicroFn fn = nullptr;
  ((rows == R + 1 ? (fn = &micro<R + 1, P>, 0) : 0), ...);
  return fn;
}

// The micro-kernel for `rows` rows (1 to 12) over `panels` panels (1 or 2).
MicroFn micro_for(int rows, int panels) {
  return panels == 1 ? micro_of_rows<1>(rows, std::make_integer_sequence<int, kMaxRows>())
                     : micro_of_rows<2>(rows, std::make_integer_sequence<int, kMaxRows>());
}

// As avx2.cc's exp8, 16 lanes at a time (the same operations, so the same results).
SBERT_AVX512 inline __m512 exp16(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.3f), hi = _mm512_set1_ps(88.3f);
  const __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  const __m512i exponent = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~underflow), _mm512_mul_ps(p, _mm512_castsi512_ps(exponent)));
}

SBERT_AVX512 inline __m256 low8(__m512 v) { return _mm512_castps512_ps256(v); }
SBERT_AVX512 inline __m256 high8(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

// avx2.cc's sum8: the same pairing of lanes.
SBERT_AVX512 inline float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// As avx2.cc's softmax_row (width a multiple of 16): the sum of the exponentials in 8 lanes, in its order.
template <bool kBias>
SBERT_AVX512 void softmax_row(float* row, const float* mask, const float* bias, int64_t n, int64_t width, float sqrt_d) {
  const __m512 divisor = _mm512_set1_ps(sqrt_d);
  __m512 top = _mm512_set1_ps(-std::numeric_limits<float>::max());
  for (int64_t j = 0; j < width; j += 16) {
    __m512 x = _mm512_div_ps(_mm512_loadu_ps(row + j), divisor);
    if constexpr (kBias) {
      if (j < n) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(first_lanes(n - j), bias + j));
    }
    x = _mm512_add_ps(x, _mm512_loadu_ps(mask + j));
    _mm512_storeu_ps(row + j, x);
    top = _mm512_max_ps(top, x);
  }
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(top));
  __m256 total = _mm256_setzero_ps();
  for (int64_t j = 0; j < width; j += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), m));
    _mm512_storeu_ps(row + j, e);
    total = _mm256_add_ps(_mm256_add_ps(total, low8(e)), high8(e));
  }
  const __m512 inv = _mm512_set1_ps(1.f / sum8(total));
  for (int64_t j = 0; j < width; j += 16) _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), inv));
}

// As avx2.cc's gelu8 (sign handling in integer lanes: AVX-512F has no float and/or).
SBERT_AVX512 inline __m512 gelu16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512i sign_bit = _mm512_set1_epi32(static_cast<int>(0x80000000U));
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512i sign = _mm512_and_epi32(_mm512_castps_si512(z), sign_bit);
  const __m512 a = _mm512_castsi512_ps(_mm512_andnot_epi32(sign_bit, _mm512_castps_si512(z)));
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), a, one));
  __m512 poly = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
  poly = _mm512_mul_ps(poly, t);
  const __m512 neg_a2 = _mm512_castsi512_ps(_mm512_xor_epi32(_mm512_castps_si512(_mm512_mul_ps(a, a)), sign_bit));
  const __m512 erf_a = _mm512_fnmadd_ps(poly, exp16(neg_a2), one);
  const __m512 signed_erf = _mm512_castsi512_ps(_mm512_or_epi32(_mm512_castps_si512(erf_a), sign));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, signed_erf));
}

struct AdamWVectors {
  __m512 decay, b1, a1, b2, a2, bc2, eps, step;
};
// avx2.cc's adamw8, 16 lanes.
SBERT_AVX512 inline void adamw16(__m512& p, __m512 grad, __m512& m, __m512& v, const AdamWVectors& s) {
  m = _mm512_fmadd_ps(grad, s.a1, _mm512_mul_ps(m, s.b1));
  v = _mm512_fmadd_ps(_mm512_mul_ps(s.a2, grad), grad, _mm512_mul_ps(v, s.b2));
  const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v), s.bc2), s.eps);
  p = _mm512_fmadd_ps(p, s.decay, _mm512_div_ps(_mm512_mul_ps(s.step, m), denom));
}

SBERT_AVX512 inline __m512i mix32_16(__m512i x) {
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(0x7feb352d));
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(0x846ca68bU)));
  return _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
}

// acc += the four-byte dot products of u (unsigned) and w (signed) in each int32 lane. GCC 12 keeps the builtin's
// accumulator apart from its result and copies it back each time, which at 12 x 2 tiles spills accumulators to
// the stack inside the loop (measured: 12-row tiles ran at 2/3 the rate of 8-row ones); written in place it does not.
SBERT_AVX512_VNNI inline void dot_accumulate(__m512i& acc, __m512i u, __m512i w) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(w));
#else
  acc = _mm512_dpbusd_epi32(acc, u, w);
#endif
}

// int8 products with VNNI. vpdpbusd multiplies unsigned bytes by signed ones, four at a time: the activations
// (p in [-127, 127]) enter as u = p + 128 (1 to 255), and each column's sum loses 128 · Σ_k q[j, k], which
// pack_panels_int8 stores at the head of the column's panel. Σ u q - 128 Σ q = Σ p q exactly in int32 (the
// intermediate sums wrap modulo 2^32 where they overflow, and the difference fits), so the products equal
// avx2.cc's bit for bit.
//
// c[0:R, group's columns] = dequantized (u[0:R] · P panels) + bias, accumulators in registers over all k. panel:
// the first panel's header; the others follow panel_bytes apart. Prefetches ahead's lines, P a k-quad.
template <int R, int P>
SBERT_AVX512_VNNI void micro_vnni(const uint8_t* u, int64_t ldu, const int8_t* panel, int64_t panel_bytes, int64_t quads, const float* row_scale,
                                  const float* col_scale, const float* bias, float* c, int64_t ldc, int64_t cols, PrefetchLines ahead) {
  __mmask16 mask[P];
  for (int p = 0; p < P; ++p) mask[p] = first_lanes(cols - p * kPanel);
  __m512i acc[R][P];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_si512();
  }
  const int8_t* body = panel + kPanel * 4;
  for (int64_t j = 0; j < quads; ++j) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      if (j * P + p < ahead.count) _mm_prefetch(ahead.from + (j * P + p) * 64, _MM_HINT_T0);
    }
    __m512i w[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) w[p] = _mm512_loadu_si512(body + p * panel_bytes + j * 4 * kPanel);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      int32_t quad;
      std::memcpy(&quad, u + r * ldu + 4 * j, sizeof quad);
      const __m512i x = _mm512_set1_epi32(quad);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) dot_accumulate(acc[r][p], x, w[p]);
    }
  }
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p) {
    const __m512i correction = _mm512_loadu_si512(panel + p * panel_bytes);
    const __m512 cs = _mm512_maskz_loadu_ps(mask[p], col_scale + p * kPanel);
    const __m512 b = bias != nullptr ? _mm512_maskz_loadu_ps(mask[p], bias + p * kPanel) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 sum = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][p], correction));
      const __m512 y = _mm512_fmadd_ps(sum, _mm512_mul_ps(_mm512_set1_ps(row_scale[r]), cs), b);
      _mm512_mask_storeu_ps(c + r * ldc + p * kPanel, mask[p], y);
    }
  }
}

using MicroVnniFn = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, int64_t, const float*, const float*, const float*, float*, int64_t,
                             int64_t, PrefetchLines);

template <int P, int... R>
MicroVnniFn micro_vnni_of_rows(int rows, std::integer_sequence<int, R...>) {
  MicroVnniFn fn = nullptr;
  ((rows == R + 1 ? (fn = &micro_vnni<R + 1, P>, 0) : 0), ...);
  return fn;
}

MicroVnniFn micro_vnni_for(int rows, int panels) {
  return panels == 1 ? micro_vnni_of_rows<1>(rows, std::make_integer_sequence<int, kMaxRows>())
                     : micro_vnni_of_rows<2>(rows, std::make_integer_sequence<int, kMaxRows>());
}

// u[i, 0:k4] = p[i, 0:k] + 128 as bytes (k4: k rounded up to 4; the pad 128, which meets zero weights).
SBERT_AVX512 void offset_rows(const int16_t* p, int64_t ldp, int64_t m, int64_t k, uint8_t* u, int64_t ldu) {
  const __m512i offset = _mm512_set1_epi16(128);
  for (int64_t i = 0; i < m; ++i) {
    const int16_t* src = p + i * ldp;
    uint8_t* dst = u + i * ldu;
    for (int64_t j = 0; j < k; j += 32) {
      const __mmask32 lanes = k - j >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((uint64_t{1} << (k - j)) - 1);
      const __m512i x = _mm512_add_epi16(_mm512_maskz_loadu_epi16(lanes, src + j), offset);
      _mm256_mask_storeu_epi8(dst + j, lanes, _mm512_cvtepi16_epi8(x));
    }
    for (int64_t j = k; j < ldu; ++j) dst[j] = 128;
  }
}

}  // namespace

// multiply_panels over panels `stride` floats apart, `total` bytes from `panels` readable (see avx2.cc).
SBERT_AVX512 static void multiply_panels_strided(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t stride,
                                                 int64_t total, const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end) {
  const bool stream = total > kStreamBytes;
  const int64_t blocks = (k + kBlockK - 1) / kBlockK;
  for (int64_t m0 = 0; m0 < m; m0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, m - m0);
    const int group = stream && rows <= kFewRows ? 1 : 2;
    const int64_t calls = (rows + kMaxRows - 1) / kMaxRows;
    // A group of panels at a time (the panels lie one after the other in memory; a group reads `group` streams).
    for (int64_t col = col_begin; col < col_end; col += group * kPanel) {
      const int64_t cols = std::min<int64_t>(group * kPanel, col_end - col);
      const int panels_here = static_cast<int>((cols + kPanel - 1) / kPanel);
      const int64_t group_index = (col - col_begin) / (group * kPanel);
      for (int64_t k0 = 0; k0 < k; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, k - k0);
        const float* panel = panels + col / kPanel * stride + k0 * kPanel;
        const float* b = bias != nullptr && k0 == 0 ? bias + col : nullptr;
        // The calls prefetch the block read kPrefetchAhead blocks later: of this group or of one further on.
        const int64_t later = group_index * blocks + k0 / kBlockK + kPrefetchAhead;
        const int64_t later_col = col_begin + later / blocks * group * kPanel, later_k0 = later % blocks * kBlockK;
        const int64_t later_lines = std::min(kBlockK, k - later_k0);
        int64_t row = m0;
        for (int64_t i = 0; i < calls; ++i) {
          const int r = rows_of_call(rows, calls, i);
          PrefetchLines ahead[kMaxGroup];
          for (int p = 0; p < panels_here; ++p) {
            const int64_t offset = ((later_col / kPanel + p) * stride + later_k0 * kPanel) * static_cast<int64_t>(sizeof(float));
            ahead[p] = prefetch_share(panels, total, stream, offset, later_lines, calls, i);
          }
          micro_for(r, panels_here)(a + row * lda + k0, lda, panel, stride, kc, c + row * ldc + col, ldc, cols, b, k0 > 0, ahead);
          row += r;
        }
      }
    }
  }
}

SBERT_AVX512 void multiply_panels(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n, const float* bias, float* c,
                                  int64_t ldc, int64_t col_begin, int64_t col_end) {
  multiply_panels_strided(a, lda, m, k, panels, k * kPanel, panel_floats(n, k) * static_cast<int64_t>(sizeof(float)), bias, c, ldc, col_begin, col_end);
}

SBERT_AVX512 void gelu_inplace(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 lanes = first_lanes(n - i);
    _mm512_mask_storeu_ps(x + i, lanes, gelu16(_mm512_maskz_loadu_ps(lanes, x + i)));
  }
}

// bf16_of on 16 floats, narrowed to 16 bits (F's vpmovdw).
SBERT_AVX512 inline __m256i bf16_of16(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7fc0)));
}

SBERT_AVX512 void to_bf16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), bf16_of16(_mm512_loadu_si512(x + i)));
  if (i < n) {
    const __mmask16 lanes = first_lanes(n - i);
    _mm256_mask_storeu_epi16(out + i, lanes, bf16_of16(_mm512_maskz_loadu_epi32(lanes, x + i)));
  }
}

SBERT_AVX512 void from_bf16(const uint16_t* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    _mm512_storeu_si512(out + i, _mm512_slli_epi32(w, 16));
  }
  if (i < n) {
    const __mmask16 lanes = first_lanes(n - i);
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, x + i));
    _mm512_mask_storeu_epi32(out + i, lanes, _mm512_slli_epi32(w, 16));
  }
}

SBERT_AVX512 void add_layer_norm(float* x, const float* residual, const float* gamma, const float* beta, int64_t rows, int64_t width, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = x + i * width;
    const float* res = residual + i * width;
    // The sums in 8 lanes, 8 elements at a time in order, then the scalar rest: avx2.cc's order.
    __m256 sum8v = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= width; j += 16) {
      const __m512 v = _mm512_add_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(res + j));
      _mm512_storeu_ps(row + j, v);
      sum8v = _mm256_add_ps(_mm256_add_ps(sum8v, low8(v)), high8(v));
    }
    for (; j + 8 <= width; j += 8) {
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(res + j));
      _mm256_storeu_ps(row + j, v);
      sum8v = _mm256_add_ps(sum8v, v);
    }
    float sum = sum8(sum8v);
    for (; j < width; ++j) sum += (row[j] += res[j]);
    const float mean = sum / static_cast<float>(width);
    const __m512 mean16 = _mm512_set1_ps(mean);
    __m256 sq8 = _mm256_setzero_ps();
    for (j = 0; j + 16 <= width; j += 16) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(row + j), mean16);
      sq8 = _mm256_fmadd_ps(high8(d), high8(d), _mm256_fmadd_ps(low8(d), low8(d), sq8));
    }
    for (; j + 8 <= width; j += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + j), low8(mean16));
      sq8 = _mm256_fmadd_ps(d, d, sq8);
    }
    float sq = sum8(sq8);
    for (; j < width; ++j) sq = std::fma(row[j] - mean, row[j] - mean, sq);
    const float rstd = 1.f / std::sqrt(sq / static_cast<float>(width) + eps);
    const __m512 rstd16 = _mm512_set1_ps(rstd);
    // Element by element: 16 at a time, the rest masked.
    for (j = 0; j < width; j += 16) {
      const __mmask16 lanes = first_lanes(width - j);
      const __m512 nrm = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes, row + j), mean16), rstd16);
      _mm512_mask_storeu_ps(row + j, lanes, _mm512_fmadd_ps(nrm, _mm512_maskz_loadu_ps(lanes, gamma + j), _mm512_maskz_loadu_ps(lanes, beta + j)));
    }
  }
}

SBERT_AVX512 void quantize_rows(const float* a, int64_t lda, int64_t m, int64_t k, int16_t* p, float* row_scale) {
  const int64_t ldp = (k + 1) / 2 * 2;
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  for (int64_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    int16_t* out = p + i * ldp;
    __m512 top16 = _mm512_setzero_ps();
    __mmask16 nan = 0;
    for (int64_t j = 0; j < k; j += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(first_lanes(k - j), x + j);  // the lanes past k are 0: no effect
      top16 = _mm512_max_ps(top16, _mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(v), abs_mask)));
      nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    const float top = _mm512_reduce_max_ps(top16);
    const bool finite = nan == 0 && std::isfinite(top);
    // As avx2.cc: all zero gives p = 0 and the bias; not finite, p = 0 and a NaN scale.
    row_scale[i] = finite ? top / 127.f : std::numeric_limits<float>::quiet_NaN();
    if (!finite) {
      std::memset(out, 0, ldp * sizeof(int16_t));
      continue;
    }
    const __m512 scale = _mm512_set1_ps(top > 0 ? 127.f / top : 0.f);
    for (int64_t j = 0; j < k; j += 16) {
      const __mmask16 lanes = first_lanes(k - j);
      // Round half to even (the default rounding mode); |values| <= 127, so the narrowing saturates nothing.
      const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, x + j), scale));
      _mm256_mask_storeu_epi16(out + j, lanes, _mm512_cvtsepi32_epi16(q));
    }
    if (ldp > k) out[k] = 0;
  }
}

SBERT_AVX512_VNNI void multiply_panels_int8(const int16_t* p, int64_t m, int64_t k, const float* row_scale, const int8_t* panels,
                                            const float* col_scale, int64_t n, const float* bias, float* c, int64_t ldc, int64_t col_begin,
                                            int64_t col_end) {
  const int64_t ldp = (k + 1) / 2 * 2, quads = (k + 3) / 4, ldu = 4 * quads;
  const int64_t panel_bytes = kPanel * 4 + quads * 4 * kPanel;
  const int64_t total = (n + kPanel - 1) / kPanel * panel_bytes;
  // Per thread, reused across calls: the activations as unsigned bytes (each thread converts its own copy; the
  // conversion is a small fraction of a column block's multiply-adds).
  thread_local std::vector<uint8_t> u;
  u.resize(m * ldu);
  offset_rows(p, ldp, m, k, u.data(), ldu);
  for (int64_t m0 = 0; m0 < m; m0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, m - m0);
    const int group = kMaxGroup;
    const int64_t calls = (rows + kMaxRows - 1) / kMaxRows;
    for (int64_t col = col_begin; col < col_end; col += group * kPanel) {
      const int64_t cols = std::min<int64_t>(group * kPanel, col_end - col);
      const int panels_here = static_cast<int>((cols + kPanel - 1) / kPanel);
      const int64_t offset = col / kPanel * panel_bytes;
      // The group's panels lie together in memory, and the next group right after them: the calls prefetch it,
      // whatever the weights' size, unlike float32 ones (kStreamBytes): int8 matrices are small enough that many
      // under 1 MiB still come from memory in a model's pass (BERT-base's 768 x 768: 0.6 MB of 85), and asking for
      // lines already in cache costs little. Measured, one thread, 384 x 1536 (0.6 MB) cycled through 100 copies:
      // 1.1-2.6x faster prefetched (most at 4-8 rows); one copy, in cache: within a few percent either way.
      const int64_t next = offset + panels_here * panel_bytes;
      int64_t row = m0;
      for (int64_t i = 0; i < calls; ++i) {
        const int r = rows_of_call(rows, calls, i);
        micro_vnni_for(r, panels_here)(u.data() + row * ldu, ldu, panels + offset, panel_bytes, quads, row_scale + row, col_scale + col,
                                       bias != nullptr ? bias + col : nullptr, c + row * ldc + col, ldc, cols,
                                       prefetch_share(panels, total, true, next, group * panel_bytes / 64, calls, i));
        row += r;
      }
    }
  }
}

SBERT_AVX512 void attention(const float* q, const float* k, const float* v, const float* mask, float* out, const AttentionShape& s,
                            int64_t begin, int64_t end) {
  // avx2.cc's attention on this path's products and softmax (see there for the layout of the scratch).
  const int64_t L = s.seq_len, d = s.head_dim;
  const int64_t width = (L + kPanel - 1) / kPanel * kPanel;
  thread_local std::vector<float> key_panels, value_panels, scores, mask_row;
  const int64_t query_rows = std::min(L, kBlockRows);
  key_panels.resize(panel_floats(L, d));
  value_panels.resize(panel_floats(d, L));
  scores.resize(query_rows * width);
  mask_row.resize(width);
  const float sqrt_d = std::sqrt(static_cast<float>(d));
  int64_t mask_of = -1;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item / s.heads, h = item % s.heads;
    const int64_t n = s.lengths ? s.lengths[b] : L;
    if (n <= 0) continue;
    const int64_t start = s.starts ? s.starts[b] : b * L;
    const int64_t cols = (n + kPanel - 1) / kPanel * kPanel;
    const int64_t offset = start * s.row_stride + h * d, kv_offset = start * s.row_stride + kv_head_of(s, h) * d;
    if (mask_of != b) {
      if (mask && !s.lengths) std::memcpy(mask_row.data(), mask + b * L, n * sizeof(float));
      else std::fill(mask_row.begin(), mask_row.begin() + n, 0.f);
      std::fill(mask_row.begin() + n, mask_row.begin() + cols, -std::numeric_limits<float>::infinity());
      mask_of = b;
    }
    pack_panels(k + kv_offset, n, d, s.row_stride, 1, key_panels.data());
    pack_panels(v + kv_offset, d, n, 1, s.row_stride, value_panels.data());
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

SBERT_AVX512 void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  const AdamWVectors sv{_mm512_set1_ps(s.decay ? s.decay_factor : 1.f), _mm512_set1_ps(s.beta1), _mm512_set1_ps(s.one_minus_beta1),
                        _mm512_set1_ps(s.beta2),  _mm512_set1_ps(s.one_minus_beta2), _mm512_set1_ps(s.bias2_sqrt),
                        _mm512_set1_ps(s.eps),    _mm512_set1_ps(s.neg_step_size)};
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 lanes = first_lanes(n - i);
    __m512 pi = _mm512_maskz_loadu_ps(lanes, p + i), mi = _mm512_maskz_loadu_ps(lanes, m + i), vi = _mm512_maskz_loadu_ps(lanes, v + i);
    adamw16(pi, _mm512_maskz_loadu_ps(lanes, g + i), mi, vi, sv);
    _mm512_mask_storeu_ps(m + i, lanes, mi);
    _mm512_mask_storeu_ps(v + i, lanes, vi);
    _mm512_mask_storeu_ps(p + i, lanes, pi);
  }
}

SBERT_AVX512 void dropout_noise(float* out, int64_t n, const DropoutDraw& d) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i key1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(d.seed)));
  const __m512i threshold = _mm512_set1_epi32(static_cast<int>(d.keep_threshold));
  const __m512 scale = _mm512_set1_ps(d.scale);
  int64_t i = 0;
  while (i < n) {
    // Runs of indices that share their high 32 bits (one second key serves a run; the lanes add in 32 bits).
    const uint64_t j = static_cast<uint64_t>(i);
    const int64_t run = static_cast<int64_t>(std::min<uint64_t>((uint64_t{1} << 32) - (j & 0xffffffffULL), static_cast<uint64_t>(n - i)));
    const __m512i key2 = _mm512_set1_epi32(static_cast<int>(dropout_key2(j, d.seed)));
    __m512i index = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(j))), lanes);
    const int64_t end = i + run;
    for (; i < end; i += 16) {
      const __m512i h = mix32_16(_mm512_add_epi32(mix32_16(_mm512_xor_si512(index, key1)), key2));
      const __mmask16 keep = _mm512_cmpgt_epi32_mask(threshold, _mm512_srli_epi32(h, 8));  // both below 2^24: signed compare is exact
      _mm512_mask_storeu_ps(out + i, first_lanes(end - i), _mm512_maskz_mov_ps(keep, scale));
      index = _mm512_add_epi32(index, _mm512_set1_epi32(16));
    }
    i = end;
  }
}

}  // namespace sbert::kernels::avx512

#endif
