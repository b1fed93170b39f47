#include "js/testing_kernels.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "js/boundary.h"
#include "kernels/kernels.h"

namespace sbert::js {
namespace {

using kernels::Isa;

// Inputs are checked against this many elements at most, so a bad size is an error, not a huge allocation.
constexpr int64_t kMaxElements = int64_t{1} << 28;

[[noreturn]] void bad(const std::string& field, const std::string& what) { fail(ErrorCode::Input, field + ": " + what); }

Napi::Object options(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) fail(ErrorCode::Input, "expected an options object");
  return info[0].As<Napi::Object>();
}

bool present(const Napi::Object& o, const char* key) {
  if (!o.Has(key)) return false;
  auto v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

Isa read_isa(const Napi::Object& o) {
  const std::string name = get_string(o, "isa");
  const auto isa = kernels::parse_isa(name);
  if (!isa) bad("isa", "unknown kernel ISA '" + name + "' (expected generic, avx2 or avx512)");
  if (!kernels::supported(*isa)) bad("isa", "this CPU cannot run the '" + name + "' kernels (best: " + kernels::isa_name(kernels::best_isa()) + ")");
  return *isa;
}

// An integer field in [lo, hi], or `fallback` when absent (nullopt: required).
int64_t read_int(const Napi::Object& o, const char* key, int64_t lo, int64_t hi, std::optional<int64_t> fallback = std::nullopt) {
  if (fallback && !present(o, key)) return *fallback;
  const double v = get_number(o, key);
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v)) {
    bad(key, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v));
  }
  return static_cast<int64_t>(v);
}

template <typename T>
struct TypedName;
template <>
struct TypedName<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct TypedName<int16_t> {
  static constexpr napi_typedarray_type type = napi_int16_array;
  static constexpr const char* name = "Int16Array";
};
template <>
struct TypedName<uint16_t> {
  static constexpr napi_typedarray_type type = napi_uint16_array;
  static constexpr const char* name = "Uint16Array";
};
template <>
struct TypedName<int8_t> {
  static constexpr napi_typedarray_type type = napi_int8_array;
  static constexpr const char* name = "Int8Array";
};

// The elements of a typed-array field holding exactly `count` of them (null when optional and absent).
template <typename T>
const T* read_array(const Napi::Object& o, const char* key, int64_t count, bool optional = false) {
  if (!present(o, key)) {
    if (optional) return nullptr;
    bad(key, std::string("expected a ") + TypedName<T>::name);
  }
  auto v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedName<T>::type) {
    bad(key, std::string("expected a ") + TypedName<T>::name);
  }
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  if (static_cast<int64_t>(arr.ElementLength()) != count) {
    bad(key, "expected " + std::to_string(count) + " elements, got " + std::to_string(arr.ElementLength()));
  }
  return arr.Data();
}

// A typed-array field of any length: its elements and their count.
template <typename T>
std::pair<const T*, int64_t> read_whole_array(const Napi::Object& o, const char* key) {
  if (!present(o, key) || !o.Get(key).IsTypedArray()) bad(key, std::string("expected a ") + TypedName<T>::name);
  const auto n = static_cast<int64_t>(o.Get(key).As<Napi::TypedArray>().ElementLength());
  return {read_array<T>(o, key, n), n};
}

template <typename T>
Napi::TypedArrayOf<T> new_array(Napi::Env env, int64_t count, const T* from = nullptr) {
  auto out = Napi::TypedArrayOf<T>::New(env, count);
  if (from != nullptr && count > 0) std::memcpy(out.Data(), from, count * sizeof(T));
  return out;
}

Napi::Float32Array nan_array(Napi::Env env, int64_t count) {
  auto out = Napi::Float32Array::New(env, count);
  std::fill(out.Data(), out.Data() + count, std::numeric_limits<float>::quiet_NaN());
  return out;
}

void check_elements(const char* what, int64_t a, int64_t b) {
  if (a > kMaxElements / std::max<int64_t>(b, 1)) bad(what, "too large");
}

