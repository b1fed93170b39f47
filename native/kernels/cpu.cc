// What the CPU runs (cpuid, once), the Isa names, and each kernel's dispatch to its path; the packing, which is
// plain C++ on every path.
#include <stdexcept>
#include <string>

#include "kernels/internal.h"

#ifdef SBERT_KERNELS_X86
#include <cpuid.h>
#endif

namespace sbert::kernels {

namespace {

struct Features {
  Isa best = Isa::Generic;
  bool vnni = false, avx512_bf16 = false, amx_bf16 = false;
};

#ifdef SBERT_KERNELS_X86
// The OS saves the register state an extension needs (XCR0, read by xgetbv): ymm for AVX, and the opmask and
// upper zmm registers for AVX-512. A CPU with AVX-512 under an OS (or hypervisor) that does not save them faults.
uint64_t xcr0() {
  uint32_t eax, edx;
  __asm__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

Features detect() {
  Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
  if (!osxsave || !avx || !fma) return f;
  const uint64_t xcr = xcr0();
  if ((xcr & 0x6) != 0x6) return f;  // SSE and AVX state
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  if (!avx2) return f;
  f.best = Isa::Avx2;
  const bool avx512f = b & (1u << 16), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  const bool zmm_state = (xcr & 0xe0) == 0xe0;  // opmask, upper halves of zmm0-15, zmm16-31
  if (!(avx512f && avx512bw && avx512vl && zmm_state)) return f;
  f.best = Isa::Avx512;
  f.vnni = c & (1u << 11);
  // AMX: BF16 and TILE, and the OS saving the tile state (XTILECFG, XTILEDATA).
  f.amx_bf16 = (d & (1u << 22)) && (d & (1u << 24)) && (xcr & 0x60000) == 0x60000;
  const unsigned leaf7_subleaves = a;
  if (leaf7_subleaves >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = a & (1u << 5);
  }
  return f;
}
#else
Features detect() { return {}; }
#endif

const Features& features() {
  static const Features f = detect();
  return f;
}

// The path to run, once checked: a path the CPU lacks would fault on its first instruction.
Isa checked(Isa isa, const char* kernel) {
  if (!supported(isa)) {
    throw std::invalid_argument(std::string(kernel) + ": this CPU cannot run the '" + isa_name(isa) + "' kernels (best: '" +
                                isa_name(best_isa()) + "')");
  }
  return isa;
}

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

Isa best_isa() { return features().best; }
bool supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(best_isa()); }
bool has_vnni() { return features().vnni; }
bool has_avx512_bf16() { return features().avx512_bf16; }
bool has_amx_bf16() { return features().amx_bf16; }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic: return "generic";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

std::optional<Isa> parse_isa(std::string_view name) {
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (name == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

int64_t panel_floats(int64_t n, int64_t k) { return (n + kPanel - 1) / kPanel * kPanel * k; }

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

Int8Layout int8_layout(Isa isa) { return isa == Isa::Avx512 && has_vnni() ? Int8Layout::Quads : Int8Layout::Pairs; }

int64_t int8_panel_bytes(Isa isa, int64_t n, int64_t k) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  if (int8_layout(isa) == Int8Layout::Quads) return panels * (kPanel * 4 + (k + 3) / 4 * 4 * kPanel);
  return panels * kPanel * ((k + 1) / 2 * 2);
}

void pack_panels_int8(Isa isa, const int8_t* q, int64_t n, int64_t k, int8_t* out) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  auto at = [&](int64_t col, int64_t kk) -> int8_t { return col < n && kk < k ? q[col * k + kk] : 0; };
  if (int8_layout(isa) == Int8Layout::Pairs) {
    const int64_t pairs = (k + 1) / 2;
    for (int64_t p = 0; p < panels; ++p) {
      for (int64_t j = 0; j < pairs; ++j) {
        int8_t* dst = out + (p * pairs + j) * 2 * kPanel;
        for (int64_t c = 0; c < kPanel; ++c) {
          for (int64_t t = 0; t < 2; ++t) dst[c * 2 + t] = at(p * kPanel + c, 2 * j + t);
        }
      }
    }
    return;
  }
  const int64_t quads = (k + 3) / 4, panel_bytes = kPanel * 4 + quads * 4 * kPanel;
  for (int64_t p = 0; p < panels; ++p) {
    int8_t* dst = out + p * panel_bytes;
    for (int64_t c = 0; c < kPanel; ++c) {
      int32_t sum = 0;
      for (int64_t kk = 0; kk < k; ++kk) sum += at(p * kPanel + c, kk);
      const uint32_t correction = 128u * static_cast<uint32_t>(sum);  // as the int32 sums wrap (avx512.cc)
      std::memcpy(dst + c * 4, &correction, sizeof correction);
    }
    for (int64_t j = 0; j < quads; ++j) {
      for (int64_t c = 0; c < kPanel; ++c) {
        for (int64_t t = 0; t < 4; ++t) dst[kPanel * 4 + (j * kPanel + c) * 4 + t] = at(p * kPanel + c, 4 * j + t);
      }
    }
  }
}

// Each kernel on the path asked for. Avx512's int8 product needs VNNI; without it, Avx2's (the panels' layout
// follows: int8_layout).
#ifdef SBERT_KERNELS_X86
#define SBERT_DISPATCH(kernel, isa, ...)                           \
  switch (checked(isa, #kernel)) {                                 \
    case Isa::Avx512: return avx512::kernel(__VA_ARGS__);          \
    case Isa::Avx2: return avx2::kernel(__VA_ARGS__);              \
    case Isa::Generic: break;                                      \
  }                                                                \
  return generic::kernel(__VA_ARGS__)
#else
#define SBERT_DISPATCH(kernel, isa, ...) \
  checked(isa, #kernel);                 \
  return generic::kernel(__VA_ARGS__)
#endif

void multiply_panels(Isa isa, const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n, const float* bias, float* c,
                     int64_t ldc, int64_t col_begin, int64_t col_end) {
  SBERT_DISPATCH(multiply_panels, isa, a, lda, m, k, panels, n, bias, c, ldc, col_begin, col_end);
}

void quantize_rows(Isa isa, const float* a, int64_t lda, int64_t m, int64_t k, int16_t* p, float* row_scale) {
  SBERT_DISPATCH(quantize_rows, isa, a, lda, m, k, p, row_scale);
}

void multiply_panels_int8(Isa isa, const int16_t* p, int64_t m, int64_t k, const float* row_scale, const int8_t* panels, const float* col_scale,
                          int64_t n, const float* bias, float* c, int64_t ldc, int64_t col_begin, int64_t col_end) {
#ifdef SBERT_KERNELS_X86
  if (isa == Isa::Avx512 && !has_vnni()) isa = Isa::Avx2;
#endif
  SBERT_DISPATCH(multiply_panels_int8, isa, p, m, k, row_scale, panels, col_scale, n, bias, c, ldc, col_begin, col_end);
}

void gelu_inplace(Isa isa, float* x, int64_t n) { SBERT_DISPATCH(gelu_inplace, isa, x, n); }

void to_bf16(Isa isa, const float* x, uint16_t* out, int64_t n) { SBERT_DISPATCH(to_bf16, isa, x, out, n); }

void from_bf16(Isa isa, const uint16_t* x, float* out, int64_t n) { SBERT_DISPATCH(from_bf16, isa, x, out, n); }

void add_layer_norm(Isa isa, float* x, const float* residual, const float* gamma, const float* beta, int64_t rows, int64_t width, float eps) {
  SBERT_DISPATCH(add_layer_norm, isa, x, residual, gamma, beta, rows, width, eps);
}

void attention(Isa isa, const float* q, const float* k, const float* v, const float* mask, float* out, const AttentionShape& shape,
               int64_t begin, int64_t end) {
  SBERT_DISPATCH(attention, isa, q, k, v, mask, out, shape, begin, end);
}

void adamw(Isa isa, float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& step) {
  SBERT_DISPATCH(adamw, isa, p, g, m, v, n, step);
}

void dropout_noise(Isa isa, float* out, int64_t n, const DropoutDraw& draw) { SBERT_DISPATCH(dropout_noise, isa, out, n, draw); }

#undef SBERT_DISPATCH

}  // namespace sbert::kernels
