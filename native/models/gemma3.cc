// Gemma 3 text models (model_type "gemma3_text"; EmbeddingGemma is one): a decoder with RMSNorms stored as offsets
// from one, norms before and after both sublayers, embeddings scaled by sqrt(hidden_size), grouped-query attention
// with RMSNorm on each query and key head and a query_pre_attn_scalar scale, GeGLU MLP, and layers of two kinds:
// full attention (rope_theta) and sliding-window attention (its own rotary base), causal or, where the config says
// use_bidirectional_attention (EmbeddingGemma), bidirectional. Names as Hugging Face's Gemma3TextModel
// (`embed_tokens`, `layers.N.self_attn.q_norm`, `pre_feedforward_layernorm`, `norm`).
#include <ATen/ATen.h>

#include <cmath>

#include "models/encoder.h"
#include "nn/layers.h"
#include "ops/attention.h"
#include "ops/checkpoint.h"
#include "ops/packing.h"
#include "ops/pointwise.h"
#include "ops/rotary.h"

namespace sbert::gemma3 {

enum class LayerType { Full, Sliding };

struct Config {
  int64_t vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim;
  int64_t max_position_embeddings, sliding_window;
  ops::Activation hidden_activation;
  double rms_norm_eps, query_pre_attn_scalar, attention_dropout, initializer_range;
  double rope_theta, rope_local_theta;  // full-attention and sliding-window layers' rotary bases
  bool attention_bias, bidirectional;
  std::vector<LayerType> layer_types;
  std::optional<int64_t> pad_token_id;

