// DistilBERT (model_type "distilbert"): a post-norm encoder without token types, under its own key names
// (`transformer.layer.N.attention.q_lin`, `sa_layer_norm`, `ffn.lin1`, `output_layer_norm`), as Hugging Face's
// DistilBertModel.
#include <ATen/ATen.h>

#include <cmath>

#include "models/encoder.h"
#include "nn/layers.h"
#include "ops/attention.h"
#include "ops/checkpoint.h"
#include "ops/packing.h"
#include "ops/pointwise.h"

namespace sbert::distilbert {

struct Config {
  int64_t vocab_size, dim, n_layers, n_heads, hidden_dim, max_position_embeddings, pad_token_id;
  bool sinusoidal_pos_embds;
  ops::Activation activation;
  double dropout, attention_dropout, initializer_range;

  static Config read(const ConfigReader& c) {
    Config out;
    out.vocab_size = c.size("vocab_size", int64_t{1} << 24);
    out.dim = c.size("dim", int64_t{1} << 16);
    out.n_layers = c.size("n_layers", 1024);
    out.n_heads = c.size("n_heads", int64_t{1} << 16);
    out.hidden_dim = c.size("hidden_dim", int64_t{1} << 18);
    out.max_position_embeddings = c.size("max_position_embeddings", int64_t{1} << 20, 512);
    out.pad_token_id = c.integer("pad_token_id", 0);
    out.sinusoidal_pos_embds = c.boolean("sinusoidal_pos_embds", false);
    out.activation = ops::parse_activation(c.string("activation", "gelu"), c.file() + ": field 'activation'");
    out.dropout = c.number("dropout", 0.1);
    out.attention_dropout = c.number("attention_dropout", 0.1);
    out.initializer_range = c.number("initializer_range", 0.02);
    if (out.dim % out.n_heads != 0) c.fail("dim", std::to_string(out.dim) + " is not a multiple of n_heads " + std::to_string(out.n_heads));
    return out;
  }
};

// Fixed sinusoidal positions, as Hugging Face fills them when sinusoidal_pos_embds: sin on even columns, cos on
// odd ones, of pos / 10000^(2 (j / 2) / dim).
at::Tensor sinusoidal(int64_t positions, int64_t dim) {
  auto pos = at::arange(positions, at::kDouble).unsqueeze(1);
  auto j = at::arange(dim, at::kLong).div(2, "floor").to(at::kDouble).unsqueeze(0);
  auto angles = pos / at::pow(10000.0, 2.0 * j / static_cast<double>(dim));
  auto out = at::empty({positions, dim}, at::kFloat);
  out.slice(1, 0, dim, 2).copy_(at::sin(angles.slice(1, 0, dim, 2)));
  out.slice(1, 1, dim, 2).copy_(at::cos(angles.slice(1, 1, dim, 2)));
  return out;
}

class Embeddings : public torch::nn::Module {
 public:
  explicit Embeddings(const Config& c) : dropout(c.dropout) {
    word_embeddings = register_module("word_embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.dim, c.pad_token_id));
    position_embeddings = register_module("position_embeddings", std::make_shared<nn::Embedding>(c.max_position_embeddings, c.dim));
    layer_norm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(c.dim, 1e-12));
    // Sinusoidal positions are not learned.
    if (c.sinusoidal_pos_embds) position_embeddings->weight.set_requires_grad(false);
  }
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& ids, const at::Tensor& positions) {
    auto h = word_embeddings->forward(ids) + position_embeddings->forward(positions);
    return ops::dropout(ctx, layer_norm->forward(h), dropout);
  }
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings;
  std::shared_ptr<nn::LayerNorm> layer_norm;
  double dropout;
};

class MultiHeadSelfAttention : public torch::nn::Module {
 public:
  explicit MultiHeadSelfAttention(const Config& c) : heads(c.n_heads), dropout(c.attention_dropout) {
    q_lin = register_module("q_lin", std::make_shared<nn::Linear>(c.dim, c.dim));
    k_lin = register_module("k_lin", std::make_shared<nn::Linear>(c.dim, c.dim));
    v_lin = register_module("v_lin", std::make_shared<nn::Linear>(c.dim, c.dim));
    out_lin = register_module("out_lin", std::make_shared<nn::Linear>(c.dim, c.dim));
  }
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens) {
    const auto qkv = nn::linear_group(ctx, {q_lin.get(), k_lin.get(), v_lin.get()}, hidden, qkv_prepared_);
    return out_lin->forward(ctx, ops::attention(ctx, qkv[0], qkv[1], qkv[2], tokens, {.heads = heads, .dropout_p = dropout}));
  }
  std::shared_ptr<nn::Linear> q_lin, k_lin, v_lin, out_lin;
  int64_t heads;
  double dropout;

 private:
  ops::PreparedWeights qkv_prepared_;
};

