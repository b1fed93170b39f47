#include "ops/linear.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "errors.h"
#include "kernels/kernels.h"
#include "ops/pointwise.h"

namespace sbert::ops {

namespace {

// Below this many rows oneDNN's int8 product costs more than it saves (and sbert-node's int8 kernel takes over).
constexpr int64_t kInt8Rows = 64;
// The rows oneDNN is told to expect when it lays out bf16 weights (a batch of short sentences): the layout it picks
// ran products of 1-600 rows within 5% of theirs.
constexpr int64_t kBf16LayoutRows = 256;
// From this many rows a bf16 product is not cut for a helper (multiply_bf16).
constexpr int64_t kBf16SplitRows = 64;

using Form = PreparedWeights::Form;

// Runs block(begin, end) over the output columns of a [rows x in] x [in x out] product: as the context's parts,
// on 16-column boundaries (whole panels), when the product is worth it (below ~0.25 M multiply-adds the hand-off
// costs more than a second core saves); else once, over all columns.
void over_column_blocks(const Context& ctx, int64_t rows, int64_t in, int64_t out, const std::function<void(int64_t, int64_t)>& block) {
  if (ctx.parts < 2 || rows * in * out < (int64_t{1} << 18) || out < 64) return block(0, out);
  ctx.run_parts([&](int part, int parts) {
    const int64_t begin = (out * part / parts) / 16 * 16;
    const int64_t end = part + 1 == parts ? out : (out * (part + 1) / parts) / 16 * 16;
    block(begin, end);
  });
}

// y ([rows, out], any row stride) = x2 · weightᵀ + bias through BLAS, one call per column block. Always cut the
// same way (the parts are fixed per process), whether or not a helper is free to take a block, so the bits do
// not depend on what else was running.
void blas_columns_into(const Context& ctx, at::Tensor y, const at::Tensor& x2, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t out = weight.size(0);
  auto block = [&](int64_t begin, int64_t end) {
    auto y_part = y.narrow(1, begin, end - begin);
    auto w_part = weight.narrow(0, begin, end - begin).t();
    if (bias.defined()) {
      at::addmm_out(y_part, bias.narrow(0, begin, end - begin), x2, w_part);
    } else {
      at::mm_out(y_part, x2, w_part);
    }
  };
  // Only products over few rows: for larger ones two half-width BLAS calls cost ~8% more than one (each packs
  // the activations again), measured on batches of 32 and 128 sentences side by side.
  if (x2.size(0) >= 128) return block(0, out);
  over_column_blocks(ctx, x2.size(0), x2.size(1), out, block);
}

c10::OperatorHandle quantized_op(const char* name) { return c10::Dispatcher::singleton().findSchemaOrThrow(name, ""); }

// libtorch >= 2.0 registers mkldnn::_linear_pointwise, oneDNN's product on plain float32 tensors: no oneDNN copy of
// the weights to prepare and keep, no conversion of the activations in and out. 1.13 lacks it.
const std::optional<c10::OperatorHandle>& onednn_plain_op() {
  static const std::optional<c10::OperatorHandle> op = [] {
    auto found = c10::Dispatcher::singleton().findOp({"mkldnn::_linear_pointwise", ""});
    // A private op: taken only with the arguments it is called with here (X, W, B, attr, scalars, algorithm).
    if (!found || !found->hasSchema() || found->schema().arguments().size() != 6 || found->schema().returns().size() != 1) return std::optional<c10::OperatorHandle>();
    return std::optional<c10::OperatorHandle>(*found);
  }();
  return op;
}

// A post-op oneDNN applies to its float32 sums, as _linear_pointwise names it: attr and algorithm.
struct PostOp {
  const char* attr;
  const char* algorithm;
};
constexpr PostOp kNoPostOp{"none", ""};

// y = post(x · weightᵀ + bias) through oneDNN, the weight as prepared (plain or blocked), as it is.
at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, PostOp post = kNoPostOp) {
  torch::jit::Stack stack{x, weight, bias.defined() ? c10::IValue(bias) : c10::IValue(), std::string(post.attr),
                          c10::List<c10::optional<at::Scalar>>(), std::string(post.algorithm)};
  onednn_plain_op()->callBoxed(&stack);
  return stack.at(0).toTensor();
}

// Whether libtorch's oneDNN multiplies plain float32 weights here (built with oneDNN, and the op registered).
bool onednn_plain_available() { return at::hasMKLDNN() && onednn_plain_op().has_value(); }

// y = x2 · weightᵀ + bias through oneDNN on plain tensors (x2 [rows, in] contiguous). oneDNN reads the weight
// through its strides, so the layers' column-major weights go in as they are: a contiguous copy of them on every
// call cost ~10% of BERT-base's batch-32 encode (measured on an AVX-512 EPYC), and the product itself runs as fast
// or faster on them.
at::Tensor onednn_plain_linear(const at::Tensor& x2, const at::Tensor& weight, const at::Tensor& bias) {
  const bool dense = weight.is_contiguous() || weight.t().is_contiguous();
  return onednn_linear(x2, dense ? weight : weight.contiguous(), bias);
}

// libtorch >= 2.0 also registers mkldnn::_reorder_linear_weight: a weight in the blocked layout oneDNN's products
// read fastest, which _linear_pointwise takes in place of a plain one (for bf16, whose weights are a copy anyway).
const std::optional<c10::OperatorHandle>& onednn_reorder_op() {
  static const std::optional<c10::OperatorHandle> op = [] {
    auto found = c10::Dispatcher::singleton().findOp({"mkldnn::_reorder_linear_weight", ""});
    if (!onednn_plain_op() || !found || !found->hasSchema() || found->schema().arguments().size() != 2 || found->schema().returns().size() != 1) {
      return std::optional<c10::OperatorHandle>();
    }
    return std::optional<c10::OperatorHandle>(*found);
  }();
  return op;
}

// The bf16 weight [out, in] in oneDNN's blocked layout, chosen for products of about `rows` rows.
at::Tensor onednn_blocked_weight(const at::Tensor& weight, int64_t rows) {
  torch::jit::Stack stack{weight, c10::IValue(rows)};
  onednn_reorder_op()->callBoxed(&stack);
  return stack.at(0).toTensor();
}

std::vector<at::Tensor> sources_of(const std::vector<LinearWeights>& layers) {
  std::vector<at::Tensor> sources;
  for (const auto& l : layers) {
    sources.push_back(l.weight);
    if (l.bias.defined()) sources.push_back(l.bias);
  }
  return sources;
}

// The layers' weights stacked ([sum out, in]) and biases side by side (undefined when the layers have none).
at::Tensor stacked_weight(const std::vector<LinearWeights>& layers) {
  if (layers.size() == 1) return layers[0].weight.detach();
  std::vector<at::Tensor> parts;
  for (const auto& l : layers) parts.push_back(l.weight.detach());
  return at::cat(parts, 0);
}

at::Tensor stacked_bias(const std::vector<LinearWeights>& layers) {
  if (layers.size() == 1 || !layers[0].bias.defined()) return layers.size() == 1 ? layers[0].bias : at::Tensor();
  std::vector<at::Tensor> parts;
  for (const auto& l : layers) parts.push_back(l.bias.detach());
  return at::cat(parts, 0);
}

// Per output channel, symmetric, as dynamic quantization prepares weights: one rounding for both int8 paths.
std::pair<at::Tensor, at::Tensor> quantized(const at::Tensor& weight) {
  auto w = weight.contiguous();
  auto scales = (w.abs().amax({1}) / 127.0).clamp_min(1e-8).to(at::kDouble);
  return {at::quantize_per_channel(w, scales, at::zeros({w.size(0)}, at::kLong), 0, at::kQInt8), scales};
}

PreparedWeights::Value prepare(Form form, const std::vector<LinearWeights>& layers, kernels::Isa isa) {
  PreparedWeights::Value v;
  if (layers.size() > 1) v.bias = stacked_bias(layers);
  switch (form) {
    case Form::Panels: {
      // Packed straight from each layer's rows (no stacked copy of the weights): the same bytes, regrouped.
      std::vector<const float*> rows;
      const int64_t in = layers[0].weight.size(1);
      int64_t stride_k = 0, out = 0;
      std::vector<at::Tensor> keep;
      // One layout for all: column-major, as layers hold their weights, where every layer has as many outputs
      // (a row's elements are then `out` apart in each); row-major copies for layers of different widths (GQA's
      // Q beside its narrower K and V).
      bool same_width = true;
      for (const auto& l : layers) same_width = same_width && l.weight.size(0) == layers[0].weight.size(0);
      for (const auto& l : layers) {
        keep.push_back(same_width ? l.weight.detach().t().contiguous().t() : l.weight.detach().contiguous());
        const auto& w = keep.back();
        stride_k = w.stride(1);
        for (int64_t i = 0; i < w.size(0); ++i) rows.push_back(w.data_ptr<float>() + i * w.stride(0));
        out += w.size(0);
      }
      v.data = at::empty({kernels::panel_floats(out, in)}, layers[0].weight.options().requires_grad(false));
      kernels::pack_panels(rows.data(), out, in, stride_k, v.data.data_ptr<float>());
      break;
    }
    case Form::Int8Panels: {
      auto [wq, scales] = quantized(stacked_weight(layers));
      auto q = wq.int_repr().contiguous();
      v.data = at::empty({kernels::int8_panel_bytes(isa, q.size(0), q.size(1))}, q.options());
      kernels::pack_panels_int8(isa, q.data_ptr<int8_t>(), q.size(0), q.size(1), v.data.data_ptr<int8_t>());
      v.scales = scales.to(at::kFloat);
      break;
    }
    case Form::OneDnnInt8: {
      static std::once_flag engine_once;
      std::call_once(engine_once, [] {
        const auto& engines = at::globalContext().supportedQEngines();
        if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) == engines.end()) {
          throw std::runtime_error("int8 inference needs libtorch's oneDNN quantized engine, which this build lacks");
        }
        at::globalContext().setQEngine(at::QEngine::ONEDNN);
      });
      auto bias = stacked_bias(layers);
      torch::jit::Stack stack{quantized(stacked_weight(layers)).first, bias.defined() ? c10::IValue(bias.detach()) : c10::IValue()};
      quantized_op("quantized::linear_prepack").callBoxed(&stack);
      v.packed = stack.at(0);
      break;
    }
    case Form::OneDnn:
      v.data = stacked_weight(layers).contiguous().to_mkldnn();
      break;
    case Form::Bf16:
      // The bias stays float32: oneDNN adds it to the float32 sums.
      v.data = stacked_weight(layers).to(at::kBFloat16).contiguous();
      if (onednn_reorder_op()) v.data = onednn_blocked_weight(v.data, kBf16LayoutRows);
      break;
  }
  return v;
}