  static Config read(const ConfigReader& c) {
    Config out;
    out.vocab_size = c.size("vocab_size", int64_t{1} << 24);
    out.hidden_size = c.size("hidden_size", int64_t{1} << 16);
    out.intermediate_size = c.size("intermediate_size", int64_t{1} << 18);
    out.num_hidden_layers = c.size("num_hidden_layers", 1024);
    out.num_attention_heads = c.size("num_attention_heads", int64_t{1} << 12);
    out.num_key_value_heads = c.size("num_key_value_heads", out.num_attention_heads, out.num_attention_heads);
    out.head_dim = c.size("head_dim", int64_t{1} << 12, 256);
    out.max_position_embeddings = c.size("max_position_embeddings", int64_t{1} << 24, 131072);
    out.sliding_window = c.size("sliding_window", int64_t{1} << 24, 4096);
    out.hidden_activation = ops::parse_activation(c.string("hidden_activation", "gelu_pytorch_tanh"), c.file() + ": field 'hidden_activation'");
    out.rms_norm_eps = c.number("rms_norm_eps", 1e-6);
    out.query_pre_attn_scalar = c.number("query_pre_attn_scalar", 256);
    if (out.query_pre_attn_scalar <= 0) c.fail("query_pre_attn_scalar", "must be positive");
    out.attention_dropout = c.number("attention_dropout", 0.0);
    out.initializer_range = c.number("initializer_range", 0.02);
    out.attention_bias = c.boolean("attention_bias", false);
    out.bidirectional = c.boolean("use_bidirectional_attention", false);
    if (c.has("pad_token_id")) out.pad_token_id = c.integer("pad_token_id");
    if (c.has("attn_logit_softcapping")) c.fail("attn_logit_softcapping", "is not supported (Gemma 3 models leave it null)");
    if (out.num_attention_heads % out.num_key_value_heads != 0) {
      c.fail("num_key_value_heads", std::to_string(out.num_key_value_heads) + " does not divide num_attention_heads " + std::to_string(out.num_attention_heads));
    }
    if (out.head_dim % 2 != 0) c.fail("head_dim", "must be even (rotary positions turn pairs of values), got " + std::to_string(out.head_dim));
    // transformers 5: rope_parameters per layer type; 4.x: rope_theta and rope_local_base_freq.
    const ConfigReader rope = c.object("rope_parameters");
    auto theta = [&](const std::string& type, double fallback) {
      const ConfigReader r = rope.object(type);
      const std::string kind = r.string("rope_type", "default");
      if (kind != "default") r.fail("rope_type", "'" + kind + "' is not supported (only \"default\")");
      return r.number("rope_theta", fallback);
    };
    if (c.has("rope_scaling")) c.fail("rope_scaling", "is not supported");
    out.rope_theta = theta("full_attention", c.number("rope_theta", 1000000.0));
    out.rope_local_theta = theta("sliding_attention", c.number("rope_local_base_freq", 10000.0));
    const std::vector<std::string> types = c.strings("layer_types");
    if (!types.empty() && static_cast<int64_t>(types.size()) != out.num_hidden_layers) {
      c.fail("layer_types", "has " + std::to_string(types.size()) + " entries for " + std::to_string(out.num_hidden_layers) + " layers");
    }
    // Without layer_types, transformers' default: every sliding_window_pattern-th layer full, the others sliding.
    const int64_t pattern = c.size("sliding_window_pattern", 1024, c.size("_sliding_window_pattern", 1024, 6));
    for (int64_t i = 0; i < out.num_hidden_layers; ++i) {
      if (types.empty()) {
        out.layer_types.push_back((i + 1) % pattern == 0 ? LayerType::Full : LayerType::Sliding);
      } else if (types[i] == "full_attention" || types[i] == "sliding_attention") {
        out.layer_types.push_back(types[i] == "full_attention" ? LayerType::Full : LayerType::Sliding);
      } else {
        c.fail("layer_types", "has '" + types[i] + "' (full_attention or sliding_attention)");
      }
    }
    return out;
  }
};

class Gemma3Attention : public torch::nn::Module {
 public:
  Gemma3Attention(const Config& c, LayerType type) : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim),
                                                     dropout(c.attention_dropout) {
    const int64_t q_width = heads * head_dim, kv_width = kv_heads * head_dim;
    q_proj = register_module("q_proj", std::make_shared<nn::Linear>(c.hidden_size, q_width, c.attention_bias));
    k_proj = register_module("k_proj", std::make_shared<nn::Linear>(c.hidden_size, kv_width, c.attention_bias));
    v_proj = register_module("v_proj", std::make_shared<nn::Linear>(c.hidden_size, kv_width, c.attention_bias));
    o_proj = register_module("o_proj", std::make_shared<nn::Linear>(q_width, c.hidden_size, c.attention_bias));
    q_norm = register_module("q_norm", std::make_shared<nn::RMSNorm>(head_dim, c.rms_norm_eps, /*unit_offset=*/true));
    k_norm = register_module("k_norm", std::make_shared<nn::RMSNorm>(head_dim, c.rms_norm_eps, /*unit_offset=*/true));
    // Scores are q·k / sqrt(query_pre_attn_scalar); attention divides by sqrt(head_dim), so queries carry the rest.
    query_scale = std::sqrt(static_cast<double>(head_dim) / c.query_pre_attn_scalar);
    // Sliding layers: causal, keys less than sliding_window positions before; bidirectional, keys at most
    // sliding_window / 2 positions away on either side (transformers reads the config's window as that span).
    if (type == LayerType::Sliding) {
      band_left = c.bidirectional ? c.sliding_window / 2 : c.sliding_window - 1;
      band_right = c.bidirectional ? c.sliding_window / 2 : 0;
    } else {
      band_right = c.bidirectional ? -1 : 0;
    }
  }

  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const ops::RotaryTables& rotary) {
    const auto qkv = nn::linear_group(ctx, {q_proj.get(), k_proj.get(), v_proj.get()}, hidden, qkv_prepared_);
    auto q = ops::apply_rotary(q_norm->forward_heads(qkv[0]), rotary, head_dim);
    if (query_scale != 1.0) q = q * query_scale;
    auto k = ops::apply_rotary(k_norm->forward_heads(qkv[1]), rotary, head_dim);
    ops::AttentionSpec spec{heads, kv_heads};
    spec.window_left = band_left;
    spec.window_right = band_right;
    spec.dropout_p = dropout;
    return o_proj->forward(ctx, ops::attention(ctx, q, k, qkv[2], tokens, spec));
  }

  const int64_t heads, kv_heads, head_dim;
  const double dropout;
  double query_scale = 1.0;
  int64_t band_left = -1, band_right = -1;
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj, o_proj;
  std::shared_ptr<nn::RMSNorm> q_norm, k_norm;

 private:
  ops::PreparedWeights qkv_prepared_;
};

