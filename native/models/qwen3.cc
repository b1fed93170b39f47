// Qwen3 (model_type "qwen3"): a pre-norm decoder (RMSNorm, rotary positions, grouped-query causal attention with
// RMSNorm on each query and key head, SwiGLU MLP, no biases), as Hugging Face's Qwen3Model names it
// (`embed_tokens`, `layers.N.self_attn.q_proj`, `q_norm`, `mlp.gate_proj`, `input_layernorm`, `norm`). The
// embedders built on it (Qwen3-Embedding) pool its last token.
#include <ATen/ATen.h>

#include "models/encoder.h"
#include "nn/layers.h"
#include "ops/attention.h"
#include "ops/checkpoint.h"
#include "ops/packing.h"
#include "ops/pointwise.h"
#include "ops/rotary.h"

namespace sbert::qwen3 {

struct Config {
  int64_t vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim;
  int64_t max_position_embeddings;
  ops::Activation hidden_act;
  double rms_norm_eps, rope_theta, attention_dropout, initializer_range;
  bool attention_bias;
  std::vector<int64_t> sliding_window;  // per layer: the keys a query sees (a causal window), or 0 for all before it
  std::optional<int64_t> pad_token_id;

  static Config read(const ConfigReader& c) {
    Config out;
    out.vocab_size = c.size("vocab_size", int64_t{1} << 24);
    out.hidden_size = c.size("hidden_size", int64_t{1} << 16);
    out.intermediate_size = c.size("intermediate_size", int64_t{1} << 18);
    out.num_hidden_layers = c.size("num_hidden_layers", 1024);
    out.num_attention_heads = c.size("num_attention_heads", int64_t{1} << 12);
    out.num_key_value_heads = c.size("num_key_value_heads", out.num_attention_heads, out.num_attention_heads);
    // transformers' Qwen3Config defaults head_dim to 128 whatever the width.
    out.head_dim = c.size("head_dim", int64_t{1} << 12, 128);
    out.max_position_embeddings = c.size("max_position_embeddings", int64_t{1} << 24, 32768);
    out.hidden_act = ops::parse_activation(c.string("hidden_act", "silu"), c.file() + ": field 'hidden_act'");
    out.rms_norm_eps = c.number("rms_norm_eps", 1e-6);
    out.attention_dropout = c.number("attention_dropout", 0.0);
    out.initializer_range = c.number("initializer_range", 0.02);
    out.attention_bias = c.boolean("attention_bias", false);
    if (c.has("pad_token_id")) out.pad_token_id = c.integer("pad_token_id");
    if (out.num_attention_heads % out.num_key_value_heads != 0) {
      c.fail("num_key_value_heads", std::to_string(out.num_key_value_heads) + " does not divide num_attention_heads " + std::to_string(out.num_attention_heads));
    }
    if (out.head_dim % 2 != 0) c.fail("head_dim", "must be even (rotary positions turn pairs of values), got " + std::to_string(out.head_dim));
    // transformers 5 writes rope_parameters {rope_type, rope_theta}; 4.x rope_theta and rope_scaling at the top.
    const ConfigReader rope = c.object("rope_parameters");
    out.rope_theta = rope.number("rope_theta", c.number("rope_theta", 10000.0));
    const std::string rope_type = rope.string("rope_type", c.object("rope_scaling").string("rope_type", "default"));
    if (rope_type != "default") c.fail("rope_parameters.rope_type", "'" + rope_type + "' is not supported (only \"default\")");
    // Sliding-window layers: those layer_types names, else (transformers' default) layers from max_window_layers on
    // when use_sliding_window.
    const int64_t window = c.boolean("use_sliding_window", false) ? c.size("sliding_window", int64_t{1} << 24, 4096) : 0;
    const std::vector<std::string> types = c.strings("layer_types");
    if (!types.empty() && static_cast<int64_t>(types.size()) != out.num_hidden_layers) {
      c.fail("layer_types", "has " + std::to_string(types.size()) + " entries for " + std::to_string(out.num_hidden_layers) + " layers");
    }
    const int64_t first_windowed = c.integer("max_window_layers", 28);
    for (int64_t i = 0; i < out.num_hidden_layers; ++i) {
      if (!types.empty()) {
        if (types[i] != "full_attention" && types[i] != "sliding_attention") c.fail("layer_types", "has '" + types[i] + "' (full_attention or sliding_attention)");
        out.sliding_window.push_back(types[i] == "sliding_attention" ? c.size("sliding_window", int64_t{1} << 24) : 0);
      } else {
        out.sliding_window.push_back(window > 0 && i >= first_windowed ? window : 0);
      }
    }
    return out;
  }
};

class Qwen3Attention : public torch::nn::Module {
 public:
  Qwen3Attention(const Config& c, int64_t window) : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim),
                                                    window(window), dropout(c.attention_dropout) {
    const int64_t q_width = heads * head_dim, kv_width = kv_heads * head_dim;
    q_proj = register_module("q_proj", std::make_shared<nn::Linear>(c.hidden_size, q_width, c.attention_bias));
    k_proj = register_module("k_proj", std::make_shared<nn::Linear>(c.hidden_size, kv_width, c.attention_bias));
    v_proj = register_module("v_proj", std::make_shared<nn::Linear>(c.hidden_size, kv_width, c.attention_bias));
    o_proj = register_module("o_proj", std::make_shared<nn::Linear>(q_width, c.hidden_size, c.attention_bias));
    q_norm = register_module("q_norm", std::make_shared<nn::RMSNorm>(head_dim, c.rms_norm_eps));
    k_norm = register_module("k_norm", std::make_shared<nn::RMSNorm>(head_dim, c.rms_norm_eps));
  }

  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const ops::RotaryTables& rotary) {
    const auto qkv = nn::linear_group(ctx, {q_proj.get(), k_proj.get(), v_proj.get()}, hidden, qkv_prepared_);
    auto q = ops::apply_rotary(q_norm->forward_heads(qkv[0]), rotary, head_dim);
    auto k = ops::apply_rotary(k_norm->forward_heads(qkv[1]), rotary, head_dim);
    ops::AttentionSpec spec{heads, kv_heads};
    spec.window_left = window > 0 ? window - 1 : -1;
    spec.window_right = 0;  // causal
    spec.dropout_p = dropout;
    return o_proj->forward(ctx, ops::attention(ctx, q, k, qkv[2], tokens, spec));
  }

  const int64_t heads, kv_heads, head_dim, window;
  const double dropout;
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj, o_proj;
  std::shared_ptr<nn::RMSNorm> q_norm, k_norm;

 private:
  ops::PreparedWeights qkv_prepared_;
};

