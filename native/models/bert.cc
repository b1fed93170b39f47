// BERT (model_type "bert"): one module per Hugging Face submodule, so that named_parameters() spells the checkpoint
// keys (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`, ...). RoBERTa and
// XLM-RoBERTa reuse these modules with their own embeddings (roberta.cc).
#include "models/bert.h"

#include <ATen/ATen.h>

#include "ops/attention.h"
#include "ops/checkpoint.h"

namespace sbert::bert {

// Bounds on sizes, checked before anything is allocated from them.
constexpr int64_t kMaxVocab = int64_t{1} << 24, kMaxWidth = int64_t{1} << 16, kMaxLayers = 1024, kMaxPositions = int64_t{1} << 20;

Config Config::read(const ConfigReader& c) {
  Config out;
  out.vocab_size = c.size("vocab_size", kMaxVocab);
  out.hidden_size = c.size("hidden_size", kMaxWidth);
  out.num_hidden_layers = c.size("num_hidden_layers", kMaxLayers);
  out.num_attention_heads = c.size("num_attention_heads", kMaxWidth);
  out.intermediate_size = c.size("intermediate_size", kMaxWidth * 4);
  out.max_position_embeddings = c.size("max_position_embeddings", kMaxPositions, 512);
  out.type_vocab_size = c.size("type_vocab_size", kMaxPositions, 2);
  out.hidden_act = ops::parse_activation(c.string("hidden_act", "gelu"), c.file() + ": field 'hidden_act'");
  out.layer_norm_eps = c.number("layer_norm_eps", 1e-12);
  out.hidden_dropout_prob = c.number("hidden_dropout_prob", 0.1);
  out.attention_probs_dropout_prob = c.number("attention_probs_dropout_prob", 0.1);
  out.pad_token_id = c.integer("pad_token_id", 0);
  out.initializer_range = c.number("initializer_range", 0.02);
  if (out.hidden_size % out.num_attention_heads != 0) {
    c.fail("hidden_size", std::to_string(out.hidden_size) + " is not a multiple of num_attention_heads " + std::to_string(out.num_attention_heads));
  }
  const std::string positions = c.string("position_embedding_type", "absolute");
  if (positions != "absolute") c.fail("position_embedding_type", "'" + positions + "' is not supported (only \"absolute\")");
  return out;
}

BertEmbeddings::BertEmbeddings(const Config& c, std::optional<int64_t> position_padding) : dropout(c.hidden_dropout_prob) {
  word_embeddings = register_module("word_embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id));
  position_embeddings =
      register_module("position_embeddings", std::make_shared<nn::Embedding>(c.max_position_embeddings, c.hidden_size, position_padding));
  token_type_embeddings = register_module("token_type_embeddings", std::make_shared<nn::Embedding>(c.type_vocab_size, c.hidden_size));
  layer_norm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
}

at::Tensor BertEmbeddings::forward(const ops::Context& ctx, const at::Tensor& ids, const at::Tensor& types, const at::Tensor& positions) {
  auto h = word_embeddings->forward(ids) + token_type_embeddings->forward(types);
  h = h + position_embeddings->forward(positions);
  return ops::dropout(ctx, layer_norm->forward(h), dropout);
}

BertSelfAttention::BertSelfAttention(const Config& c)
    : heads(c.num_attention_heads), dropout(c.attention_probs_dropout_prob) {
  query = register_module("query", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size));
  key = register_module("key", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size));
  value = register_module("value", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size));
}

at::Tensor BertSelfAttention::forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens) {
  const auto qkv = nn::linear_group(ctx, {query.get(), key.get(), value.get()}, hidden, qkv_prepared_);
  return ops::attention(ctx, qkv[0], qkv[1], qkv[2], tokens, {.heads = heads, .dropout_p = dropout});
}

BertSelfOutput::BertSelfOutput(int64_t in, int64_t out, double eps, double dropout_) : dropout(dropout_) {
  dense = register_module("dense", std::make_shared<nn::Linear>(in, out));
  layer_norm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(out, eps));
}