class Gemma3DecoderLayer : public torch::nn::Module {
 public:
  Gemma3DecoderLayer(const Config& c, int64_t index) : type(c.layer_types[index]) {
    self_attn = register_module("self_attn", std::make_shared<Gemma3Attention>(c, type));
    mlp = register_module("mlp", std::make_shared<nn::GatedMLP>(c.hidden_size, c.intermediate_size, c.hidden_activation));
    auto norm = [&](const char* name) { return register_module(name, std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps, true)); };
    input_layernorm = norm("input_layernorm");
    post_attention_layernorm = norm("post_attention_layernorm");
    pre_feedforward_layernorm = norm("pre_feedforward_layernorm");
    post_feedforward_layernorm = norm("post_feedforward_layernorm");
  }

  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const ops::RotaryTables& rotary) {
    auto h = hidden + post_attention_layernorm->forward(self_attn->forward(ctx, input_layernorm->forward(hidden), tokens, rotary));
    return h + post_feedforward_layernorm->forward(mlp->forward(ctx, pre_feedforward_layernorm->forward(h)));
  }

  const LayerType type;
  std::shared_ptr<Gemma3Attention> self_attn;
  std::shared_ptr<nn::GatedMLP> mlp;
  std::shared_ptr<nn::RMSNorm> input_layernorm, post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm;
};

class Gemma3TextModel : public Encoder {
 public:
  explicit Gemma3TextModel(const Config& c) : config(c) {
    embed_tokens = register_module("embed_tokens", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id));
    layers_ = register_module("layers", std::make_shared<torch::nn::Module>());
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.push_back(layers_->register_module(std::to_string(i), std::make_shared<Gemma3DecoderLayer>(c, i)));
    norm = register_module("norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps, true));
  }

  // Positions are the padded batch's columns, as Hugging Face numbers them without position_ids.
  at::Tensor forward(const ops::Context& ctx, const EncoderInput& in, std::vector<at::Tensor>* states) override {
    const ops::Tokens tokens(in.attention_mask);
    auto positions = tokens.take(at::arange(in.input_ids.size(1), in.input_ids.options()).unsqueeze(0).expand_as(in.input_ids));
    const auto full = ops::rotary_tables(positions, config.rope_theta, config.head_dim);
    const auto local = ops::rotary_tables(positions, config.rope_local_theta, config.head_dim);
    // The scale as a float32 number, as Hugging Face keeps it.
    auto hidden = embed_tokens->forward(tokens.take(in.input_ids)) * static_cast<float>(std::sqrt(static_cast<double>(config.hidden_size)));
    for (auto& layer : layers) {
      if (states) states->push_back(tokens.restore(hidden));
      const auto& rotary = layer->type == LayerType::Full ? full : local;
      hidden = ops::checkpoint(ctx, hidden, [layer, tokens, rotary](const ops::Context& c, const at::Tensor& h) { return layer->forward(c, h, tokens, rotary); });
    }
    hidden = norm->forward(hidden);
    if (states) states->push_back(tokens.restore(hidden));
    return tokens.restore(hidden);
  }

  void init_weights(uint64_t seed) override { nn::init_normal(*this, config.initializer_range, seed); }

  EncoderInfo info() const override {
    return {"gemma3_text", "Gemma3TextModel", config.vocab_size, config.hidden_size, config.max_position_embeddings, 0, config.num_hidden_layers,
            config.num_attention_heads};
  }

  const Config config;
  std::shared_ptr<nn::Embedding> embed_tokens;
  std::vector<std::shared_ptr<Gemma3DecoderLayer>> layers;
  std::shared_ptr<nn::RMSNorm> norm;

 private:
  std::shared_ptr<torch::nn::Module> layers_;
};

}  // namespace sbert::gemma3

namespace sbert {

Architecture gemma3_text_architecture() {
  Architecture a;
  a.model_type = "gemma3_text";
  a.prefixes = {"model."};
  a.build = [](const ConfigReader& c) -> std::shared_ptr<Encoder> { return std::make_shared<gemma3::Gemma3TextModel>(gemma3::Config::read(c)); };
  a.buffers = {};
  a.kept = {};
  a.layers_key = "layers.";
  return a;
}

}  // namespace sbert