// The column range [colBegin, colEnd) of an n-column product: colBegin a multiple of 16.
std::pair<int64_t, int64_t> read_columns(const Napi::Object& o, int64_t n) {
  const int64_t begin = read_int(o, "colBegin", 0, n, 0), end = read_int(o, "colEnd", begin, n, n);
  if (begin % kernels::kPanel != 0) bad("colBegin", "must be a multiple of 16");
  return {begin, end};
}

// multiplyPanels({isa, m, k, n, a, lda?, w, packing?, bias?, colBegin?, colEnd?}) -> c [m, n], NaN outside the columns.
// w is [n, k] (packing "rows", the default, or "pointers": pack_panels over row pointers) or [k, n] ("columns").
Napi::Value MultiplyPanels(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const int64_t m = read_int(o, "m", 1, kMaxElements), k = read_int(o, "k", 1, kMaxElements), n = read_int(o, "n", 1, kMaxElements);
    const int64_t lda = read_int(o, "lda", k, kMaxElements, k);
    check_elements("m", m, lda);
    check_elements("n", n, k);
    check_elements("m", m, n);
    const float* a = read_array<float>(o, "a", (m - 1) * lda + k);
    const float* w = read_array<float>(o, "w", n * k);
    const float* bias = read_array<float>(o, "bias", n, true);
    const std::string packing = present(o, "packing") ? get_string(o, "packing") : "rows";
    const auto [col_begin, col_end] = read_columns(o, n);
    std::vector<float> panels(kernels::panel_floats(n, k));
    if (packing == "rows") {
      kernels::pack_panels(w, n, k, k, 1, panels.data());
    } else if (packing == "columns") {
      kernels::pack_panels(w, n, k, 1, n, panels.data());
    } else if (packing == "pointers") {
      std::vector<const float*> rows(n);
      for (int64_t i = 0; i < n; ++i) rows[i] = w + i * k;
      kernels::pack_panels(rows.data(), n, k, 1, panels.data());
    } else {
      bad("packing", "expected rows, columns or pointers");
    }
    auto c = nan_array(info.Env(), m * n);
    kernels::multiply_panels(isa, a, lda, m, k, panels.data(), n, bias, c.Data(), n, col_begin, col_end);
    return c;
  });
}

// quantizeRows({isa, m, k, a}) -> {p: Int16Array [m, k rounded up to even], rowScale: Float32Array [m]}
Napi::Value QuantizeRows(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const int64_t m = read_int(o, "m", 1, kMaxElements), k = read_int(o, "k", 1, kMaxElements);
    check_elements("m", m, k + 1);
    const float* a = read_array<float>(o, "a", m * k);
    const int64_t ldp = (k + 1) / 2 * 2;
    auto p = Napi::Int16Array::New(info.Env(), m * ldp);
    auto scale = Napi::Float32Array::New(info.Env(), m);
    kernels::quantize_rows(isa, a, k, m, k, p.Data(), scale.Data());
    auto out = Napi::Object::New(info.Env());
    out.Set("p", p);
    out.Set("rowScale", scale);
    return out;
  });
}

