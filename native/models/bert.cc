#include "models/bert.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <ATen/core/dispatch/Dispatcher.h>

#include <atomic>
#include <cmath>
#include <limits>

#include "errors.h"
#include "kernels/kernels.h"
#include "runtime/team.h"

namespace sbert {

Activation parse_hidden_act(const std::string& name) {
  if (name == "gelu") return Activation::GeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::GeluTanh;
  if (name == "relu") return Activation::Relu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "tanh") return Activation::Tanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "linear" || name == "identity") return Activation::Identity;
  fail(ErrorCode::Config,
       "hidden_act '" + name + "' is not supported (expected gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu, swish, tanh, sigmoid, identity)");
}

at::Tensor apply_activation(Activation act, const at::Tensor& x) {
  switch (act) {
    case Activation::GeluErf: return at::gelu(x);
    case Activation::GeluTanh: return at::gelu(x, "tanh");
    case Activation::Relu: return at::relu(x);
    case Activation::Silu: return at::silu(x);
    case Activation::Tanh: return at::tanh(x);
    case Activation::Sigmoid: return at::sigmoid(x);
    case Activation::Identity: return x;
  }
  return x;
}

void BertConfig::validate() const {
  auto positive = [](int64_t v, const char* field) {
    if (v <= 0) fail(ErrorCode::Config, std::string("config.json field '") + field + "' must be a positive integer, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(intermediate_size, "intermediate_size");
  positive(max_position_embeddings, "max_position_embeddings");
  positive(type_vocab_size, "type_vocab_size");
  if (hidden_size % num_attention_heads != 0) {
    fail(ErrorCode::Config, "config.json: hidden_size " + std::to_string(hidden_size) + " is not a multiple of num_attention_heads " +
                                std::to_string(num_attention_heads));
  }
  parse_hidden_act(hidden_act);
}

at::Tensor train_dropout(const at::Tensor& x, double p) {
  if (p <= 0 || x.numel() == 0) return x;
  if (p >= 1 || !kernels::available() || !x.is_cpu() || x.scalar_type() != at::kFloat) return at::dropout(x, p, true);
  uint64_t seed = 0;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    seed = at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
  }
  auto noise = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  const kernels::DropoutDraw draw{seed, static_cast<uint32_t>(std::lround((1.0 - p) * 16777216.0)), 1.0f / static_cast<float>(1.0 - p)};
  kernels::dropout_noise(noise.data_ptr<float>(), noise.numel(), draw);
  return x * noise;
}

// Dropout of module m's output: the identity outside training.
static at::Tensor dropout_of(const torch::nn::Module& m, const at::Tensor& x, double p) { return m.is_training() ? train_dropout(x, p) : x; }

namespace {

std::atomic<int> g_linear_backend{static_cast<int>(LinearBackend::Auto)};

// Below this many rows sbert-node's packed-weight kernel beats OpenBLAS per core (measured side by side on
// MiniLM and BERT-base shapes: 1.1-1.7x at 8-48 rows, even around 64-96, behind from ~128).
constexpr int64_t kPanelRows = 64;

bool own_kernels() { return linear_backend() == LinearBackend::Auto && kernels::available(); }

// Runs block(begin, end) over the output columns of a [rows x in] x [in x out] product: as split_parts() blocks
// on 16-column boundaries (whole panels), spread over the batch's team, when the product is worth it (below
// ~0.25 M multiply-adds the hand-off costs more than a second core saves); else once, over all columns.
template <typename Block>
void over_column_blocks(int64_t rows, int64_t in, int64_t out, const Block& block) {
  if (split_parts() < 2 || rows * in * out < (int64_t{1} << 18) || out < 64) return block(0, out);
  team_run([&](int part, int parts) {
    const int64_t begin = (out * part / parts) / 16 * 16;
    const int64_t end = part + 1 == parts ? out : (out * (part + 1) / parts) / 16 * 16;
    block(begin, end);
  });
}

// Runs fn(begin, end) over [0, count) as split_parts() ranges spread over the batch's team when `elements` (what
// the work touches) is worth the hand-off, else once. Elementwise and row-wise passes give the same bits either way.
template <typename Fn>
void over_ranges(int64_t count, int64_t elements, const Fn& fn) {
  if (split_parts() < 2 || elements < (int64_t{1} << 14)) return fn(int64_t{0}, count);
  team_run([&](int part, int parts) { fn(count * part / parts, count * (part + 1) / parts); });
}

int64_t versions_of(const at::Tensor& w, const at::Tensor& b) {
  // Version counters only grow; their sum changes whenever either tensor is written in place.
  return static_cast<int64_t>(w._version()) + (b.defined() ? static_cast<int64_t>(b._version()) : 0);
}

c10::OperatorHandle quantized_op(const char* name) { return c10::Dispatcher::singleton().findSchemaOrThrow(name, ""); }

// y ([rows, out]) viewed with x's leading dimensions: the output of a linear layer over x.
at::Tensor like_rows_of(const at::Tensor& y, const at::Tensor& x) {
  auto sizes = x.sizes().vec();
  sizes.back() = y.size(-1);
  return y.view(sizes);
}

// Float32 inference on CPU (eval mode, no grad): where sbert-node's own passes may replace libtorch's ops.
bool cpu_float_inference(const torch::nn::Module& m, const at::Tensor& t) {
  return !m.is_training() && !at::GradMode::is_enabled() && t.is_cpu() && t.scalar_type() == at::kFloat;
}

}  // namespace

void set_linear_backend(LinearBackend backend) { g_linear_backend.store(static_cast<int>(backend)); }
LinearBackend linear_backend() { return static_cast<LinearBackend>(g_linear_backend.load()); }

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias) {
  // Shape [out, in] as the checkpoint has it, stored column-major ([in, out] row-major in memory): products
  // with it then run as BLAS's no-transpose case, which packs the weight faster. Measured on this machine:
  // 15-20% faster for a sentence's few rows, 3-8% for a batch; no extra memory.
  weight = register_parameter("weight", at::empty_strided({out_features, in_features}, {1, out_features}));
  if (with_bias) bias = register_parameter("bias", at::zeros({out_features}));
}

