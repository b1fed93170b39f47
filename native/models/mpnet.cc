// MPNet (model_type "mpnet"): a post-norm encoder like BERT's, without token types, with RoBERTa-style positions
// (from padding_idx 1) and a relative position bias shared by every layer's attention: a learned value per head
// for each of 32 buckets of key - query distance. Keys as Hugging Face's MPNetModel (`encoder.layer.N.attention.attn.q`,
// `encoder.relative_attention_bias`).
#include <ATen/ATen.h>

#include <cmath>

#include "models/bert.h"
#include "models/encoder.h"
#include "nn/layers.h"
#include "ops/attention.h"
#include "ops/checkpoint.h"
#include "ops/packing.h"
#include "ops/pointwise.h"

namespace sbert::mpnet {

// MPNet numbers positions from this id whatever config.json's pad_token_id says (as Hugging Face's MPNetEmbeddings).
constexpr int64_t kPaddingIdx = 1;
// Buckets the position bias is computed over (Hugging Face passes its default, not relative_attention_num_buckets).
constexpr int64_t kBuckets = 32;

struct Config {
  int64_t vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings, relative_attention_num_buckets;
  ops::Activation hidden_act;
  double layer_norm_eps, hidden_dropout_prob, attention_probs_dropout_prob, initializer_range;

  static Config read(const ConfigReader& c) {
    Config out;
    out.vocab_size = c.size("vocab_size", int64_t{1} << 24);
    out.hidden_size = c.size("hidden_size", int64_t{1} << 16);
    out.num_hidden_layers = c.size("num_hidden_layers", 1024);
    out.num_attention_heads = c.size("num_attention_heads", int64_t{1} << 16);
    out.intermediate_size = c.size("intermediate_size", int64_t{1} << 18);
    out.max_position_embeddings = c.size("max_position_embeddings", int64_t{1} << 20, 514);
    out.relative_attention_num_buckets = c.size("relative_attention_num_buckets", 1 << 16, 32);
    out.hidden_act = ops::parse_activation(c.string("hidden_act", "gelu"), c.file() + ": field 'hidden_act'");
    out.layer_norm_eps = c.number("layer_norm_eps", 1e-12);
    out.hidden_dropout_prob = c.number("hidden_dropout_prob", 0.1);
    out.attention_probs_dropout_prob = c.number("attention_probs_dropout_prob", 0.1);
    out.initializer_range = c.number("initializer_range", 0.02);
    if (out.hidden_size % out.num_attention_heads != 0) {
      c.fail("hidden_size", std::to_string(out.hidden_size) + " is not a multiple of num_attention_heads " + std::to_string(out.num_attention_heads));
    }
    if (out.relative_attention_num_buckets < kBuckets) c.fail("relative_attention_num_buckets", "must be at least 32");
    if (out.max_position_embeddings <= kPaddingIdx + 1) c.fail("max_position_embeddings", "must be above 2");
    if (out.vocab_size <= kPaddingIdx) c.fail("vocab_size", "must be above 1");
    return out;
  }
};

class MPNetEmbeddings : public torch::nn::Module {
 public:
  explicit MPNetEmbeddings(const Config& c) : dropout(c.hidden_dropout_prob) {
    word_embeddings = register_module("word_embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, kPaddingIdx));
    position_embeddings = register_module("position_embeddings", std::make_shared<nn::Embedding>(c.max_position_embeddings, c.hidden_size, kPaddingIdx));
    layer_norm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
  }
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& ids, const at::Tensor& positions) {
    auto h = word_embeddings->forward(ids) + position_embeddings->forward(positions);
    return ops::dropout(ctx, layer_norm->forward(h), dropout);
  }
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings;
  std::shared_ptr<nn::LayerNorm> layer_norm;
  double dropout;
};

class MPNetSelfAttention : public torch::nn::Module {
 public:
  explicit MPNetSelfAttention(const Config& c) : heads(c.num_attention_heads), dropout(c.attention_probs_dropout_prob) {
    q = register_module("q", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size));
    k = register_module("k", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size));
    v = register_module("v", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size));
    o = register_module("o", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size));
  }
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const at::Tensor& position_bias) {
    const auto qkv = nn::linear_group(ctx, {q.get(), k.get(), v.get()}, hidden, qkv_prepared_);
    return o->forward(ctx, ops::attention(ctx, qkv[0], qkv[1], qkv[2], tokens, {.heads = heads, .rel_bias = position_bias, .dropout_p = dropout}));
  }
  std::shared_ptr<nn::Linear> q, k, v, o;
  int64_t heads;
  double dropout;

 private:
  ops::PreparedWeights qkv_prepared_;
};

class MPNetAttention : public torch::nn::Module {
 public:
  explicit MPNetAttention(const Config& c) : dropout(c.hidden_dropout_prob) {
    attn = register_module("attn", std::make_shared<MPNetSelfAttention>(c));
    layer_norm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
  }
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const at::Tensor& position_bias) {
    return layer_norm->forward(ctx, attn->forward(ctx, hidden, tokens, position_bias), hidden, dropout);
  }
  std::shared_ptr<MPNetSelfAttention> attn;
  std::shared_ptr<nn::LayerNorm> layer_norm;
  double dropout;
};

using MPNetIntermediate = bert::BertIntermediate;
using MPNetOutput = bert::BertOutput;

