// sbert-node's own float32 CPU kernels, used where libtorch + OpenBLAS lose time. For inference:
//  - products over few rows (a short sentence, a couple of them): OpenBLAS repacks the weight matrix on every
//    call, a third of the time at ~20 rows in a profile. Here the weights are packed once (pack_panels) and the
//    product streams through them (multiply_panels): 1.1-1.7x OpenBLAS per core below ~64 rows, measured
//    side by side on this project's shapes; OpenBLAS stays ahead on large products, which keep using it.
//  - the same in int8 (int8 models over few rows): oneDNN's quantized product loses to float32 there, and
//    this one streams a quarter of the bytes (multiply_panels_int8);
//  - attention over short sequences: libtorch runs QKᵀ and PV as one small GEMM call per (sentence, head),
//    at 5-9 GFLOP/s against 80+ for the linear layers. attention() does scores, scaling, mask, softmax and PV per
//    (sentence, head) in cache, without a [batch, heads, L, L] tensor.
//  - GELU (erf form) in one vectorized pass, and the residual add with LayerNorm in one pass over each row, which
//    a lone request splits with its helper (gelu_inplace, add_layer_norm).
//  - bf16 inference's conversions of activations to bf16 and back, vectorized and split over a call's parts
//    (to_bf16, from_bf16): libtorch's ran its AVX2 code on one thread.
// For training: the AdamW update in one pass per parameter (adamw), and dropout's noise from a counter-based hash
// (dropout_noise) instead of libtorch's bernoulli_, which draws element by element from a locked generator.
// Plain C++ on raw pointers (no libtorch here).
//
// Each kernel has a path per instruction set (Isa), and takes the one to run as its first argument: the caller
// decides (from its per-call settings), never a global. Generic is portable C++ that runs on any CPU (arm64, x86
// before AVX2), slower but with the same layouts and contracts; Avx2 needs AVX2 + FMA; Avx512 needs AVX-512 F, BW
// and VL (and uses VNNI for int8 where present). Asking for a path the CPU lacks (supported() is false) throws
// std::invalid_argument rather than faulting on the first instruction.
//
// Every output element is summed over k in one fixed order, whatever the number of rows or the column range
// asked for, so splitting a product by columns (or attention by items) among threads gives the same bits. The
// Avx2 and Avx512 paths give the same bits as each other for every kernel (the same fused multiply-adds per
// element, reductions in the same order), and so do all paths for dropout_noise, quantize_rows and
// multiply_panels_int8 (exact integer sums, then the same float arithmetic). Generic agrees with them to float32
// rounding (it sums without fusing the multiply-adds where the CPU has no FMA instruction, and uses std::exp).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sbert::kernels {

enum class Isa { Generic, Avx2, Avx512 };

// The best path this CPU (and its operating system, for the AVX and AVX-512 register state) runs, read once.
Isa best_isa();
bool supported(Isa isa);
// AVX-512 VNNI (vpdpbusd: Avx512's int8 products use it; without it they run Avx2's), AVX-512 BF16 and AMX-BF16
// (either lets oneDNN multiply bf16 natively: bf16 inference needs one).
bool has_vnni();
bool has_avx512_bf16();
bool has_amx_bf16();
// "generic", "avx2", "avx512"; parse_isa gives nullopt for anything else.
const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);

// Panels of 16 rows of a [n, k] matrix w (element (i, j) at w[i * stride_n + j * stride_k]), each stored k-major
// as [k][16] floats, the last one zero-padded: the layout multiply_panels streams through, the same for every
// Isa (prepared weights serve every path).
constexpr int64_t kPanel = 16;
int64_t panel_floats(int64_t n, int64_t k);
void pack_panels(const float* w, int64_t n, int64_t k, int64_t stride_n, int64_t stride_k, float* out);
// The same for a matrix whose row i starts at rows[i] (rows of several matrices stacked: Q, K and V weights).
void pack_panels(const float* const* rows, int64_t n, int64_t k, int64_t stride_k, float* out);

// c[i, j] = bias[j] + sum_k a[i, k] * w[j, k] for rows i < m and columns j in [col_begin, col_end), w given as
// panels (n columns in all), bias optional. col_begin must be a multiple of 16. a's rows are lda floats apart,
// c's ldc. Each sum runs over k in order, the bias joining it after the first 256 terms.
void multiply_panels(Isa isa, const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n, const float* bias, float* c,
                     int64_t ldc, int64_t col_begin, int64_t col_end);

// int8 products over few rows (int8 inference): the weights quantized per output column (w[j, k] ≈ col_scale[j]
// · q[j, k], q in [-127, 127], packed once by pack_panels_int8), each row of a quantized on the fly with its own
// scale (quantize_rows: a[i, k] ≈ row_scale[i] · p[i, k], p = round(a · 127 / max_k |a[i, k]|)), sums exact in
// int32: c[i, j] = float(sum_k p[i, k] q[j, k]) · (row_scale[i] · col_scale[j]) + bias[j], that last step one
// fused multiply-add. A quarter of the float32 panels' bytes to stream, and more multiply-adds per instruction
// (AVX2 vpmaddwd on int16 pairs, AVX-512 VNNI vpdpbusd on byte quads). The panels' layout depends on the Isa:
// pack them for the Isa that multiplies them.
int64_t int8_panel_bytes(Isa isa, int64_t n, int64_t k);
void pack_panels_int8(Isa isa, const int8_t* q, int64_t n, int64_t k, int8_t* out);  // q: [n, k], row-major
// p: [m, k rounded up to even] int16 (the pad column 0), row_scale: [m]. The same on every Isa. A row with a NaN
// or infinity gets p = 0 and a NaN scale, so its products are NaN, as float32 would give.
void quantize_rows(Isa isa, const float* a, int64_t lda, int64_t m, int64_t k, int16_t* p, float* row_scale);
// c (rows ldc apart) for columns [col_begin, col_end), col_begin a multiple of 16; bias optional.
void multiply_panels_int8(Isa isa, const int16_t* p, int64_t m, int64_t k, const float* row_scale, const int8_t* panels, const float* col_scale,
                          int64_t n, const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end);