// multiplyPanelsInt8({isa, m, k, n, p, rowScale, q: Int8Array [n, k], colScale, bias?, colBegin?, colEnd?}) -> c [m, n]
// (NaN outside the columns); q packed for the ISA.
Napi::Value MultiplyPanelsInt8(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const int64_t m = read_int(o, "m", 1, kMaxElements), k = read_int(o, "k", 1, kMaxElements), n = read_int(o, "n", 1, kMaxElements);
    check_elements("m", m, k + 1);
    check_elements("n", n, k + 4);
    check_elements("m", m, n);
    const int16_t* p = read_array<int16_t>(o, "p", m * ((k + 1) / 2 * 2));
    const float* row_scale = read_array<float>(o, "rowScale", m);
    const int8_t* q = read_array<int8_t>(o, "q", n * k);
    const float* col_scale = read_array<float>(o, "colScale", n);
    const float* bias = read_array<float>(o, "bias", n, true);
    for (int64_t i = 0; i < n * k; ++i) {
      if (q[i] == -128) bad("q", "weights are quantized to [-127, 127]");
    }
    for (int64_t i = 0; i < m * ((k + 1) / 2 * 2); ++i) {
      if (p[i] < -127 || p[i] > 127) bad("p", "activations are quantized to [-127, 127]");
    }
    const auto [col_begin, col_end] = read_columns(o, n);
    std::vector<int8_t> panels(kernels::int8_panel_bytes(isa, n, k));
    kernels::pack_panels_int8(isa, q, n, k, panels.data());
    auto c = nan_array(info.Env(), m * n);
    kernels::multiply_panels_int8(isa, p, m, k, row_scale, panels.data(), col_scale, n, bias, c.Data(), n, col_begin, col_end);
    return c;
  });
}

// gelu({isa, x}) -> GELU(x)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const auto [x, n] = read_whole_array<float>(o, "x");
    auto y = new_array<float>(info.Env(), n, x);
    kernels::gelu_inplace(isa, y.Data(), n);
    return y;
  });
}

// toBf16({isa, x: Float32Array}) -> Uint16Array (bf16 bits); fromBf16({isa, x: Uint16Array}) -> Float32Array
template <typename From, typename To>
Napi::Value Convert(const Napi::CallbackInfo& info, void (*convert)(Isa, const From*, To*, int64_t)) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const auto [x, n] = read_whole_array<From>(o, "x");
    auto y = new_array<To>(info.Env(), n);
    convert(isa, x, y.Data(), n);
    return y;
  });
}

Napi::Value ToBf16(const Napi::CallbackInfo& info) { return Convert<float, uint16_t>(info, kernels::to_bf16); }
Napi::Value FromBf16(const Napi::CallbackInfo& info) { return Convert<uint16_t, float>(info, kernels::from_bf16); }

// Libtorch's float32 -> bf16 conversion of x, the reference: libtorchBf16({x: Float32Array}) -> Uint16Array.
Napi::Value LibtorchBf16(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const auto [x, n] = read_whole_array<float>(o, "x");
    const auto y = at::from_blob(const_cast<float*>(x), {n}, at::kFloat).to(at::kBFloat16);
    return new_array<uint16_t>(info.Env(), n, static_cast<const uint16_t*>(y.data_ptr()));
  });
}

// addLayerNorm({isa, rows, width, x, residual, gamma, beta, eps}) -> LayerNorm(x + residual)
Napi::Value AddLayerNorm(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const int64_t rows = read_int(o, "rows", 1, kMaxElements), width = read_int(o, "width", 1, kMaxElements);
    check_elements("rows", rows, width);
    auto y = new_array<float>(info.Env(), rows * width, read_array<float>(o, "x", rows * width));
    const float* residual = read_array<float>(o, "residual", rows * width);
    const float* gamma = read_array<float>(o, "gamma", width);
    const float* beta = read_array<float>(o, "beta", width);
    kernels::add_layer_norm(isa, y.Data(), residual, gamma, beta, rows, width, static_cast<float>(get_number(o, "eps")));
    return y;
  });
}

// The attention inputs: qkv [rows, H + 2 KV] (q, k, v of a token side by side; KV = kvHeads x headDim, kvHeads
// optional, default heads), padded (rows = batch x seqLen, mask [batch, seqLen] optional) or packed (starts and
// lengths [batch]); relBias [heads, 2 seqLen - 1] optional; windowLeft, windowRight optional (-1: no bound);
// items [begin, end) of batch x heads.
struct AttentionInput {
  kernels::AttentionShape shape{};
  int64_t rows = 0, begin = 0, end = 0;
  const float* qkv = nullptr;
  const float* mask = nullptr;
  std::vector<int64_t> starts, lengths;
};