// y = x2 · Wᵀ + bias on the panel kernel for x2 [rows, in] contiguous, by column blocks.
at::Tensor multiply_panels(const Context& ctx, const at::Tensor& x2, const at::Tensor& panels, const float* bias, int64_t out) {
  const int64_t rows = x2.size(0), in = x2.size(1);
  auto y = at::empty({rows, out}, x2.options());
  over_column_blocks(ctx, rows, in, out, [&](int64_t begin, int64_t end) {
    kernels::multiply_panels(ctx.isa, x2.data_ptr<float>(), in, rows, in, panels.data_ptr<float>(), out, bias, y.data_ptr<float>(), out, begin, end);
  });
  return y;
}

at::Tensor multiply_int8_panels(const Context& ctx, const at::Tensor& x2, const PreparedWeights::Value& p, const float* bias, int64_t out) {
  const int64_t rows = x2.size(0), in = x2.size(1);
  auto q = at::empty({rows, (in + 1) / 2 * 2}, x2.options().dtype(at::kShort));
  auto row_scale = at::empty({rows}, x2.options());
  kernels::quantize_rows(ctx.isa, x2.data_ptr<float>(), in, rows, in, q.data_ptr<int16_t>(), row_scale.data_ptr<float>());
  auto y = at::empty({rows, out}, x2.options());
  over_column_blocks(ctx, rows, in, out, [&](int64_t begin, int64_t end) {
    kernels::multiply_panels_int8(ctx.isa, q.data_ptr<int16_t>(), rows, in, row_scale.data_ptr<float>(), p.data.data_ptr<int8_t>(),
                                  p.scales.data_ptr<float>(), out, bias, y.data_ptr<float>(), out, begin, end);
  });
  return y;
}