// GELU in its erf form (torch.nn.functional.gelu's default), in place over n floats: 0.5 x (1 + erf(x / √2)),
// erf from Abramowitz and Stegun's formula 7.1.26 (absolute error under 1.5e-7). Every element gets the same
// arithmetic wherever it sits in the array, so splitting an array among threads gives the same bits.
void gelu_inplace(Isa isa, float* x, int64_t n);

// float32 <-> bf16 (the upper 16 bits of a float32; bf16 inference's activations). to_bf16 rounds to nearest, ties
// to even, as libtorch's scalar conversion does (denormals kept, any NaN -> 0x7fc0), on every path the same bits;
// from_bf16 is exact. Elementwise, so splitting an array among threads gives the same bits.
void to_bf16(Isa isa, const float* x, uint16_t* out, int64_t n);
void from_bf16(Isa isa, const uint16_t* x, float* out, int64_t n);

// x = LayerNorm(x + residual) row by row, in place ([rows, width]; gamma, beta [width]; biased variance, as
// torch.nn.LayerNorm). The residual add and the norm in one pass over each row, in cache.
void add_layer_norm(Isa isa, float* x, const float* residual, const float* gamma, const float* beta, int64_t rows, int64_t width, float eps);

// Scaled dot-product attention of a batch, for items [begin, end) of batch * heads (item = b * heads + h):
// out[b, i, h*d : (h+1)*d] = softmax_j(q_i · k_j / sqrt(d) + mask[b, j]) · v_j. q, k and v point at head 0 of
// the first token of the batch; a token's row is `row_stride` floats long (3H for a fused QKV output), heads
// follow each other head_dim floats apart; out rows are out_stride floats apart; mask is [batch, seq_len],
// additive. Packed sequences (padding left out): with `starts` and `lengths` ([batch] each), sentence b is
// lengths[b] <= seq_len rows from row starts[b], every one of them attended (mask is then unused, may be null).
// A relative position bias (MPNet), optional: rel_bias [heads][2 seq_len - 1], and the score of query i and key
// j (positions within the sentence: row offsets from its start when packed, indices in the padded row else)
// becomes q_i · k_j / sqrt(d) + rel_bias[h (2 seq_len - 1) + j - i + seq_len - 1] + mask[b, j], in that order.
// Grouped-query attention: with kv_heads > 0, k and v hold kv_heads heads (heads a multiple of it) and query head h
// reads key and value head h / (heads / kv_heads); 0: as many as the queries. A band (causal and sliding-window
// attention): query i attends key j only where i - window_left <= j <= i + window_right (positions as for
// rel_bias); a negative bound is no bound. Keys outside weigh exactly 0; the query's own key is always inside.
struct AttentionShape {
  int64_t batch, seq_len, heads, head_dim, row_stride, out_stride;
  const int64_t* starts = nullptr;
  const int64_t* lengths = nullptr;
  const float* rel_bias = nullptr;
  int64_t kv_heads = 0;
  int64_t window_left = -1, window_right = -1;
};

// The band's keys of query i among a sentence's n: [first, last).
struct KeyRange {
  int64_t first, last;
};
inline KeyRange band_keys(const AttentionShape& s, int64_t i, int64_t n) {
  const int64_t first = s.window_left < 0 ? 0 : (i - s.window_left > 0 ? i - s.window_left : 0);
  const int64_t last = s.window_right < 0 ? n : (i + s.window_right + 1 < n ? i + s.window_right + 1 : n);
  return {first, last};
}
inline int64_t kv_head_of(const AttentionShape& s, int64_t h) { return s.kv_heads > 0 ? h / (s.heads / s.kv_heads) : h; }
void attention(Isa isa, const float* q, const float* k, const float* v, const float* mask, float* out, const AttentionShape& shape,
               int64_t begin, int64_t end);

// One AdamW update (torch.optim.AdamW's arithmetic, element by element) over n parameters in one pass. libtorch's
// ops take eight passes over the arrays and two temporaries of the parameter's size.
//   p = p * decay_factor (when decay); m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g²;
//   p = p + neg_step_size * m / (sqrt(v) / bias2_sqrt + eps)
// Generic rounds after each operation, in the order libtorch's ops do; Avx2 and Avx512 fuse three of the
// multiply-adds (adamw in avx2.cc), the same for every element wherever the array is cut.
struct AdamWStep {
  bool decay;
  float decay_factor, beta1, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps, neg_step_size;
};
void adamw(Isa isa, float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& step);

// Dropout noise over n floats: out[i] = scale where element i is kept, else 0. Element i is kept when the top 24
// bits of a 32-bit hash of (i, seed) fall below keep_threshold (the keep probability times 2^24, rounded). Each
// element's draw depends only on its index and the seed, so the same seed gives the same noise on every CPU and
// every Isa (the paths compute the same integers).
struct DropoutDraw {
  uint64_t seed;
  uint32_t keep_threshold;
  float scale;
};
void dropout_noise(Isa isa, float* out, int64_t n, const DropoutDraw& draw);

}  // namespace sbert::kernels