at::Tensor Linear::forward(const at::Tensor& x) const {
  if (!cpu_float_inference(*this, x)) return at::linear(x, weight, bias);
  const int64_t rows = x.numel() / std::max<int64_t>(1, weight.size(1));
  if (rows < kPanelRows && own_kernels() && weight.scalar_type() == at::kFloat) {
    return precision == LinearPrecision::Int8 ? int8_panel_forward(x) : panel_forward(x);
  }
  if (precision == LinearPrecision::Float32 && linear_backend() != LinearBackend::OneDnn) return split_forward(x);
  return inference_forward(x);
}

// y ([rows, out], any row stride) = x2 · weightᵀ + bias through BLAS, one call per column block, the blocks
// spread over the batch's team. Always cut the same way (split_parts is fixed per process), whether or not a
// helper is free to take a block, so the bits do not depend on what else was running.
static void blas_columns_into(at::Tensor y, const at::Tensor& x2, const at::Tensor& weight, const at::Tensor& bias) {
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
  over_column_blocks(x2.size(0), x2.size(1), out, block);
}

at::Tensor Linear::split_forward(const at::Tensor& x) const {
  const int64_t in = weight.size(1), out = weight.size(0);
  auto x2 = x.reshape({-1, in});
  auto y = at::empty({x2.size(0), out}, x.options());
  blas_columns_into(y, x2, weight, bias);
  return like_rows_of(y, x);
}

// y = x2 · Wᵀ + bias on the panel kernel for x2 [rows, in] contiguous, by column blocks (over_column_blocks).
static at::Tensor multiply_panels_split(const at::Tensor& x2, const at::Tensor& panels, const float* bias, int64_t out) {
  const int64_t rows = x2.size(0), in = x2.size(1);
  auto y = at::empty({rows, out}, x2.options());
  over_column_blocks(rows, in, out, [&](int64_t begin, int64_t end) {
    kernels::multiply_panels(x2.data_ptr<float>(), in, rows, in, panels.data_ptr<float>(), out, bias, y.data_ptr<float>(), out, begin, end);
  });
  return y;
}

