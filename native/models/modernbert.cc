// ModernBERT (model_type "modernbert"): a pre-norm encoder (LayerNorm, bias optional), rotary positions with one
// theta for its global layers and another for its local ones, local layers reading a band of keys on both sides,
// a fused QKV projection and a GLU MLP, as Hugging Face's ModernBertModel names it (`embeddings.tok_embeddings`,
// `layers.N.attn.Wqkv`, `layers.N.mlp.Wi`, `layers.N.mlp_norm`, `final_norm`). Layer 0 has no attention norm (the
// embeddings' norm precedes it).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "models/encoder.h"
#include "nn/layers.h"
#include "ops/attention.h"
#include "ops/checkpoint.h"
#include "ops/packing.h"
#include "ops/pointwise.h"
#include "ops/rotary.h"

namespace sbert::modernbert {

struct Config {
  int64_t vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, head_dim, max_position_embeddings;
  ops::Activation hidden_activation;
  double norm_eps, initializer_range, initializer_cutoff_factor;
  double embedding_dropout, attention_dropout, mlp_dropout;
  bool norm_bias, attention_bias, mlp_bias;
  double global_rope_theta, local_rope_theta;
  // Keys a local layer's query reads on each side of it: |i - j| <= half_window.
  int64_t half_window;
  std::vector<bool> local;  // per layer: sliding_attention
  std::optional<int64_t> pad_token_id;

  static Config read(const ConfigReader& c) {
    Config out;
    out.vocab_size = c.size("vocab_size", int64_t{1} << 24, 50368);
    out.hidden_size = c.size("hidden_size", int64_t{1} << 16, 768);
    out.intermediate_size = c.size("intermediate_size", int64_t{1} << 18, 1152);
    out.num_hidden_layers = c.size("num_hidden_layers", 1024, 22);
    out.num_attention_heads = c.size("num_attention_heads", int64_t{1} << 12, 12);
    if (out.hidden_size % out.num_attention_heads != 0) {
      c.fail("hidden_size", std::to_string(out.hidden_size) + " is not a multiple of num_attention_heads " + std::to_string(out.num_attention_heads));
    }
    out.head_dim = out.hidden_size / out.num_attention_heads;
    if (out.head_dim % 2 != 0) c.fail("num_attention_heads", "gives heads of " + std::to_string(out.head_dim) + " values; rotary positions need an even number");
    out.max_position_embeddings = c.size("max_position_embeddings", int64_t{1} << 24, 8192);
    out.hidden_activation = ops::parse_activation(c.string("hidden_activation", "gelu"), c.file() + ": field 'hidden_activation'");
    out.norm_eps = c.number("norm_eps", 1e-5);
    out.initializer_range = c.number("initializer_range", 0.02);
    // Absent: transformers' default 2; null: 3, as its initialisation reads a missing cutoff.
    const bool cutoff_named = c.json().fields.count("initializer_cutoff_factor") > 0;
    out.initializer_cutoff_factor = c.has("initializer_cutoff_factor") ? c.number("initializer_cutoff_factor") : (cutoff_named ? 3.0 : 2.0);
    out.embedding_dropout = c.number("embedding_dropout", 0.0);
    out.attention_dropout = c.number("attention_dropout", 0.0);
    out.mlp_dropout = c.number("mlp_dropout", 0.0);
    out.norm_bias = c.boolean("norm_bias", false);
    out.attention_bias = c.boolean("attention_bias", false);
    out.mlp_bias = c.boolean("mlp_bias", false);
    if (c.has("pad_token_id")) out.pad_token_id = c.integer("pad_token_id");
    // transformers' local_attention is the whole window; the band reaches half of it each way, bounds included.
    out.half_window = c.size("local_attention", int64_t{1} << 24, 128) / 2;

    // transformers 5 writes rope_parameters per layer type; 4.x global_rope_theta and local_rope_theta (null: the
    // global one) and rope_scaling ({rope_type} or older {type}) for both.
    const ConfigReader rope = c.object("rope_parameters");
    const ConfigReader rope_scaling = c.object("rope_scaling");
    const std::string scaling = rope_scaling.string("rope_type", rope_scaling.string("type", "default"));
    if (scaling != "default") c.fail("rope_scaling.rope_type", "'" + scaling + "' is not supported (only \"default\")");
    const double global = c.number("global_rope_theta", 160000.0);
    const bool local_named = c.json().fields.count("local_rope_theta") > 0;
    const double local = c.has("local_rope_theta") ? c.number("local_rope_theta") : (local_named ? global : 10000.0);
    auto theta = [&](const std::string& type, double fallback) {
      const ConfigReader r = rope.object(type);
      const std::string kind = r.string("rope_type", "default");
      if (kind != "default") r.fail("rope_type", "'" + kind + "' is not supported (only \"default\")");
      return r.number("rope_theta", fallback);
    };
    out.global_rope_theta = theta("full_attention", global);
    out.local_rope_theta = theta("sliding_attention", local);

    // layer_types, else (transformers' default) every global_attn_every_n_layers-th layer global from the first.
    const std::vector<std::string> types = c.strings("layer_types");
    if (!types.empty() && static_cast<int64_t>(types.size()) != out.num_hidden_layers) {
      c.fail("layer_types", "has " + std::to_string(types.size()) + " entries for " + std::to_string(out.num_hidden_layers) + " layers");
    }
    const int64_t every = c.size("global_attn_every_n_layers", 1024, 3);
    for (int64_t i = 0; i < out.num_hidden_layers; ++i) {
      if (!types.empty()) {
        if (types[i] != "full_attention" && types[i] != "sliding_attention") c.fail("layer_types", "has '" + types[i] + "' (full_attention or sliding_attention)");
        out.local.push_back(types[i] == "sliding_attention");
      } else {
        out.local.push_back(i % every != 0);
      }
    }
    return out;
  }
};

class ModernBertEmbeddings : public torch::nn::Module {
 public:
  explicit ModernBertEmbeddings(const Config& c) : dropout(c.embedding_dropout) {
    tok_embeddings = register_module("tok_embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.norm_eps, c.norm_bias));
  }

  at::Tensor forward(const ops::Context& ctx, const at::Tensor& ids) { return ops::dropout(ctx, norm->forward(tok_embeddings->forward(ids)), dropout); }

  const double dropout;
  std::shared_ptr<nn::Embedding> tok_embeddings;
  std::shared_ptr<nn::LayerNorm> norm;
};

class ModernBertAttention : public torch::nn::Module {
 public:
  ModernBertAttention(const Config& c, bool local) : heads(c.num_attention_heads), head_dim(c.head_dim), local(local), half_window(c.half_window),
                                                      dropout(c.attention_dropout) {
    Wqkv = register_module("Wqkv", std::make_shared<nn::Linear>(c.hidden_size, 3 * c.hidden_size, c.attention_bias));
    Wo = register_module("Wo", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size, c.attention_bias));
  }

  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const ops::RotaryTables& rotary) {
    const auto qkv = Wqkv->forward(ctx, hidden).chunk(3, -1);
    ops::AttentionSpec spec{heads};
    if (local) spec.window_left = spec.window_right = half_window;
    spec.dropout_p = dropout;
    auto context = ops::attention(ctx, ops::apply_rotary(qkv[0], rotary, head_dim), ops::apply_rotary(qkv[1], rotary, head_dim), qkv[2], tokens, spec);
    return ops::dropout(ctx, Wo->forward(ctx, context), dropout);
  }