AttentionInput read_attention(const Napi::Object& o) {
  AttentionInput in;
  auto& s = in.shape;
  s.batch = read_int(o, "batch", 1, 1 << 16);
  s.seq_len = read_int(o, "seqLen", 1, 1 << 14);
  s.heads = read_int(o, "heads", 1, 1 << 10);
  s.head_dim = read_int(o, "headDim", 1, 1 << 12);
  s.kv_heads = read_int(o, "kvHeads", 1, s.heads, s.heads);
  if (s.heads % s.kv_heads != 0) bad("kvHeads", "must divide heads");
  s.window_left = read_int(o, "windowLeft", -1, 1 << 14, -1);
  s.window_right = read_int(o, "windowRight", -1, 1 << 14, -1);
  const int64_t width = s.heads * s.head_dim;
  s.row_stride = width + 2 * s.kv_heads * s.head_dim;
  s.out_stride = width;
  check_elements("batch", s.batch, s.seq_len);
  check_elements("heads", s.batch * s.seq_len, s.row_stride);
  const bool packed = present(o, "starts") || present(o, "lengths");
  if (packed) {
    in.starts = get_int_array(o, "starts");
    in.lengths = get_int_array(o, "lengths");
    if (static_cast<int64_t>(in.starts.size()) != s.batch || static_cast<int64_t>(in.lengths.size()) != s.batch) {
      bad("starts", "starts and lengths need one entry per sentence");
    }
    in.rows = read_int(o, "rows", 0, s.batch * s.seq_len);
    for (int64_t b = 0; b < s.batch; ++b) {
      if (in.lengths[b] < 0 || in.lengths[b] > s.seq_len) bad("lengths", "each must be in [0, seqLen]");
      if (in.starts[b] < 0 || in.starts[b] + in.lengths[b] > in.rows) bad("starts", "each sentence must lie within the rows");
    }
    s.starts = in.starts.data();
    s.lengths = in.lengths.data();
  } else {
    in.rows = s.batch * s.seq_len;
    in.mask = read_array<float>(o, "mask", s.batch * s.seq_len, true);
  }
  in.qkv = read_array<float>(o, "qkv", in.rows * s.row_stride);
  s.rel_bias = read_array<float>(o, "relBias", s.heads * (2 * s.seq_len - 1), true);
  in.begin = read_int(o, "begin", 0, s.batch * s.heads, 0);
  in.end = read_int(o, "end", in.begin, s.batch * s.heads, s.batch * s.heads);
  return in;
}

// attention({isa, ...read_attention}) -> out [rows, H], NaN where no item wrote.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const AttentionInput in = read_attention(o);
    const int64_t width = in.shape.out_stride;
    auto out = nan_array(info.Env(), in.rows * width);
    const int64_t kv_width = in.shape.kv_heads * in.shape.head_dim;
    kernels::attention(isa, in.qkv, in.qkv + width, in.qkv + width + kv_width, in.mask, out.Data(), in.shape, in.begin, in.end);
    return out;
  });
}