at::Tensor Linear::int8_panel_forward(const at::Tensor& x) const {
  const int64_t in = weight.size(1), out = weight.size(0);
  auto x2 = x.reshape({-1, in}).contiguous();
  const int64_t rows = x2.size(0);
  const Prepared prep = prepared(Form::Int8Panels);
  auto p = at::empty({rows, (in + 1) / 2 * 2}, x2.options().dtype(at::kShort));
  auto row_scale = at::empty({rows}, x2.options());
  kernels::quantize_rows(x2.data_ptr<float>(), in, rows, in, p.data_ptr<int16_t>(), row_scale.data_ptr<float>());
  auto y = at::empty({rows, out}, x2.options());
  const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
  over_column_blocks(rows, in, out, [&](int64_t begin, int64_t end) {
    kernels::multiply_panels_int8(p.data_ptr<int16_t>(), rows, in, row_scale.data_ptr<float>(), prep.int8_panels.data_ptr<int8_t>(),
                                  prep.int8_scales.data_ptr<float>(), out, b, y.data_ptr<float>(), out, begin, end);
  });
  return like_rows_of(y, x);
}

at::Tensor Linear::panel_forward(const at::Tensor& x) const {
  const int64_t in = weight.size(1), out = weight.size(0);
  auto y = multiply_panels_split(x.reshape({-1, in}).contiguous(), prepared(Form::Panels).panels, bias.defined() ? bias.data_ptr<float>() : nullptr, out);
  return like_rows_of(y, x);
}

Linear::Prepared Linear::prepared(Form form) const {
  std::lock_guard<std::mutex> lock(prepare_mutex_);
  const int64_t version = versions_of(weight, bias);
  if (prepared_.version != version) {
    prepared_ = Prepared{};
    prepared_.version = version;
  }
  // Per output channel, symmetric, as dynamic quantization prepares weights: one rounding for both int8 paths.
  auto quantized_weight = [&] {
    auto w = weight.detach().contiguous();
    auto scales = (w.abs().amax({1}) / 127.0).clamp_min(1e-8).to(at::kDouble);
    return std::make_pair(at::quantize_per_channel(w, scales, at::zeros({w.size(0)}, at::kLong), 0, at::kQInt8), scales);
  };
  if (form == Form::Panels && !prepared_.panels.defined()) {
    // Made once per weight version: the same bytes as the weight, regrouped (memory: one more copy of each
    // linear layer that ever runs over few rows).
    const int64_t in = weight.size(1), out = weight.size(0);
    auto w = weight.detach();
    prepared_.panels = at::empty({kernels::panel_floats(out, in)}, w.options());
    kernels::pack_panels(w.data_ptr<float>(), out, in, w.stride(0), w.stride(1), prepared_.panels.data_ptr<float>());
  } else if (form == Form::Int8Panels && !prepared_.int8_panels.defined()) {
    const int64_t in = weight.size(1), out = weight.size(0);
    auto [wq, scales] = quantized_weight();
    auto q = wq.int_repr().contiguous();
    prepared_.int8_panels = at::empty({kernels::int8_panel_bytes(out, in)}, q.options());
    kernels::pack_panels_int8(q.data_ptr<int8_t>(), out, in, prepared_.int8_panels.data_ptr<int8_t>());
    prepared_.int8_scales = scales.to(at::kFloat);
  } else if (form == Form::Int8 && prepared_.int8_packed.isNone()) {
    static std::once_flag engine_once;
    std::call_once(engine_once, [] {
      const auto& engines = at::globalContext().supportedQEngines();
      if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) == engines.end()) {
        throw std::runtime_error("int8 inference needs libtorch's oneDNN quantized engine, which this build lacks");
      }
      at::globalContext().setQEngine(at::QEngine::ONEDNN);
    });
    torch::jit::Stack stack{quantized_weight().first, bias.defined() ? c10::IValue(bias.detach()) : c10::IValue()};
    quantized_op("quantized::linear_prepack").callBoxed(&stack);
    prepared_.int8_packed = stack.at(0);
  } else if (form == Form::OneDnn && !prepared_.onednn_weight.defined()) {
    prepared_.onednn_weight = weight.detach().contiguous().to_mkldnn();
  }
  return prepared_;
}

