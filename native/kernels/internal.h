// What the kernels' ISA paths share: each path's entry points (one namespace per ISA, the public functions of
// kernels.h without their Isa argument, dispatched in cpu.cc), the blocking constants that fix the order sums
// run in, and the scalar pieces every path computes the same way. Not part of the kernels' API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SBERT_KERNELS_X86 1
// Only functions marked with these use AVX2/FMA or AVX-512; the rest of the addon (the generic path included)
// stays baseline x86-64, and best_isa() decides at run time. Per function rather than per file: inline functions
// from headers compiled in a file built for AVX-512 could be the copy the linker keeps for the whole addon.
// AVX-512 code uses F, BW and VL only (what best_isa() requires); VNNI code is marked apart (has_vnni()).
#define SBERT_AVX2 __attribute__((target("avx2,fma")))
#define SBERT_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl")))
#define SBERT_AVX512_VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#endif

namespace sbert::kernels {

// k is cut into blocks of this many so that a panel's block (16 KiB) stays in L1 while every row block of a
// product streams past it. Fixed, so sums always break at the same k: the bias joins each sum after the first
// block, on every path.
constexpr int64_t kBlockK = 256;
// Rows of a (and c) handled per pass over the panels; a's block stays in L2.
constexpr int64_t kBlockRows = 96;
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

// float32 -> bf16, round to nearest, ties to even; NaN -> 0x7fc0 (c10::BFloat16's scalar conversion). The vector
// paths compute the same integers.
inline uint16_t bf16_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffU) > 0x7f800000U) return 0x7fc0;
  return static_cast<uint16_t>((u + 0x7fffU + ((u >> 16) & 1U)) >> 16);
}

inline float float_of_bf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
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

// The int8 panels' layouts. Pairs: per panel, k in pairs (k padded to even), per pair the 16 columns each as
// (q[j, k], q[j, k + 1]) — 32 bytes, what vpmaddwd multiplies once widened to int16. Quads (AVX-512 VNNI): per
// panel, first the 16 columns' int32 sums 128 · Σ_k q[j, k] (64 bytes, see avx512.cc), then k in quads (k padded
// to a multiple of 4), per quad the 16 columns each as q[j, k..k+3] — 64 bytes, one vpdpbusd operand.
enum class Int8Layout { Pairs, Quads };
Int8Layout int8_layout(Isa isa);

// Each ISA's entry points, as in kernels.h without the Isa argument.
#define SBERT_KERNEL_ENTRY_POINTS                                                                                                          \
  void multiply_panels(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n, const float* bias, float* c,    \
                       int64_t ldc, int64_t col_begin, int64_t col_end);                                                                 \
  void quantize_rows(const float* a, int64_t lda, int64_t m, int64_t k, int16_t* p, float* row_scale);                                   \
  void multiply_panels_int8(const int16_t* p, int64_t m, int64_t k, const float* row_scale, const int8_t* panels, const float* col_scale, \
                            int64_t n, const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end);                     \
  void gelu_inplace(float* x, int64_t n);                                                                                                \
  void to_bf16(const float* x, uint16_t* out, int64_t n);                                                                                \
  void from_bf16(const uint16_t* x, float* out, int64_t n);                                                                              \
  void add_layer_norm(float* x, const float* residual, const float* gamma, const float* beta, int64_t rows, int64_t width, float eps);  \
  void attention(const float* q, const float* k, const float* v, const float* mask, float* out, const AttentionShape& shape,           \
                 int64_t begin, int64_t end);                                                                                            \
  void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& step);                                          \
  void dropout_noise(float* out, int64_t n, const DropoutDraw& draw);

namespace generic {
SBERT_KERNEL_ENTRY_POINTS
}
#ifdef SBERT_KERNELS_X86
namespace avx2 {
SBERT_KERNEL_ENTRY_POINTS
}
namespace avx512 {
SBERT_KERNEL_ENTRY_POINTS
}
#endif

#undef SBERT_KERNEL_ENTRY_POINTS

}  // namespace sbert::kernels