at::Tensor BertSelfOutput::forward(const ops::Context& ctx, const at::Tensor& hidden, const at::Tensor& residual) {
  return layer_norm->forward(ctx, dense->forward(ctx, hidden), residual, dropout);
}

BertAttention::BertAttention(const Config& c) {
  self_attention = register_module("self", std::make_shared<BertSelfAttention>(c));
  output = register_module("output", std::make_shared<BertSelfOutput>(c.hidden_size, c.hidden_size, c.layer_norm_eps, c.hidden_dropout_prob));
}

at::Tensor BertAttention::forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens) {
  return output->forward(ctx, self_attention->forward(ctx, hidden, tokens), hidden);
}

BertIntermediate::BertIntermediate(int64_t in, int64_t out, ops::Activation act_) : act(act_) {
  dense = register_module("dense", std::make_shared<nn::Linear>(in, out));
}

at::Tensor BertIntermediate::forward(const ops::Context& ctx, const at::Tensor& hidden) {
  return dense->forward(ctx, hidden, act);
}

BertLayer::BertLayer(const Config& c) {
  attention = register_module("attention", std::make_shared<BertAttention>(c));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c.hidden_size, c.intermediate_size, c.hidden_act));
  output = register_module("output", std::make_shared<BertSelfOutput>(c.intermediate_size, c.hidden_size, c.layer_norm_eps, c.hidden_dropout_prob));
}

at::Tensor BertLayer::forward(const ops::Context& ctx, const at::Tensor& hidden, const ops::Tokens& tokens) {
  auto attended = attention->forward(ctx, hidden, tokens);
  return output->forward(ctx, intermediate->forward(ctx, attended), attended);
}

BertEncoder::BertEncoder(const Config& c) {
  layer = register_module("layer", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.push_back(layer->register_module(std::to_string(i), std::make_shared<BertLayer>(c)));
}

at::Tensor BertEncoder::forward(const ops::Context& ctx, at::Tensor hidden, const ops::Tokens& tokens, std::vector<at::Tensor>* states) {
  for (auto& l : layers) {
    if (states) states->push_back(tokens.restore(hidden));
    // Captured by value: a checkpointed layer runs again in backward, after this call has returned.
    hidden = ops::checkpoint(ctx, hidden, [l, tokens](const ops::Context& c, const at::Tensor& h) { return l->forward(c, h, tokens); });
  }
  if (states) states->push_back(tokens.restore(hidden));
  return hidden;
}

BertModel::BertModel(const Config& c) : config(c) {
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(c));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(c));
}

at::Tensor BertModel::forward(const ops::Context& ctx, const EncoderInput& in, std::vector<at::Tensor>* hidden_states) {
  const ops::Tokens tokens(in.attention_mask);
  auto positions = at::arange(in.input_ids.size(1), in.input_ids.options()).unsqueeze(0).expand_as(in.input_ids);
  auto types = in.token_type_ids.defined() ? in.token_type_ids : at::zeros_like(in.input_ids);
  auto hidden = embeddings->forward(ctx, tokens.take(in.input_ids), tokens.take(types), tokens.take(positions));
  return tokens.restore(encoder->forward(ctx, hidden, tokens, hidden_states));
}

void BertModel::init_weights(uint64_t seed) { nn::init_normal(*this, config.initializer_range, seed); }

EncoderInfo BertModel::info() const {
  return {"bert", "BertModel", config.vocab_size, config.hidden_size, config.max_position_embeddings, config.type_vocab_size,
          config.num_hidden_layers, config.num_attention_heads};
}

}  // namespace sbert::bert

namespace sbert {

Architecture bert_architecture() {
  Architecture a;
  a.model_type = "bert";
  a.prefixes = {"bert."};
  a.build = [](const ConfigReader& c) -> std::shared_ptr<Encoder> { return std::make_shared<bert::BertModel>(bert::Config::read(c)); };
  return a;
}

}  // namespace sbert