// y = x2 · wᵀ + bias for x2 [rows, in] float32 and w [out, in] bf16, x2 rounded to bf16 once. With libtorch >= 2.0
// w is in oneDNN's blocked layout and oneDNN adds the float32 bias to its float32 sums; its bf16 output is widened
// to float32 (measured on an AVX-512 EPYC: 13-20% faster than the plain-weight product below with the bias added
// afterwards, 1.3-1.7x at 1-18 rows). As for float32's oneDNN products, a batch's rows are one product: cut in row
// blocks for a helper, they cost 8% of MiniLM's bf16 batch-32 throughput in waiting when cores were contended;
// few rows (a short request) are cut, always the same way, for a helper if one is idle. Otherwise each column
// block is one libtorch bf16 product (oneDNN, float32 sums, bf16 output), widened, then the float32 bias added.
// The cut is fixed per process and shape, so the bits do not depend on whether a helper took a block.
at::Tensor multiply_bf16(const Context& ctx, const at::Tensor& x2, const at::Tensor& w, const at::Tensor& bias) {
  const int64_t rows = x2.size(0), in = x2.size(1), out = w.size(0);
  const auto xb = to_bf16(ctx, x2.contiguous());
  if (w.is_mkldnn() && rows >= kBf16SplitRows) return from_bf16(ctx, onednn_linear(xb, w, bias));
  auto y = at::empty({rows, out}, x2.options());
  if (w.is_mkldnn()) {
    over_ranges(ctx, rows, rows * in * out / 16, [&](int64_t begin, int64_t end) {
      if (begin == end) return;
      y.narrow(0, begin, end - begin).copy_(onednn_linear(xb.narrow(0, begin, end - begin), w, bias));
    });
    return y;
  }
  over_column_blocks(ctx, rows, in, out, [&](int64_t begin, int64_t end) {
    auto part = y.narrow(1, begin, end - begin);
    part.copy_(at::mm(xb, w.narrow(0, begin, end - begin).t()));
    if (bias.defined()) part.add_(bias.narrow(0, begin, end - begin));
  });
  return y;
}

