#include "sparse.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "errors.h"

namespace sbert {

namespace {

// Sizes come from config files: checked before anything is allocated.
constexpr double kMaxElements = 4294967296.0;  // 2^32 floats (16 GiB)

const at::Tensor& need_tokens(const at::Tensor& t, const char* module) {
  if (!t.defined()) fail(ErrorCode::Input, std::string(module) + " needs token embeddings, which no module before it produces");
  if (t.dim() != 3) fail(ErrorCode::Input, std::string(module) + " needs token embeddings [batch, tokens, width], got " + std::to_string(t.dim()) + " dimensions");
  return t;
}

}  // namespace

MaskedLmHeadModule::MaskedLmHeadModule(int64_t hidden_size, int64_t vocab_size, ops::Activation activation_, double layer_norm_eps, MaskedLmHeadBiases biases)
    : activation(activation_) {
  if (hidden_size <= 0 || vocab_size <= 0) {
    fail(ErrorCode::Config, "MLM head hidden size and vocabulary size must be positive, got " + std::to_string(hidden_size) + " and " + std::to_string(vocab_size));
  }
  if (!(layer_norm_eps > 0.0)) fail(ErrorCode::Config, "MLM head LayerNorm eps must be positive, got " + std::to_string(layer_norm_eps));
  const double h = static_cast<double>(hidden_size);
  if (h * (h + 3) + (h + 1) * static_cast<double>(vocab_size) > kMaxElements) {
    fail(ErrorCode::Config, "MLM head of hidden size " + std::to_string(hidden_size) + " over " + std::to_string(vocab_size) + " tokens would hold more than the 2^32 weights this build allows");
  }
  dense = register_module("dense", std::make_shared<nn::Linear>(hidden_size, hidden_size, biases.dense));
  layer_norm = register_module("layer_norm", std::make_shared<nn::LayerNorm>(hidden_size, layer_norm_eps, biases.layer_norm));
  decoder = register_module("decoder", std::make_shared<nn::Linear>(hidden_size, vocab_size, biases.decoder));
}

void MaskedLmHeadModule::forward(const ops::Context& ctx, Features& f) {
  const auto& tokens = need_tokens(f.token_embeddings, "MLM head");
  auto x = layer_norm->forward(ops::activation(ctx, activation, dense->forward(ctx, tokens)));
  f.token_embeddings = decoder->forward(ctx, x);
}

void MaskedLmHeadModule::init_weights(uint64_t seed) { nn::init_normal(*this, 0.02, seed); }

void MaskedLmHeadModule::tie_decoder(const at::Tensor& embeddings) {
  if (!embeddings.sizes().equals(decoder->weight.sizes())) {
    fail(ErrorCode::Input, "the word embeddings' shape differs from the MLM decoder's: they cannot be tied");
  }
  auto tied = std::make_shared<nn::Linear>(embeddings, decoder->bias);
  tied->precision = decoder->precision;
  unregister_module("decoder");
  decoder = register_module("decoder", tied);
}

MlmTransformerModule::MlmTransformerModule(std::shared_ptr<SentenceModule> transformer_, std::shared_ptr<SentenceModule> head_, const std::string& tied_key)
    : transformer(std::move(transformer_)), head(std::move(head_)) {
  if (!transformer || !head) fail(ErrorCode::Input, "MLMTransformer needs an encoder and a masked-LM head");
  if (std::string(head->kind()) != "mlm_head") fail(ErrorCode::Input, std::string("MLMTransformer's head must be an mlm_head module, got ") + head->kind());
  if (!tied_key.empty()) {
    // The key as the checkpoint names it: under the encoder, the module holding the checkpoint's weights.
    const auto params = transformer->weights_root().named_parameters(true);
    const at::Tensor* embeddings = params.find(tied_key);
    if (!embeddings) fail(ErrorCode::Input, "MLMTransformer: the encoder has no parameter '" + tied_key + "' to tie the decoder to");
    auto& mlm = static_cast<MaskedLmHeadModule&>(*head);
    // transformers ties only a decoder that holds the embeddings' values (or none of its own).
    if (at::equal(mlm.decoder->weight, *embeddings)) mlm.tie_decoder(*embeddings);
  }
  register_module("transformer", transformer);
  register_module("head", head);
  device_ = transformer->device();
}

void MlmTransformerModule::forward(const ops::Context& ctx, Features& f) {
  transformer->forward(ctx, f);
  head->forward(ctx, f);
}

void MlmTransformerModule::set_precision(ops::Precision precision) {
  transformer->set_precision(precision);
  head->set_precision(precision);
}

void MlmTransformerModule::move_to(const at::Device& device) {
  transformer->move_to(device);
  head->move_to(device);
  device_ = device;
}

SparseStaticEmbeddingModule::SparseStaticEmbeddingModule(int64_t vocab_size) {
  if (vocab_size <= 0 || static_cast<double>(vocab_size) > kMaxElements) {
    fail(ErrorCode::Config, "SparseStaticEmbedding vocabulary size must be a positive integer within 2^32, got " + std::to_string(vocab_size));
  }
  weight = register_parameter("weight", at::ones({vocab_size}));
}

void SparseStaticEmbeddingModule::init_weights(uint64_t /*seed*/) {
  c10::NoGradGuard no_grad;
  weight.fill_(1.0);
}

void SparseStaticEmbeddingModule::forward(const ops::Context& /*ctx*/, Features& f) {
  const int64_t vocab = weight.size(0);
  if (f.input_ids.numel() > 0) {
    const int64_t low = f.input_ids.min().item<int64_t>(), high = f.input_ids.max().item<int64_t>();
    if (low < 0 || high >= vocab) {
      fail(ErrorCode::Input, "SparseStaticEmbedding: token id " + std::to_string(low < 0 ? low : high) + " is outside its " + std::to_string(vocab) + " weights");
    }
  }
  auto presence = at::zeros({f.input_ids.size(0), vocab}, weight.options());
  presence.scatter_(1, f.input_ids, f.attention_mask.to(weight.scalar_type()));
  auto embedding = presence * weight;
  f.sentence_embedding = f.sentence_embedding.defined() ? embedding * f.sentence_embedding : embedding;
}

const std::vector<std::string>& splade_strategy_names() {
  static const std::vector<std::string> names = {"max", "sum"};
  return names;
}

const std::vector<std::string>& splade_activation_names() {
  static const std::vector<std::string> names = {"relu", "log1p_relu"};
  return names;
}

namespace {

template <typename Enum>
Enum parse_name(const std::vector<std::string>& names, const std::string& name, const std::string& field) {
  std::string listed;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
    listed += (i ? ", " : "") + names[i];
  }
  fail(ErrorCode::Config, "SpladePooling " + field + " must be one of " + listed + ", got '" + name + "'");
}

}  // namespace

SpladeStrategy parse_splade_strategy(const std::string& name) { return parse_name<SpladeStrategy>(splade_strategy_names(), name, "pooling_strategy"); }

SpladeActivation parse_splade_activation(const std::string& name) {
  return parse_name<SpladeActivation>(splade_activation_names(), name, "activation_function");
}

void SpladePoolingModule::forward(const ops::Context& ctx, Features& f) {
  const auto& scores = need_tokens(f.token_embeddings, "SpladePooling");
  // Padding's scores become 0 before the activation, which maps 0 to 0: neither max (all values are >= 0) nor
  // sum sees it.
  auto x = scores * f.attention_mask.unsqueeze(-1).to(scores.scalar_type());
  if (ctx.train) {
    // Out of place: backward needs each step's input.
    x = x.relu().log1p();
    if (activation == SpladeActivation::Log1pRelu) x = x.log1p();
  } else {
    x.relu_().log1p_();
    if (activation == SpladeActivation::Log1pRelu) x.log1p_();
  }
  f.sentence_embedding = strategy == SpladeStrategy::Max ? x.amax(1) : x.sum(1);
}

}  // namespace sbert