at::Tensor Linear::inference_forward(const at::Tensor& x) const {
  const int64_t rows = x.numel() / std::max<int64_t>(1, x.size(-1));
  // oneDNN's quantized product costs more than it saves on a handful of rows (measured: one short sentence
  // encodes 1.5x slower in int8): without sbert-node's kernels (forward), few rows stay in float32.
  if (precision == LinearPrecision::Int8 && rows < 64 && linear_backend() != LinearBackend::OneDnn) return at::linear(x, weight, bias);
  const bool int8 = precision == LinearPrecision::Int8 && rows >= 64;
  const Prepared p = prepared(int8 ? Form::Int8 : Form::OneDnn);
  const int64_t in = weight.size(1);
  auto x2 = x.reshape({-1, in}).contiguous();
  at::Tensor y;
  if (int8) {
    torch::jit::Stack stack{x2, p.int8_packed, false};
    quantized_op("quantized::linear_dynamic").callBoxed(&stack);
    y = stack.at(0).toTensor();
  } else {
    y = at::mkldnn_linear(x2.to_mkldnn(), p.onednn_weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt).to_dense();
  }
  return like_rows_of(y, x);
}

void Linear::reset_uniform(uint64_t seed) {
  c10::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1)));
  weight.copy_(at::empty(weight.sizes()).uniform_(-bound, bound, gen));
  if (bias.defined()) bias.copy_(at::empty(bias.sizes()).uniform_(-bound, bound, gen));
}

LayerNorm::LayerNorm(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", at::ones({dim}));
  bias = register_parameter("bias", at::zeros({dim}));
}

at::Tensor LayerNorm::forward(const at::Tensor& x) const { return at::layer_norm(x, {weight.size(0)}, weight, bias, eps); }

Embedding::Embedding(int64_t num, int64_t dim) { weight = register_parameter("weight", at::empty({num, dim})); }

at::Tensor Embedding::forward(const at::Tensor& ids) const { return at::embedding(weight, ids); }

BertEmbeddings::BertEmbeddings(const BertConfig& c) : dropout(c.hidden_dropout_prob) {
  word_embeddings = register_module("word_embeddings", std::make_shared<Embedding>(c.vocab_size, c.hidden_size));
  position_embeddings = register_module("position_embeddings", std::make_shared<Embedding>(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings", std::make_shared<Embedding>(c.type_vocab_size, c.hidden_size));
  layer_norm = register_module("LayerNorm", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps));
}

at::Tensor Packing::pad(const at::Tensor& rows) const {
  const int64_t width = rows.size(-1);
  return at::zeros({batch * seq_len, width}, rows.options()).index_copy(0, index, rows).view({batch, seq_len, width});
}

at::Tensor Packing::pack(const at::Tensor& padded) const { return padded.reshape({batch * seq_len, padded.size(-1)}).index_select(0, index); }

at::Tensor BertEmbeddings::forward_rows(const at::Tensor& ids, const at::Tensor& types, const at::Tensor& positions) {
  auto h = word_embeddings->forward(ids) + token_type_embeddings->forward(types);
  h = h + position_embeddings->forward(positions);
  h = layer_norm->forward(h);
  return dropout_of(*this, h, dropout);
}

at::Tensor BertEmbeddings::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  // Positions 0..L-1 as [1, L]: their embeddings broadcast over the batch.
  return forward_rows(input_ids, token_type_ids, at::arange(input_ids.size(1), input_ids.options().dtype(at::kLong)).unsqueeze(0));
}