const float* data_or_null(const at::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

// Whether a call runs as inference: float32 weights on CPU, no autograd, not training; x float32 (or bf16, which
// only the bf16 path multiplies as it is).
bool inference_call(const Context& ctx, const at::Tensor& x, const at::Tensor& weight) {
  return !ctx.train && !at::GradMode::is_enabled() && x.is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) &&
         weight.scalar_type() == at::kFloat;
}

LinearPath path_of(const Context& ctx, const at::Tensor& x, const at::Tensor& weight, Precision precision) {
  const int64_t rows = x.numel() / std::max<int64_t>(1, weight.size(1));
  return choose_linear_path({inference_call(ctx, x, weight), rows, precision, ctx.backend, ctx.own_kernels, ctx.isa, onednn_plain_available()});
}

// The layers' weights in `form`, made on first use. int8 panels are laid out for the ISA that multiplies them; the
// other forms serve every ISA.
PreparedWeights::Value prepared_form(const Context& ctx, const std::vector<LinearWeights>& layers, Form form, const PreparedWeights& prepared) {
  const int variant = form == Form::Int8Panels ? static_cast<int>(ctx.isa) : 0;
  return prepared.get(form, variant, sources_of(layers), [&] { return prepare(form, layers, ctx.isa); });
}

// The oneDNN post-op computing act, if it has one that linear_activation fuses.
std::optional<PostOp> post_op_of(Activation act) {
  switch (act) {
    case Activation::GeluErf: return PostOp{"gelu", "none"};
    case Activation::GeluTanh: return PostOp{"gelu", "tanh"};
    default: return std::nullopt;
  }
}

}  // namespace