// attentionReference(...read_attention) -> the same computed with libtorch's ops in float64 (matmul, softmax).
Napi::Value AttentionReference(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const AttentionInput in = read_attention(options(info));
    const auto& s = in.shape;
    const int64_t width = s.out_stride, d = s.head_dim, L = s.seq_len;
    auto qkv = at::from_blob(const_cast<float*>(in.qkv), {in.rows, s.row_stride}, at::kFloat).to(at::kDouble);
    auto out = at::full({in.rows, width}, std::numeric_limits<double>::quiet_NaN(), at::kDouble);
    at::Tensor rel_bias;
    if (s.rel_bias) rel_bias = at::from_blob(const_cast<float*>(s.rel_bias), {s.heads, 2 * L - 1}, at::kFloat).to(at::kDouble);
    for (int64_t item = in.begin; item < in.end; ++item) {
      const int64_t b = item / s.heads, h = item % s.heads;
      const int64_t n = s.lengths ? s.lengths[b] : L, start = s.starts ? s.starts[b] : b * L;
      if (n <= 0) continue;
      auto tokens = qkv.narrow(0, start, n);
      const int64_t kv = h / (s.heads / s.kv_heads), kv_width = s.kv_heads * d;
      auto q = tokens.narrow(1, h * d, d), k = tokens.narrow(1, width + kv * d, d), v = tokens.narrow(1, width + kv_width + kv * d, d);
      auto scores = q.matmul(k.t()) / std::sqrt(static_cast<double>(d));
      {
        // The band as a -inf mask: j - i outside [-windowLeft, windowRight].
        auto positions = at::arange(n, at::kLong);
        auto offset = positions.unsqueeze(0) - positions.unsqueeze(1);  // [i, j] -> j - i
        auto outside = at::zeros({n, n}, at::kBool);
        if (s.window_left >= 0) outside = outside.logical_or(offset < -s.window_left);
        if (s.window_right >= 0) outside = outside.logical_or(offset > s.window_right);
        scores = scores.masked_fill(outside, -std::numeric_limits<double>::infinity());
      }
      if (rel_bias.defined()) {
        auto positions = at::arange(n, at::kLong);
        auto index = positions.unsqueeze(0) - positions.unsqueeze(1) + (L - 1);  // [i, j] -> j - i + L - 1
        scores = scores + rel_bias[h].index_select(0, index.reshape({-1})).view({n, n});
      }
      if (in.mask && !s.lengths) {
        scores = scores + at::from_blob(const_cast<float*>(in.mask + b * L), {n}, at::kFloat).to(at::kDouble).unsqueeze(0);
      }
      out.narrow(0, start, n).narrow(1, h * d, d).copy_(at::softmax(scores, 1).matmul(v));
    }
    auto f = out.to(at::kFloat).contiguous();
    return float32_array(info.Env(), f.data_ptr<float>(), f.numel());
  });
}

// adamw({isa, p, g, m, v, step: {decay, decayFactor, beta1, beta2, bias2Sqrt, eps, negStepSize}}) -> {p, m, v}
Napi::Value Adamw(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    if (!present(o, "p") || !o.Get("p").IsTypedArray()) bad("p", "expected a Float32Array");
    const int64_t n = o.Get("p").As<Napi::TypedArray>().ElementLength();
    auto env = info.Env();
    auto p = new_array<float>(env, n, read_array<float>(o, "p", n));
    const float* g = read_array<float>(o, "g", n);
    auto m = new_array<float>(env, n, read_array<float>(o, "m", n));
    auto v = new_array<float>(env, n, read_array<float>(o, "v", n));
    auto st = get_object(o, "step");
    const float beta1 = static_cast<float>(get_number(st, "beta1")), beta2 = static_cast<float>(get_number(st, "beta2"));
    const kernels::AdamWStep step{get_bool(st, "decay"),
                                  static_cast<float>(get_number(st, "decayFactor")),
                                  beta1,
                                  1.f - beta1,
                                  beta2,
                                  1.f - beta2,
                                  static_cast<float>(get_number(st, "bias2Sqrt")),
                                  static_cast<float>(get_number(st, "eps")),
                                  static_cast<float>(get_number(st, "negStepSize"))};
    kernels::adamw(isa, p.Data(), g, m.Data(), v.Data(), n, step);
    auto out = Napi::Object::New(env);
    out.Set("p", p);
    out.Set("m", m);
    out.Set("v", v);
    return out;
  });
}

// dropoutNoise({isa, n, seed: bigint, keepThreshold, scale}) -> noise [n]
Napi::Value DropoutNoise(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const int64_t n = read_int(o, "n", 0, kMaxElements);
    if (!present(o, "seed") || !o.Get("seed").IsBigInt()) bad("seed", "expected a bigint");
    bool lossless = false;
    const uint64_t seed = o.Get("seed").As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) bad("seed", "expected a bigint in [0, 2^64)");
    const kernels::DropoutDraw draw{seed, static_cast<uint32_t>(read_int(o, "keepThreshold", 0, int64_t{1} << 24)),
                                    static_cast<float>(get_number(o, "scale"))};
    auto out = Napi::Float32Array::New(info.Env(), n);
    kernels::dropout_noise(isa, out.Data(), n, draw);
    return out;
  });
}