BertSelfAttention::BertSelfAttention(const BertConfig& c)
    : heads(c.num_attention_heads), head_dim(c.hidden_size / c.num_attention_heads), dropout(c.attention_probs_dropout_prob) {
  query = register_module("query", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
  key = register_module("key", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
  value = register_module("value", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
}

std::vector<int64_t> BertSelfAttention::qkv_versions() const {
  std::vector<int64_t> versions;
  for (const auto* l : {query.get(), key.get(), value.get()}) versions.push_back(versions_of(l->weight, l->bias));
  return versions;
}

std::shared_ptr<Linear> BertSelfAttention::fused_qkv() const {
  std::lock_guard<std::mutex> lock(fused_mutex_);
  const auto versions = qkv_versions();
  if (!fused_ || versions != fused_versions_ || fused_->precision != query->precision) {
    // Ordinary tensors even when called under InferenceMode: the fused layer tracks versions like any other.
    c10::InferenceMode ordinary(false);
    const int64_t hidden = query->weight.size(1);
    auto fused = std::make_shared<Linear>(hidden, 3 * hidden);
    c10::NoGradGuard no_grad;
    fused->weight.copy_(at::cat({query->weight, key->weight, value->weight}, 0));
    fused->bias.copy_(at::cat({query->bias, key->bias, value->bias}, 0));
    fused->precision = query->precision;
    fused->eval();
    fused_ = fused;
    fused_versions_ = versions;
  }
  return fused_;
}

at::Tensor BertSelfAttention::project_qkv(const at::Tensor& x2) {
  const int64_t rows = x2.size(0), in = x2.size(1), width = heads * head_dim;
  // int8: the fused layer (over few rows on its int8 panels, see Linear::forward).
  if (query->precision == LinearPrecision::Int8) return fused_qkv()->forward(x2);
  if (rows < kPanelRows) {
    at::Tensor panels, bias;
    {
      std::lock_guard<std::mutex> lock(fused_mutex_);
      const auto versions = qkv_versions();
      if (!qkv_panels_.defined() || versions != qkv_panel_versions_) {
        std::vector<at::Tensor> weights;
        std::vector<const float*> starts;
        for (const auto* l : {query.get(), key.get(), value.get()}) {
          // One layout for the three (they are column-major unless a caller replaced them).
          weights.push_back(l->weight.detach().t().contiguous().t());
          for (int64_t i = 0; i < width; ++i) starts.push_back(weights.back().data_ptr<float>() + i * weights.back().stride(0));
        }
        qkv_panels_ = at::empty({kernels::panel_floats(3 * width, in)}, x2.options());
        kernels::pack_panels(starts.data(), 3 * width, in, weights[0].stride(1), qkv_panels_.data_ptr<float>());
        qkv_bias_ = at::cat({query->bias.detach(), key->bias.detach(), value->bias.detach()});
        qkv_panel_versions_ = versions;
      }
      panels = qkv_panels_;
      bias = qkv_bias_;
    }
    return multiply_panels_split(x2, panels, bias.data_ptr<float>(), 3 * width);
  }
  auto y = at::empty({rows, 3 * width}, x2.options());
  int64_t offset = 0;
  for (const auto* l : {query.get(), key.get(), value.get()}) {
    blas_columns_into(y.narrow(1, offset, width), x2, l->weight, l->bias);
    offset += width;
  }
  return y;
}

at::Tensor BertSelfAttention::kernel_forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing) {
  const int64_t width = heads * head_dim;
  const int64_t batch = packing ? packing->batch : hidden.size(0), seq_len = packing ? packing->seq_len : hidden.size(1);
  const int64_t rows = packing ? hidden.size(0) : batch * seq_len;
  if (!own_kernels() || hidden.scalar_type() != at::kFloat || additive_mask.scalar_type() != at::kFloat ||
      additive_mask.numel() != batch * seq_len) {
    return {};
  }
  auto qkv = project_qkv(hidden.reshape({rows, hidden.size(-1)}).contiguous());  // q, k, v of a token side by side
  auto mask = additive_mask.reshape({batch, seq_len}).contiguous();
  auto context = packing ? at::empty({rows, width}, hidden.options()) : at::empty({batch, seq_len, width}, hidden.options());
  const float* q = qkv.data_ptr<float>();
  kernels::AttentionShape shape{batch, seq_len, heads, head_dim, 3 * width, width};
  if (packing) {
    shape.starts = packing->starts.data_ptr<int64_t>();
    shape.lengths = packing->lengths.data_ptr<int64_t>();
  }
  const int64_t items = batch * heads;
  // Items (sentence, head) split evenly over the team's parts (one part when nothing is split).
  team_run([&](int part, int parts) {
    kernels::attention(q, q + width, q + 2 * width, packing ? nullptr : mask.data_ptr<float>(), context.data_ptr<float>(), shape,
                       items * part / parts, items * (part + 1) / parts);
  });
  return context;
}

at::Tensor BertSelfAttention::forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing) {
  const int64_t batch = packing ? packing->batch : hidden.size(0), seq_len = packing ? packing->seq_len : hidden.size(1);
  auto split_heads = [&](const at::Tensor& t) {
    return (packing ? packing->pad(t) : t).view({batch, seq_len, heads, head_dim}).transpose(1, 2);
  };
  at::Tensor q, k, v;
  if (!is_training() && !at::GradMode::is_enabled() && hidden.device().is_cpu()) {
    if (auto context = kernel_forward(hidden, additive_mask, packing); context.defined()) return context;
    auto qkv = fused_qkv()->forward(hidden).chunk(3, -1);
    q = split_heads(qkv[0]);
    k = split_heads(qkv[1]);
    v = split_heads(qkv[2]);
  } else {
    q = split_heads(query->forward(hidden));
    k = split_heads(key->forward(hidden));
    v = split_heads(value->forward(hidden));
  }
  auto scores = at::matmul(q, k.transpose(-1, -2));
  at::Tensor probs;
  if (!is_training() && !at::GradMode::is_enabled()) {
    // Inference: scale, mask and softmax in place, so one [batch, heads, L, L] tensor is alive instead of four
    // (for 8 x 512 tokens of BERT-base, 100 MiB each).
    scores.div_(std::sqrt(static_cast<double>(head_dim))).add_(additive_mask);
    probs = at::_softmax_out(scores, scores, -1, false);
  } else {
    scores = scores / std::sqrt(static_cast<double>(head_dim));
    probs = dropout_of(*this, at::softmax(scores + additive_mask, -1), dropout);
  }
  auto context = at::matmul(probs, v).transpose(1, 2).reshape({batch, seq_len, heads * head_dim});
  return packing ? packing->pack(context) : context;
}

BertResidualOutput::BertResidualOutput(int64_t in, int64_t out, double eps, double dropout_) : dropout(dropout_) {
  dense = register_module("dense", std::make_shared<Linear>(in, out));
  layer_norm = register_module("LayerNorm", std::make_shared<LayerNorm>(out, eps));
}

at::Tensor BertResidualOutput::forward(const at::Tensor& hidden, const at::Tensor& residual) {
  auto h = dense->forward(hidden);
  const auto& gamma = layer_norm->weight;
  const auto& beta = layer_norm->bias;
  const bool fits = own_kernels() && cpu_float_inference(*this, h) && h.is_contiguous() && residual.scalar_type() == at::kFloat &&
                    residual.is_contiguous() && residual.sizes() == h.sizes() && gamma.scalar_type() == at::kFloat && gamma.is_contiguous() &&
                    beta.scalar_type() == at::kFloat && beta.is_contiguous() && gamma.numel() == h.size(-1);
  if (!fits) return layer_norm->forward(dropout_of(*this, h, dropout) + residual);
  // Inference: the residual add and LayerNorm in one pass per row, in place, rows split over the batch's team.
  // Measured with and without in turn, one 25-token sentence: MiniLM 2-4% faster, BERT-base 3-4%; batches of 32
  // unchanged.
  const int64_t width = h.size(-1), rows = h.numel() / width;
  float* x = h.data_ptr<float>();
  const float* r = residual.data_ptr<float>();
  auto run = [&](int64_t begin, int64_t end) {
    kernels::add_layer_norm(x + begin * width, r + begin * width, gamma.data_ptr<float>(), beta.data_ptr<float>(), end - begin, width,
                            static_cast<float>(layer_norm->eps));
  };
  over_ranges(rows, h.numel(), run);
  return h;
}

BertAttention::BertAttention(const BertConfig& c) {
  self_attention = register_module("self", std::make_shared<BertSelfAttention>(c));
  output = register_module(
      "output", std::make_shared<BertResidualOutput>(c.hidden_size, c.hidden_size, c.layer_norm_eps, c.hidden_dropout_prob));
}

at::Tensor BertAttention::forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing) {
  return output->forward(self_attention->forward(hidden, additive_mask, packing), hidden);
}