  const int64_t heads, head_dim;
  const bool local;
  const int64_t half_window;
  const double dropout;
  std::shared_ptr<nn::Linear> Wqkv, Wo;
};

class ModernBertMLP : public torch::nn::Module {
 public:
  explicit ModernBertMLP(const Config& c) : act(c.hidden_activation), dropout(c.mlp_dropout) {
    Wi = register_module("Wi", std::make_shared<nn::Linear>(c.hidden_size, 2 * c.intermediate_size, c.mlp_bias));
    Wo = register_module("Wo", std::make_shared<nn::Linear>(c.intermediate_size, c.hidden_size, c.mlp_bias));
  }

  // Wi's output is the input, then the gate: act(input) * gate.
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x) {
    const auto input_gate = Wi->forward(ctx, x).chunk(2, -1);
    return Wo->forward(ctx, ops::dropout(ctx, ops::activation(ctx, act, input_gate[0].contiguous()) * input_gate[1], dropout));
  }

  const ops::Activation act;
  const double dropout;
  std::shared_ptr<nn::Linear> Wi, Wo;
};

class ModernBertEncoderLayer : public torch::nn::Module {
 public:
  ModernBertEncoderLayer(const Config& c, int64_t index) : local(c.local[index]) {
    if (index > 0) attn_norm = register_module("attn_norm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.norm_eps, c.norm_bias));
    attn = register_module("attn", std::make_shared<ModernBertAttention>(c, local));
    mlp_norm = register_module("mlp_norm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.norm_eps, c.norm_bias));
    mlp = register_module("mlp", std::make_shared<ModernBertMLP>(c));
  }

  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const ops::RotaryTables& rotary) {
    auto h = hidden + attn->forward(ctx, attn_norm ? attn_norm->forward(hidden) : hidden, tokens, rotary);
    return h + mlp->forward(ctx, mlp_norm->forward(h));
  }

  const bool local;
  std::shared_ptr<nn::LayerNorm> attn_norm;  // null for layer 0 (an identity there)
  std::shared_ptr<ModernBertAttention> attn;
  std::shared_ptr<nn::LayerNorm> mlp_norm;
  std::shared_ptr<ModernBertMLP> mlp;
};

class ModernBertModel : public Encoder {
 public:
  explicit ModernBertModel(const Config& c) : config(c) {
    embeddings = register_module("embeddings", std::make_shared<ModernBertEmbeddings>(c));
    layers_ = register_module("layers", std::make_shared<torch::nn::Module>());
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.push_back(layers_->register_module(std::to_string(i), std::make_shared<ModernBertEncoderLayer>(c, i)));
    final_norm = register_module("final_norm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.norm_eps, c.norm_bias));
  }

  // Positions are the padded batch's columns, as Hugging Face numbers them without position_ids.
  at::Tensor forward(const ops::Context& ctx, const EncoderInput& in, std::vector<at::Tensor>* states) override {
    const ops::Tokens tokens(in.attention_mask);
    auto positions = tokens.take(at::arange(in.input_ids.size(1), in.input_ids.options()).unsqueeze(0).expand_as(in.input_ids));
    const auto global = ops::rotary_tables(positions, config.global_rope_theta, config.head_dim);
    const auto local = ops::rotary_tables(positions, config.local_rope_theta, config.head_dim);
    auto hidden = embeddings->forward(ctx, tokens.take(in.input_ids));
    for (auto& layer : layers) {
      if (states) states->push_back(tokens.restore(hidden));
      const auto& rotary = layer->local ? local : global;
      hidden = ops::checkpoint(ctx, hidden, [layer, tokens, rotary](const ops::Context& c, const at::Tensor& h) { return layer->forward(c, h, tokens, rotary); });
    }
    hidden = final_norm->forward(hidden);
    if (states) states->push_back(tokens.restore(hidden));
    return tokens.restore(hidden);
  }

  // As Hugging Face: normal weights cut at initializer_cutoff_factor deviations, the output projections' deviation
  // divided by sqrt(2 layers); norms one, biases zero.
  void init_weights(uint64_t seed) override {
    nn::init_normal(*this, config.initializer_range, seed);
    c10::NoGradGuard no_grad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const double in = config.initializer_range, out = in / std::sqrt(2.0 * static_cast<double>(config.num_hidden_layers));
    auto truncated = [&](at::Tensor& w, double std) {
      // torch.nn.init.trunc_normal_'s inverse-CDF draw.
      const double cut = config.initializer_cutoff_factor, cdf = 0.5 * (1.0 + std::erf(cut / std::sqrt(2.0)));
      auto draw = at::empty(w.sizes(), at::kFloat).uniform_(1.0 - 2.0 * cdf, 2.0 * cdf - 1.0, gen).erfinv_().mul_(std * std::sqrt(2.0));
      w.copy_(draw.clamp_(-cut * std, cut * std));
    };
    truncated(embeddings->tok_embeddings->weight, in);
    for (auto& layer : layers) {
      truncated(layer->attn->Wqkv->weight, in);
      truncated(layer->attn->Wo->weight, out);
      truncated(layer->mlp->Wi->weight, in);
      truncated(layer->mlp->Wo->weight, out);
    }
  }

  EncoderInfo info() const override {
    return {"modernbert", "ModernBertModel", config.vocab_size, config.hidden_size, config.max_position_embeddings, 0, config.num_hidden_layers,
            config.num_attention_heads};
  }

  const Config config;
  std::shared_ptr<ModernBertEmbeddings> embeddings;
  std::vector<std::shared_ptr<ModernBertEncoderLayer>> layers;
  std::shared_ptr<nn::LayerNorm> final_norm;

 private:
  std::shared_ptr<torch::nn::Module> layers_;
};

}  // namespace sbert::modernbert

namespace sbert {

Architecture modernbert_architecture() {
  Architecture a;
  a.model_type = "modernbert";
  a.prefixes = {"model."};
  a.build = [](const ConfigReader& c) -> std::shared_ptr<Encoder> { return std::make_shared<modernbert::ModernBertModel>(modernbert::Config::read(c)); };
  a.buffers = {};
  a.kept = {};
  a.layers_key = "layers.";
  return a;
}

}  // namespace sbert