// Deterministic pseudo-random fill for the benchmark's inputs.
void fill(float* x, int64_t n, uint32_t seed, float scale) {
  uint32_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    x[i] = scale * (static_cast<float>(s >> 8) / 8388608.f - 1.f);
  }
}

// benchmark({kernel, isa, seconds, ...}) -> {calls, seconds, bestSecondsPerCall}: one thread calling the kernel
// back to back for about `seconds` (after one untimed call). "multiply_panels" / "multiply_panels_int8": {m, k, n, copies?}, the
// product cycling through `copies` packed weight matrices (enough to exceed the caches: each product's weights
// then come from memory, as in a model's forward pass; 1: hot in cache). "attention": {batch, seqLen, heads,
// headDim}, padded, no mask.
Napi::Value Benchmark(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto o = options(info);
    const Isa isa = read_isa(o);
    const std::string kernel = get_string(o, "kernel");
    const double budget = get_number(o, "seconds");
    if (!(budget > 0 && budget <= 60)) bad("seconds", "expected a number in (0, 60]");
    std::function<void(int64_t)> call;
    std::vector<std::vector<float>> float_panels;
    std::vector<std::vector<int8_t>> int8_panels;
    std::vector<float> a, c, scales, bias, qkv, out;
    std::vector<int16_t> p;
    kernels::AttentionShape shape{};
    if (kernel == "multiply_panels" || kernel == "multiply_panels_int8") {
      const int64_t m = read_int(o, "m", 1, 1 << 16), k = read_int(o, "k", 1, 1 << 16), n = read_int(o, "n", 1, 1 << 16);
      const int64_t copies = read_int(o, "copies", 1, 1024, 1);
      check_elements("n", n * k, copies);
      check_elements("m", m, std::max(k, n));
      a.resize(m * k);
      c.resize(m * n);
      bias.resize(n);
      fill(a.data(), m * k, 1, 1.f);
      fill(bias.data(), n, 2, 0.1f);
      std::vector<float> w(n * k);
      if (kernel == "multiply_panels") {
        for (int64_t i = 0; i < copies; ++i) {
          fill(w.data(), n * k, 3 + static_cast<uint32_t>(i), 0.05f);
          float_panels.emplace_back(kernels::panel_floats(n, k));
          kernels::pack_panels(w.data(), n, k, k, 1, float_panels.back().data());
        }
        call = [&, m, k, n, copies](int64_t i) {
          kernels::multiply_panels(isa, a.data(), k, m, k, float_panels[i % copies].data(), n, bias.data(), c.data(), n, 0, n);
        };
      } else {
        std::vector<int8_t> q(n * k);
        for (int64_t i = 0; i < copies; ++i) {
          fill(w.data(), n * k, 3 + static_cast<uint32_t>(i), 127.f);
          for (int64_t j = 0; j < n * k; ++j) q[j] = static_cast<int8_t>(std::lround(w[j]));
          int8_panels.emplace_back(kernels::int8_panel_bytes(isa, n, k));
          kernels::pack_panels_int8(isa, q.data(), n, k, int8_panels.back().data());
        }
        scales.assign(n, 1e-3f);
        p.resize(m * ((k + 1) / 2 * 2));
        std::vector<float> row_scale(m);
        // Quantizing the rows is part of each product, as in int8 inference.
        call = [&, m, k, n, copies, row_scale](int64_t i) mutable {
          kernels::quantize_rows(isa, a.data(), k, m, k, p.data(), row_scale.data());
          kernels::multiply_panels_int8(isa, p.data(), m, k, row_scale.data(), int8_panels[i % copies].data(), scales.data(), n, bias.data(),
                                        c.data(), n, 0, n);
        };
      }
    } else if (kernel == "attention") {
      shape.batch = read_int(o, "batch", 1, 1 << 12);
      shape.seq_len = read_int(o, "seqLen", 1, 1 << 12);
      shape.heads = read_int(o, "heads", 1, 64);
      shape.head_dim = read_int(o, "headDim", 1, 256);
      const int64_t width = shape.heads * shape.head_dim, rows = shape.batch * shape.seq_len;
      check_elements("batch", rows, 3 * width);
      shape.row_stride = 3 * width;
      shape.out_stride = width;
      qkv.resize(rows * 3 * width);
      out.resize(rows * width);
      fill(qkv.data(), rows * 3 * width, 5, 1.f);
      call = [&, width](int64_t) {
        kernels::attention(isa, qkv.data(), qkv.data() + width, qkv.data() + 2 * width, nullptr, out.data(), shape, 0, shape.batch * shape.heads);
      };
    } else {
      bad("kernel", "expected multiply_panels, multiply_panels_int8 or attention");
    }
    // In bursts of at least 2 ms: on a shared machine other work only ever slows a burst down, so the fastest
    // burst is the closest to the kernel's own speed.
    using Clock = std::chrono::steady_clock;
    call(0);
    const auto start = Clock::now();
    int64_t calls = 0;
    double elapsed = 0, best = std::numeric_limits<double>::infinity();
    do {
      const auto burst = Clock::now();
      int64_t burst_calls = 0;
      double burst_seconds = 0;
      do {
        call(++calls);
        ++burst_calls;
        burst_seconds = std::chrono::duration<double>(Clock::now() - burst).count();
      } while (burst_seconds < 2e-3);
      best = std::min(best, burst_seconds / static_cast<double>(burst_calls));
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < budget);
    auto result = Napi::Object::New(info.Env());
    result.Set("calls", static_cast<double>(calls));
    result.Set("seconds", elapsed);
    result.Set("bestSecondsPerCall", best);
    return result;
  });
}