BertIntermediate::BertIntermediate(const BertConfig& c) : act(parse_hidden_act(c.hidden_act)) {
  dense = register_module("dense", std::make_shared<Linear>(c.hidden_size, c.intermediate_size));
}

at::Tensor BertIntermediate::forward(const at::Tensor& hidden) {
  auto y = dense->forward(hidden);
  // Inference, exact GELU: sbert-node's kernel in place, split over the batch's team (libtorch's op runs on one
  // thread while a lone request's helper waits). Measured with and without in turn, one 25-token sentence: MiniLM
  // 6-8% faster, BERT-base 2-4%; batches of 32 unchanged.
  if (act == Activation::GeluErf && own_kernels() && cpu_float_inference(*this, y) && y.is_contiguous()) {
    float* data = y.data_ptr<float>();
    over_ranges(y.numel(), y.numel(), [&](int64_t begin, int64_t end) { kernels::gelu_inplace(data + begin, end - begin); });
    return y;
  }
  return apply_activation(act, y);
}

BertLayer::BertLayer(const BertConfig& c) {
  attention = register_module("attention", std::make_shared<BertAttention>(c));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c));
  output = register_module(
      "output", std::make_shared<BertResidualOutput>(c.intermediate_size, c.hidden_size, c.layer_norm_eps, c.hidden_dropout_prob));
}