class Qwen3DecoderLayer : public torch::nn::Module {
 public:
  Qwen3DecoderLayer(const Config& c, int64_t index) {
    self_attn = register_module("self_attn", std::make_shared<Qwen3Attention>(c, c.sliding_window[index]));
    mlp = register_module("mlp", std::make_shared<nn::GatedMLP>(c.hidden_size, c.intermediate_size, c.hidden_act));
    input_layernorm = register_module("input_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
    post_attention_layernorm = register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
  }

  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const ops::RotaryTables& rotary) {
    auto h = hidden + self_attn->forward(ctx, input_layernorm->forward(hidden), tokens, rotary);
    return h + mlp->forward(ctx, post_attention_layernorm->forward(h));
  }

  std::shared_ptr<Qwen3Attention> self_attn;
  std::shared_ptr<nn::GatedMLP> mlp;
  std::shared_ptr<nn::RMSNorm> input_layernorm, post_attention_layernorm;
};

class Qwen3Model : public Encoder {
 public:
  explicit Qwen3Model(const Config& c) : config(c) {
    embed_tokens = register_module("embed_tokens", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id));
    layers_ = register_module("layers", std::make_shared<torch::nn::Module>());
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.push_back(layers_->register_module(std::to_string(i), std::make_shared<Qwen3DecoderLayer>(c, i)));
    norm = register_module("norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
  }

  // Positions are the padded batch's columns, as Hugging Face numbers them without position_ids (a left-padded
  // sentence starts past 0; rotary scores depend on distances only).
  at::Tensor forward(const ops::Context& ctx, const EncoderInput& in, std::vector<at::Tensor>* states) override {
    const ops::Tokens tokens(in.attention_mask);
    auto positions = at::arange(in.input_ids.size(1), in.input_ids.options()).unsqueeze(0).expand_as(in.input_ids);
    const auto rotary = ops::rotary_tables(tokens.take(positions), config.rope_theta, config.head_dim);
    auto hidden = embed_tokens->forward(tokens.take(in.input_ids));
    for (auto& layer : layers) {
      if (states) states->push_back(tokens.restore(hidden));
      hidden = ops::checkpoint(ctx, hidden, [layer, tokens, rotary](const ops::Context& c, const at::Tensor& h) { return layer->forward(c, h, tokens, rotary); });
    }
    hidden = norm->forward(hidden);
    if (states) states->push_back(tokens.restore(hidden));
    return tokens.restore(hidden);
  }

  void init_weights(uint64_t seed) override { nn::init_normal(*this, config.initializer_range, seed); }

  EncoderInfo info() const override {
    return {"qwen3", "Qwen3Model", config.vocab_size, config.hidden_size, config.max_position_embeddings, 0, config.num_hidden_layers,
            config.num_attention_heads};
  }

  const Config config;
  std::shared_ptr<nn::Embedding> embed_tokens;
  std::vector<std::shared_ptr<Qwen3DecoderLayer>> layers;
  std::shared_ptr<nn::RMSNorm> norm;

 private:
  std::shared_ptr<torch::nn::Module> layers_;
};

}  // namespace sbert::qwen3

namespace sbert {

Architecture qwen3_architecture() {
  Architecture a;
  a.model_type = "qwen3";
  a.prefixes = {"model."};
  a.build = [](const ConfigReader& c) -> std::shared_ptr<Encoder> { return std::make_shared<qwen3::Qwen3Model>(qwen3::Config::read(c)); };
  a.buffers = {};
  a.kept = {};
  a.layers_key = "layers.";
  return a;
}

}  // namespace sbert