Napi::Value Features(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("best", kernels::isa_name(kernels::best_isa()));
  auto supported = Napi::Array::New(env);
  uint32_t count = 0;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (kernels::supported(isa)) supported.Set(count++, kernels::isa_name(isa));
  }
  out.Set("supported", supported);
  out.Set("vnni", kernels::has_vnni());
  out.Set("avx512Bf16", kernels::has_avx512_bf16());
  return out;
}

}  // namespace

void register_kernel_testing(Napi::Env env, Napi::Object exports) {
  auto t = Napi::Object::New(env);
  t.Set("features", Napi::Function::New(env, Features, "features"));
  t.Set("multiplyPanels", Napi::Function::New(env, MultiplyPanels, "multiplyPanels"));
  t.Set("quantizeRows", Napi::Function::New(env, QuantizeRows, "quantizeRows"));
  t.Set("multiplyPanelsInt8", Napi::Function::New(env, MultiplyPanelsInt8, "multiplyPanelsInt8"));
  t.Set("gelu", Napi::Function::New(env, Gelu, "gelu"));
  t.Set("toBf16", Napi::Function::New(env, ToBf16, "toBf16"));
  t.Set("fromBf16", Napi::Function::New(env, FromBf16, "fromBf16"));
  t.Set("libtorchBf16", Napi::Function::New(env, LibtorchBf16, "libtorchBf16"));
  t.Set("addLayerNorm", Napi::Function::New(env, AddLayerNorm, "addLayerNorm"));
  t.Set("attention", Napi::Function::New(env, Attention, "attention"));
  t.Set("attentionReference", Napi::Function::New(env, AttentionReference, "attentionReference"));
  t.Set("adamw", Napi::Function::New(env, Adamw, "adamw"));
  t.Set("dropoutNoise", Napi::Function::New(env, DropoutNoise, "dropoutNoise"));
  t.Set("benchmark", Napi::Function::New(env, Benchmark, "benchmark"));
  exports.Set("kernels", t);
}

}  // namespace sbert::js