class FFN : public torch::nn::Module {
 public:
  explicit FFN(const Config& c) : activation(c.activation), dropout(c.dropout) {
    lin1 = register_module("lin1", std::make_shared<nn::Linear>(c.dim, c.hidden_dim));
    lin2 = register_module("lin2", std::make_shared<nn::Linear>(c.hidden_dim, c.dim));
  }
  // lin2(act(lin1(x))), before its dropout (applied with the residual norm).
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x) { return lin2->forward(ctx, lin1->forward(ctx, x, activation)); }
  std::shared_ptr<nn::Linear> lin1, lin2;
  ops::Activation activation;
  double dropout;
};

class TransformerBlock : public torch::nn::Module {
 public:
  explicit TransformerBlock(const Config& c) {
    attention = register_module("attention", std::make_shared<MultiHeadSelfAttention>(c));
    sa_layer_norm = register_module("sa_layer_norm", std::make_shared<nn::LayerNorm>(c.dim, 1e-12));
    ffn = register_module("ffn", std::make_shared<FFN>(c));
    output_layer_norm = register_module("output_layer_norm", std::make_shared<nn::LayerNorm>(c.dim, 1e-12));
  }
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& x, const ops::Tokens& tokens) {
    auto sa = sa_layer_norm->forward(ctx, attention->forward(ctx, x, tokens), x, 0.0);
    return output_layer_norm->forward(ctx, ffn->forward(ctx, sa), sa, ffn->dropout);
  }
  std::shared_ptr<MultiHeadSelfAttention> attention;
  std::shared_ptr<nn::LayerNorm> sa_layer_norm;
  std::shared_ptr<FFN> ffn;
  std::shared_ptr<nn::LayerNorm> output_layer_norm;
};

class Transformer : public torch::nn::Module {
 public:
  explicit Transformer(const Config& c) {
    layer = register_module("layer", std::make_shared<torch::nn::Module>());
    for (int64_t i = 0; i < c.n_layers; ++i) layers.push_back(layer->register_module(std::to_string(i), std::make_shared<TransformerBlock>(c)));
  }
  at::Tensor forward(const ops::Context& ctx, at::Tensor hidden, const ops::Tokens& tokens, std::vector<at::Tensor>* states) {
    for (auto& l : layers) {
      if (states) states->push_back(tokens.restore(hidden));
      hidden = ops::checkpoint(ctx, hidden, [l, tokens](const ops::Context& c, const at::Tensor& h) { return l->forward(c, h, tokens); });
    }
    if (states) states->push_back(tokens.restore(hidden));
    return hidden;
  }
  std::shared_ptr<torch::nn::Module> layer;
  std::vector<std::shared_ptr<TransformerBlock>> layers;
};

class DistilBertModel : public Encoder {
 public:
  explicit DistilBertModel(const Config& c) : config(c) {
    embeddings = register_module("embeddings", std::make_shared<Embeddings>(c));
    transformer = register_module("transformer", std::make_shared<Transformer>(c));
  }

  at::Tensor forward(const ops::Context& ctx, const EncoderInput& in, std::vector<at::Tensor>* hidden_states) override {
    const ops::Tokens tokens(in.attention_mask);
    auto positions = at::arange(in.input_ids.size(1), in.input_ids.options()).unsqueeze(0).expand_as(in.input_ids);
    auto hidden = embeddings->forward(ctx, tokens.take(in.input_ids), tokens.take(positions));
    return tokens.restore(transformer->forward(ctx, hidden, tokens, hidden_states));
  }

  void init_weights(uint64_t seed) override {
    nn::init_normal(*this, config.initializer_range, seed);
    if (config.sinusoidal_pos_embds) {
      c10::NoGradGuard no_grad;
      embeddings->position_embeddings->weight.copy_(sinusoidal(config.max_position_embeddings, config.dim));
    }
  }

  EncoderInfo info() const override {
    return {"distilbert", "DistilBertModel", config.vocab_size, config.dim, config.max_position_embeddings, 0, config.n_layers, config.n_heads};
  }

  const Config config;
  std::shared_ptr<Embeddings> embeddings;
  std::shared_ptr<Transformer> transformer;
};

}  // namespace sbert::distilbert

namespace sbert {

Architecture distilbert_architecture() {
  Architecture a;
  a.model_type = "distilbert";
  a.prefixes = {"distilbert."};
  a.build = [](const ConfigReader& c) -> std::shared_ptr<Encoder> { return std::make_shared<distilbert::DistilBertModel>(distilbert::Config::read(c)); };
  a.buffers = {"embeddings.position_ids"};
  a.kept = {};
  a.layers_key = "transformer.layer.";
  a.layers_field = "n_layers";
  return a;
}

}  // namespace sbert