at::Tensor BertLayer::forward(const at::Tensor& hidden, const at::Tensor& additive_mask, const Packing* packing) {
  auto attended = attention->forward(hidden, additive_mask, packing);
  return output->forward(intermediate->forward(attended), attended);
}

BertLayerList::BertLayerList(const BertConfig& c) {
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers.push_back(register_module(std::to_string(i), std::make_shared<BertLayer>(c)));
  }
}

BertEncoder::BertEncoder(const BertConfig& c) { layer = register_module("layer", std::make_shared<BertLayerList>(c)); }

at::Tensor BertEncoder::forward(at::Tensor hidden, const at::Tensor& additive_mask, const Packing* packing) {
  for (auto& l : layer->layers) hidden = l->forward(hidden, additive_mask, packing);
  return hidden;
}

BertModel::BertModel(const BertConfig& c) : config(c) {
  c.validate();
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(c));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(c));
}

at::Tensor BertModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids) {
  // As Hugging Face: (1 - mask) * finfo(dtype).min, broadcast over heads and query positions.
  auto additive_mask = [&](const at::Tensor& hidden) {
    return (1.0 - attention_mask.to(hidden.scalar_type()).unsqueeze(1).unsqueeze(2)) * std::numeric_limits<float>::lowest();
  };
  // On CPU, the layers on the real tokens only. Linear layers, LayerNorm, GELU and dropout are per token, and a
  // padded position's output reaches nothing (a key the mask hides, a query no real token reads, masked in
  // pooling), so the real tokens' values and every gradient are those of the padded run; the products just skip
  // the padding (STS-like training batches of 16 are ~1.6x padded, length-sorted encode batches of 32 ~1.2x).
  // Not on GPUs, where nonzero() would wait for the device.
  if (input_ids.device().is_cpu() && input_ids.dim() == 2 && attention_mask.sizes() == input_ids.sizes()) {
    const int64_t batch = input_ids.size(0), seq_len = input_ids.size(1);
    auto present = attention_mask.ne(0);
    auto index = present.reshape({-1}).nonzero().view({-1});
    if (index.numel() > 0 && index.numel() < batch * seq_len) {
      auto lengths = present.sum(1, /*keepdim=*/false, at::kLong);
      const Packing packing{index, lengths.cumsum(0) - lengths, lengths, batch, seq_len};
      auto hidden = embeddings->forward_rows(input_ids.reshape({-1}).index_select(0, index), token_type_ids.reshape({-1}).index_select(0, index),
                                             at::remainder(index, seq_len));
      return packing.pad(encoder->forward(hidden, additive_mask(hidden), &packing));
    }
  }
  auto hidden = embeddings->forward(input_ids, token_type_ids);
  return encoder->forward(hidden, additive_mask(hidden));
}

void BertModel::set_precision(LinearPrecision precision) {
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* l = dynamic_cast<Linear*>(m.get())) l->precision = precision;
  }
}

void BertModel::init_weights(uint64_t seed) {
  c10::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    at::Tensor p = item.value();
    const bool is_norm = name.find("LayerNorm") != std::string::npos;
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (is_norm) {
      p.fill_(is_bias ? 0.0 : 1.0);
    } else if (is_bias) {
      p.zero_();
    } else {
      auto values = at::empty(p.sizes(), at::kFloat);
      values.normal_(0.0, config.initializer_range, gen);
      p.copy_(values);
    }
  }
  if (config.pad_token_id >= 0 && config.pad_token_id < config.vocab_size) {
    embeddings->word_embeddings->weight[config.pad_token_id].zero_();
  }
}

}  // namespace sbert