const std::vector<std::string>& precision_names() {
  static const std::vector<std::string> names{"float32", "int8", "bf16"};
  return names;
}

std::optional<Precision> parse_precision(const std::string& name) {
  const auto& names = precision_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Precision>(i);
  }
  return std::nullopt;
}

CpuFeatures cpu_features() { return {kernels::has_avx512_bf16(), kernels::has_amx_bf16()}; }

void check_precision(Precision precision, const CpuFeatures& cpu, const std::string& option) {
  if (precision == Precision::Bf16 && !cpu.avx512_bf16 && !cpu.amx_bf16) {
    fail(ErrorCode::Device, option + " \"bf16\" needs a CPU with the avx512_bf16 (or amx_bf16) feature, which this CPU lacks; "
                                     "use \"float32\" or \"int8\"");
  }
}

int64_t panel_rows(kernels::Isa isa) {
  // AVX2: below 64 rows the packed-weight kernel beats OpenBLAS per core (measured side by side on MiniLM and
  // BERT-base shapes: 1.1-1.7x at 8-48 rows, even around 64-96, behind from ~128).
  (void)isa;
  return 64;
}

LinearPath choose_linear_path(const LinearQuery& q) {
  if (!q.inference) return LinearPath::Aten;
  // Whatever the rows: the float32 kernels would give float32 results, not the bf16 ones asked for.
  if (q.precision == Precision::Bf16) return LinearPath::Bf16;
  if (q.own_kernels && q.precision == Precision::Int8 && q.rows < kInt8Rows) return LinearPath::Int8Panels;
  if (q.own_kernels && q.precision == Precision::Float32 && q.rows < panel_rows(q.isa)) return LinearPath::Panels;
  if (q.precision == Precision::Float32) {
    if (q.backend == LinearBackend::OneDnn) return LinearPath::OneDnn;
    // Where the CPU has AVX-512, oneDNN's JIT products use it while libtorch's BLAS (OpenBLAS in Debian's build, MKL
    // in the wheel's) ran AVX2 code: measured on an AVX-512 EPYC (Zen 5), 2.1x MKL's rate on the encoders' shapes
    // at 64-2048 rows. Only where oneDNN takes the plain weights: a oneDNN copy of them would cost as much memory as
    // the encoder's linear layers. AVX2 hosts keep BLAS, the faster one where it was measured.
    return q.backend == LinearBackend::Auto && q.isa == kernels::Isa::Avx512 && q.onednn_plain ? LinearPath::OneDnn : LinearPath::Blas;
  }
  // oneDNN's quantized product costs more than it saves on a handful of rows (measured: one short sentence
  // encodes 1.5x slower in int8): without sbert-node's kernels, few rows stay in float32.
  if (q.rows < kInt8Rows) return q.backend == LinearBackend::OneDnn ? LinearPath::OneDnn : LinearPath::Aten;
  return LinearPath::OneDnnInt8;
}

WeightLayout choose_weight_layout(const WeightLayoutQuery& q) {
  // Measured on an AVX-512 EPYC (Zen 5), oneDNN's plain product on one thread over 64-2560 rows: row-major ran
  // BERT-base's 768->3072 5-8% and 3072->768 15-22% faster than column-major (9 MiB each), while MiniLM's shapes
  // and BERT-base's 768->768 (2.25 MiB and less) ran 3-6% slower row-major. BERT-base encode, alternating runs:
  // batch 32 +6%, batch 128 +1-7%, one sentence (the panel kernel, packed from either layout) unchanged.
  constexpr int64_t kRowMajorBytes = int64_t{4} << 20;
  const bool large = q.in * q.out * static_cast<int64_t>(sizeof(float)) > kRowMajorBytes;
  return q.isa == kernels::Isa::Avx512 && q.onednn_plain && large ? WeightLayout::RowMajor : WeightLayout::ColumnMajor;
}