class MPNetLayer : public torch::nn::Module {
 public:
  explicit MPNetLayer(const Config& c) {
    attention = register_module("attention", std::make_shared<MPNetAttention>(c));
    intermediate = register_module("intermediate", std::make_shared<MPNetIntermediate>(c.hidden_size, c.intermediate_size, c.hidden_act));
    output = register_module("output", std::make_shared<MPNetOutput>(c.intermediate_size, c.hidden_size, c.layer_norm_eps, c.hidden_dropout_prob));
  }
  at::Tensor forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens, const at::Tensor& position_bias) {
    auto attended = attention->forward(ctx, hidden, tokens, position_bias);
    return output->forward(ctx, intermediate->forward(ctx, attended), attended);
  }
  std::shared_ptr<MPNetAttention> attention;
  std::shared_ptr<MPNetIntermediate> intermediate;
  std::shared_ptr<MPNetOutput> output;
};

// T5-style buckets of relative position j - i: 16 per direction, exact below 8, logarithmic up to 128 and beyond.
// The float arithmetic is Hugging Face's, so that bucket edges fall in the same place.
at::Tensor relative_position_bucket(const at::Tensor& relative_position) {
  constexpr int64_t half = kBuckets / 2, max_exact = half / 2;
  constexpr double max_distance = 128;
  auto n = -relative_position;
  auto ret = n.lt(0).to(at::kLong) * half;
  n = n.abs();
  auto large = (at::log(n.to(at::kFloat) / static_cast<double>(max_exact)) / std::log(max_distance / max_exact) * static_cast<double>(half - max_exact))
                   .to(at::kLong) + max_exact;
  large = at::minimum(large, at::full_like(large, half - 1));
  return ret + at::where(n.lt(max_exact), n, large);
}

class MPNetEncoder : public torch::nn::Module {
 public:
  explicit MPNetEncoder(const Config& c) : heads(c.num_attention_heads) {
    layer = register_module("layer", std::make_shared<torch::nn::Module>());
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.push_back(layer->register_module(std::to_string(i), std::make_shared<MPNetLayer>(c)));
    relative_attention_bias = register_module("relative_attention_bias", std::make_shared<nn::Embedding>(c.relative_attention_num_buckets, heads));
  }
  at::Tensor forward(const ops::Context& ctx, at::Tensor hidden, const ops::Tokens& tokens, std::vector<at::Tensor>* states) {
    // One bias per head and distance j - i in [-(L-1), L-1]: [heads, 2L - 1].
    const int64_t L = tokens.seq_len();
    auto distances = at::arange(-(L - 1), L, at::TensorOptions().dtype(at::kLong).device(relative_attention_bias->weight.device()));
    const auto buckets = relative_position_bucket(distances);
    const auto position_bias = relative_attention_bias->forward(buckets).t();
    const auto bias_table = relative_attention_bias;
    for (auto& l : layers) {
      if (states) states->push_back(tokens.restore(hidden));
      if (!ctx.checkpoint) {
        hidden = l->forward(ctx, hidden, tokens, position_bias);
        continue;
      }
      // A checkpointed layer looks its bias up again, from the table (a parameter), when backward runs it again.
      hidden = ops::checkpoint(ctx, hidden, [l, tokens, bias_table, buckets](const ops::Context& c, const at::Tensor& h) {
        return l->forward(c, h, tokens, bias_table->forward(buckets).t());
      });
    }
    if (states) states->push_back(tokens.restore(hidden));
    return hidden;
  }
  std::shared_ptr<torch::nn::Module> layer;
  std::vector<std::shared_ptr<MPNetLayer>> layers;
  std::shared_ptr<nn::Embedding> relative_attention_bias;
  int64_t heads;
};

class MPNetModel : public Encoder {
 public:
  explicit MPNetModel(const Config& c) : config(c) {
    embeddings = register_module("embeddings", std::make_shared<MPNetEmbeddings>(c));
    encoder = register_module("encoder", std::make_shared<MPNetEncoder>(c));
  }

  at::Tensor forward(const ops::Context& ctx, const EncoderInput& in, std::vector<at::Tensor>* hidden_states) override {
    const ops::Tokens tokens(in.attention_mask);
    auto real = in.input_ids.ne(kPaddingIdx).to(at::kLong);
    auto positions = real.cumsum(1) * real + kPaddingIdx;
    auto hidden = embeddings->forward(ctx, tokens.take(in.input_ids), tokens.take(positions));
    return tokens.restore(encoder->forward(ctx, hidden, tokens, hidden_states));
  }

  void init_weights(uint64_t seed) override { nn::init_normal(*this, config.initializer_range, seed); }

  EncoderInfo info() const override {
    return {"mpnet", "MPNetModel", config.vocab_size, config.hidden_size, config.max_position_embeddings - kPaddingIdx - 1, 0,
            config.num_hidden_layers, config.num_attention_heads};
  }

  const Config config;
  std::shared_ptr<MPNetEmbeddings> embeddings;
  std::shared_ptr<MPNetEncoder> encoder;
};

}  // namespace sbert::mpnet

namespace sbert {

Architecture mpnet_architecture() {
  Architecture a;
  a.model_type = "mpnet";
  a.prefixes = {"mpnet."};
  a.build = [](const ConfigReader& c) -> std::shared_ptr<Encoder> { return std::make_shared<mpnet::MPNetModel>(mpnet::Config::read(c)); };
  a.buffers = {"embeddings.position_ids"};
  return a;
}

}  // namespace sbert