at::Tensor empty_linear_weight(int64_t out, int64_t in) {
  if (choose_weight_layout({kernels::best_isa(), onednn_plain_available(), in, out}) == WeightLayout::RowMajor) return at::empty({out, in});
  return at::empty_strided({out, in}, {1, out});
}

const char* linear_path_name(LinearPath path) {
  switch (path) {
    case LinearPath::Aten: return "aten";
    case LinearPath::Blas: return "blas";
    case LinearPath::Panels: return "panels";
    case LinearPath::Int8Panels: return "int8-panels";
    case LinearPath::OneDnn: return "onednn";
    case LinearPath::OneDnnInt8: return "onednn-int8";
    case LinearPath::Bf16: return "bf16";
  }
  return "?";
}

PreparedWeights::Value PreparedWeights::get(Form form, int variant, const std::vector<at::Tensor>& sources, const std::function<Value()>& make) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto current = [&](const Entry& e) {
    if (e.sources.size() != sources.size()) return false;
    for (size_t i = 0; i < sources.size(); ++i) {
      if (!e.sources[i].is_same(sources[i]) || static_cast<int64_t>(sources[i]._version()) != e.versions[i]) return false;
    }
    return true;
  };
  // Forms made from other tensors or older versions are dropped, whichever form is asked for now.
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return !current(e); }), entries_.end());
  for (const auto& e : entries_) {
    if (e.form == form && e.variant == variant) return e.value;
  }
  Entry e{form, variant, sources, {}, make()};
  for (const auto& s : sources) e.versions.push_back(static_cast<int64_t>(s._version()));
  entries_.push_back(e);
  return e.value;
}

std::vector<at::Tensor> linear(const Context& ctx, const std::vector<LinearWeights>& layers, Precision precision, const at::Tensor& x,
                               const PreparedWeights& prepared) {
  const at::Tensor& w0 = layers.front().weight;
  const int64_t in = w0.size(1);
  const int64_t rows = x.numel() / std::max<int64_t>(1, in);
  const LinearPath path = path_of(ctx, x, w0, precision);
  if (x.scalar_type() == at::kBFloat16 && path != LinearPath::Bf16) return linear(ctx, layers, precision, from_bf16(ctx, x), prepared);
  const bool onednn_plain = onednn_plain_available();
  std::vector<at::Tensor> outputs;
  if (path == LinearPath::Aten) {
    for (const auto& l : layers) outputs.push_back(at::linear(x, l.weight, l.bias));
    return outputs;
  }
  if (path == LinearPath::OneDnn && onednn_plain) {
    // One product per layer on the model's own weights: stacking them would be a copy to keep.
    const auto x2 = x.reshape({-1, in}).contiguous();
    auto sizes = x.sizes().vec();
    for (const auto& l : layers) {
      sizes.back() = l.weight.size(0);
      outputs.push_back(onednn_plain_linear(x2, l.weight, l.bias).view(sizes));
    }
    return outputs;
  }
  int64_t out = 0;
  for (const auto& l : layers) out += l.weight.size(0);
  auto get = [&](Form form) { return prepared_form(ctx, layers, form, prepared); };
  auto bias_of = [&](const PreparedWeights::Value& v) { return layers.size() == 1 ? layers[0].bias : v.bias; };
  auto x2 = x.reshape({-1, in});
  at::Tensor y;
  switch (path) {
    case LinearPath::Blas: {
      y = at::empty({rows, out}, x.options());
      int64_t offset = 0;
      for (const auto& l : layers) {
        blas_columns_into(ctx, y.narrow(1, offset, l.weight.size(0)), x2, l.weight, l.bias);
        offset += l.weight.size(0);
      }
      break;
    }
    case LinearPath::Panels: {
      const auto p = get(Form::Panels);
      y = multiply_panels(ctx, x2.contiguous(), p.data, data_or_null(bias_of(p)), out);
      break;
    }
    case LinearPath::Int8Panels: {
      const auto p = get(Form::Int8Panels);
      y = multiply_int8_panels(ctx, x2.contiguous(), p, data_or_null(bias_of(p)), out);
      break;
    }
    case LinearPath::OneDnn: {
      const auto p = get(Form::OneDnn);
      const auto bias = bias_of(p);
      y = at::mkldnn_linear(x2.contiguous().to_mkldnn(), p.data, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt).to_dense();
      break;
    }
    case LinearPath::OneDnnInt8: {
      const auto p = get(Form::OneDnnInt8);
      torch::jit::Stack stack{x2.contiguous(), p.packed, false};
      quantized_op("quantized::linear_dynamic").callBoxed(&stack);
      y = stack.at(0).toTensor();
      break;
    }
    case LinearPath::Bf16: {
      const auto p = get(Form::Bf16);
      y = multiply_bf16(ctx, x2, p.data, bias_of(p));
      break;
    }
    case LinearPath::Aten: break;
  }
  // Each layer's output: its columns of y, with x's leading dimensions.
  auto sizes = x.sizes().vec();
  int64_t offset = 0;
  for (const auto& l : layers) {
    sizes.back() = l.weight.size(0);
    outputs.push_back((layers.size() == 1 ? y : y.narrow(1, offset, l.weight.size(0))).view(sizes));
    offset += l.weight.size(0);
  }
  return outputs;
}

at::Tensor linear_activation(const Context& ctx, const LinearWeights& layer, Precision precision, Activation act, const at::Tensor& x,
                             const PreparedWeights& prepared) {
  const int64_t in = layer.weight.size(1), rows = x.numel() / std::max<int64_t>(1, in);
  const auto post = post_op_of(act);
  // Over few rows the bf16 product is cut for a helper (multiply_bf16), and the activation follows on float32.
  if (!post || rows < kBf16SplitRows || !onednn_reorder_op() || path_of(ctx, x, layer.weight, precision) != LinearPath::Bf16) {
    return activation(ctx, act, linear(ctx, {layer}, precision, x, prepared).front());
  }
  // No widening of the product's result, no GELU pass, no rounding of it again for the next layer: MiniLM's bf16
  // batch-32 encode 7% faster (alternating runs on an AVX-512 EPYC).
  const auto p = prepared_form(ctx, {layer}, Form::Bf16, prepared);
  auto sizes = x.sizes().vec();
  sizes.back() = layer.weight.size(0);
  return onednn_linear(to_bf16(ctx, x.reshape({-1, in}).contiguous()), p.data, layer.bias, *post).view(sizes);
}

void over_ranges(const Context& ctx, int64_t count, int64_t elements, const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (ctx.parts < 2 || elements < (int64_t{1} << 14)) return fn(int64_t{0}, count);
  ctx.run_parts([&](int part, int parts) { fn(count * part / parts, count * (part + 1) / parts); });
}

at::Tensor add_lora(const Context& ctx, const at::Tensor& y, const at::Tensor& x, const LoraWeights& lora) {
  // Two thin products (through r columns) rather than one merged [out, in] weight: the adapter stays a separate,
  // trainable low-rank update and costs r * (in + out) multiply-adds a row.
  // The adapter's factors are float32: a bf16 input (linear_activation's) is widened first.
  const auto xf = x.scalar_type() == at::kBFloat16 ? from_bf16(ctx, x) : x;
  const auto h = lora.dropout > 0 ? dropout(ctx, xf, lora.dropout) : xf;
  return y + at::linear(at::linear(h, lora.a), lora.b) * lora.scaling;
}

}  // namespace sbert::ops
