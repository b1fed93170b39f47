#include "st_modules.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <torch/nn/utils/rnn.h>

#include <cmath>
#include <string>

#include "errors.h"
#include "ops/pointwise.h"

namespace sbert {

namespace {

// Sizes come from config files: checked before anything is allocated.
constexpr double kMaxElements = 4294967296.0;  // 2^32 floats (16 GiB)

void check_positive(int64_t value, const std::string& what) {
  if (value <= 0) fail(ErrorCode::Config, what + " must be a positive integer, got " + std::to_string(value));
}

void check_elements(double elements, const std::string& what) {
  if (elements > kMaxElements) {
    fail(ErrorCode::Config, what + " would hold " + std::to_string(static_cast<int64_t>(elements)) + " weights, more than the 2^32 this build allows");
  }
}

at::Tensor uniform(at::IntArrayRef sizes, double bound, at::Generator& gen) { return at::empty(sizes).uniform_(-bound, bound, gen); }

// Token ids index the module's rows: one outside them is an Input error naming the module, not an ATen index error.
void check_ids(const at::Tensor& ids, int64_t rows, const char* module) {
  if (ids.numel() == 0) return;
  const int64_t high = ids.max().item<int64_t>();
  const int64_t low = ids.min().item<int64_t>();
  if (low < 0 || high >= rows) {
    fail(ErrorCode::Input, std::string(module) + ": token id " + std::to_string(low < 0 ? low : high) + " is outside its " + std::to_string(rows) +
                               " rows (the tokenizer's vocabulary is larger than the module's)");
  }
}

const at::Tensor& need(const at::Tensor& t, const char* module, const char* feature) {
  if (!t.defined()) fail(ErrorCode::Input, std::string(module) + " needs " + feature + ", which no module before it produces");
  return t;
}

}  // namespace

LayerNormModule::LayerNormModule(int64_t dimension, double eps, bool bias) {
  check_positive(dimension, "LayerNorm dimension");
  check_elements(2.0 * static_cast<double>(dimension), "LayerNorm");
  if (!(eps > 0.0)) fail(ErrorCode::Config, "LayerNorm eps must be positive, got " + std::to_string(eps));
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(dimension, eps, bias));
}

void LayerNormModule::forward(const ops::Context& /*ctx*/, Features& f) {
  f.sentence_embedding = norm->forward(need(f.sentence_embedding, "LayerNorm", "a sentence embedding"));
}

void LayerNormModule::init_weights(uint64_t /*seed*/) {
  c10::NoGradGuard no_grad;
  norm->weight.fill_(1.0);
  if (norm->bias.defined()) norm->bias.zero_();
}

void LastNonPadTokenModule::forward(const ops::Context& /*ctx*/, Features& f) {
  const auto& tokens = need(f.token_embeddings, "LastNonPadToken", "token embeddings");
  const int64_t rows = f.input_ids.size(0);
  if (pad_token_id < 0 && rows > 1) {
    fail(ErrorCode::Input, "config.json sets no pad_token_id, so the last token that is not the pad token cannot be found in a padded batch: score one pair per batch, got " +
                               std::to_string(rows));
  }
  auto index = last_non_pad_positions(f.input_ids, f.attention_mask, pad_token_id);
  f.sentence_embedding = tokens.gather(1, index.view({-1, 1, 1}).expand({-1, 1, tokens.size(2)})).squeeze(1);
}

DropoutModule::DropoutModule(double p_) : p(p_) {
  if (!(p >= 0.0 && p <= 1.0)) fail(ErrorCode::Config, "Dropout probability must be between 0 and 1, got " + std::to_string(p));
}

void DropoutModule::forward(const ops::Context& ctx, Features& f) {
  f.sentence_embedding = ops::dropout(ctx, need(f.sentence_embedding, "Dropout", "a sentence embedding"), p);
}

WeightedLayerPoolingModule::WeightedLayerPoolingModule(int64_t num_hidden_layers_, int64_t layer_start_)
    : num_hidden_layers(num_hidden_layers_), layer_start(layer_start_) {
  check_positive(num_hidden_layers, "WeightedLayerPooling num_hidden_layers");
  if (layer_start < 0 || layer_start > num_hidden_layers) {
    fail(ErrorCode::Config, "WeightedLayerPooling layer_start must be between 0 and num_hidden_layers (" + std::to_string(num_hidden_layers) +
                                "), got " + std::to_string(layer_start));
  }
  check_elements(static_cast<double>(num_hidden_layers), "WeightedLayerPooling");
  layer_weights = register_parameter("layer_weights", at::ones({num_hidden_layers + 1 - layer_start}));
}

void WeightedLayerPoolingModule::forward(const ops::Context& /*ctx*/, Features& f) {
  const auto& layers = f.all_layer_embeddings;
  if (layers.empty()) return;
  const int64_t count = static_cast<int64_t>(layers.size()) - layer_start;
  if (count != layer_weights.size(0)) {
    fail(ErrorCode::Config, "WeightedLayerPooling weighs " + std::to_string(layer_weights.size(0)) + " hidden states (num_hidden_layers " +
                                std::to_string(num_hidden_layers) + " + 1 - layer_start " + std::to_string(layer_start) + ") but the Transformer gives " +
                                std::to_string(layers.size()) + " (the embeddings' output and one per layer)");
  }
  auto stacked = at::stack(at::TensorList(layers).slice(static_cast<size_t>(layer_start)));  // [count, B, L, H]
  f.token_embeddings = (layer_weights.view({-1, 1, 1, 1}) * stacked).sum(0) / layer_weights.sum();
}

void WeightedLayerPoolingModule::init_weights(uint64_t /*seed*/) {
  c10::NoGradGuard no_grad;
  layer_weights.fill_(1.0);
}

WordEmbeddingsModule::WordEmbeddingsModule(int64_t num_embeddings, int64_t dimension, bool update_embeddings) {
  check_positive(num_embeddings, "WordEmbeddings rows");
  check_positive(dimension, "WordEmbeddings dimension");
  check_elements(static_cast<double>(num_embeddings) * static_cast<double>(dimension), "WordEmbeddings");
  emb_layer = register_module("emb_layer", std::make_shared<nn::Embedding>(num_embeddings, dimension));
  emb_layer->weight.set_requires_grad(update_embeddings);
}

void WordEmbeddingsModule::init_weights(uint64_t /*seed*/) {
  c10::NoGradGuard no_grad;
  emb_layer->weight.zero_();
}

void WordEmbeddingsModule::forward(const ops::Context& /*ctx*/, Features& f) {
  check_ids(f.input_ids, emb_layer->weight.size(0), "WordEmbeddings");
  f.all_layer_embeddings.clear();
  f.token_weights_sum = at::Tensor();
  f.token_embeddings = emb_layer->forward(f.input_ids);
}

WordWeightsModule::WordWeightsModule(int64_t vocab_size) {
  check_positive(vocab_size, "WordWeights vocabulary size");
  check_elements(static_cast<double>(vocab_size), "WordWeights");
  emb_layer = register_module("emb_layer", std::make_shared<nn::Embedding>(vocab_size, 1));
}

void WordWeightsModule::init_weights(uint64_t /*seed*/) {
  c10::NoGradGuard no_grad;
  emb_layer->weight.fill_(1.0);
}

void WordWeightsModule::forward(const ops::Context& /*ctx*/, Features& f) {
  const auto& tokens = need(f.token_embeddings, "WordWeights", "token embeddings");
  check_ids(f.input_ids, emb_layer->weight.size(0), "WordWeights");
  auto weights = emb_layer->forward(f.input_ids).squeeze(-1) * f.attention_mask.to(tokens.scalar_type());  // [B, L]
  f.token_weights_sum = weights.sum(1);
  f.token_embeddings = tokens * weights.unsqueeze(-1);
}

Conv1d::Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size) : padding((kernel_size - 1) / 2) {
  weight = register_parameter("weight", at::empty({out_channels, in_channels, kernel_size}));
  bias = register_parameter("bias", at::zeros({out_channels}));
}

at::Tensor Conv1d::forward(const at::Tensor& x) const { return at::conv1d(x, weight, bias, /*stride=*/{1}, /*padding=*/{padding}); }

void Conv1d::reset_uniform(at::Generator& gen) {
  c10::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1) * weight.size(2)));
  weight.copy_(uniform(weight.sizes(), bound, gen));
  bias.copy_(uniform(bias.sizes(), bound, gen));
}

CnnModule::CnnModule(int64_t in_dimension, int64_t out_channels, std::vector<int64_t> kernel_sizes) {
  check_positive(in_dimension, "CNN in_word_embedding_dimension");
  check_positive(out_channels, "CNN out_channels");
  if (kernel_sizes.empty()) fail(ErrorCode::Config, "CNN kernel_sizes must list at least one size");
  double elements = 0;
  for (int64_t k : kernel_sizes) {
    // An even kernel shortens the sequence by one, which no module after it can line up with the attention mask.
    if (k <= 0 || k % 2 == 0) fail(ErrorCode::Config, "CNN kernel_sizes must be odd positive integers, got " + std::to_string(k));
    elements += static_cast<double>(out_channels) * (static_cast<double>(in_dimension) * static_cast<double>(k) + 1);
  }
  check_elements(elements, "CNN");
  auto list = register_module("convs", std::make_shared<torch::nn::Module>());
  for (size_t i = 0; i < kernel_sizes.size(); ++i) {
    convs.push_back(list->register_module(std::to_string(i), std::make_shared<Conv1d>(in_dimension, out_channels, kernel_sizes[i])));
  }
}

void CnnModule::forward(const ops::Context& /*ctx*/, Features& f) {
  const auto& tokens = need(f.token_embeddings, "CNN", "token embeddings");
  auto x = tokens.transpose(1, 2);  // [B, D, L]
  std::vector<at::Tensor> outputs;
  for (const auto& conv : convs) outputs.push_back(conv->forward(x));
  f.token_embeddings = at::cat(outputs, 1).transpose(1, 2);
}

void CnnModule::init_weights(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& conv : convs) conv->reset_uniform(gen);
}

Lstm::Lstm(int64_t input_size, int64_t hidden_size_, int64_t num_layers_, double dropout_, bool bidirectional_)
    : hidden_size(hidden_size_), num_layers(num_layers_), dropout(dropout_), bidirectional(bidirectional_) {
  check_positive(input_size, "LSTM word_embedding_dimension");
  check_positive(hidden_size, "LSTM hidden_dim");
  check_positive(num_layers, "LSTM num_layers");
  if (!(dropout >= 0.0 && dropout <= 1.0)) fail(ErrorCode::Config, "LSTM dropout must be between 0 and 1, got " + std::to_string(dropout));
  const int64_t directions = bidirectional ? 2 : 1;
  const double h = static_cast<double>(hidden_size);
  double elements = 0;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const double in = layer == 0 ? static_cast<double>(input_size) : h * directions;
    elements += directions * 4 * h * (in + h + 2);
    check_elements(elements, "LSTM");
  }
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const int64_t in = layer == 0 ? input_size : hidden_size * directions;
    for (int64_t d = 0; d < directions; ++d) {
      const std::string suffix = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
      register_parameter("weight_ih" + suffix, at::empty({4 * hidden_size, in}));
      register_parameter("weight_hh" + suffix, at::empty({4 * hidden_size, hidden_size}));
      register_parameter("bias_ih" + suffix, at::zeros({4 * hidden_size}));
      register_parameter("bias_hh" + suffix, at::zeros({4 * hidden_size}));
    }
  }
}

std::vector<at::Tensor> Lstm::layer_params(int64_t layer) const {
  // at::lstm's order: per direction, w_ih, w_hh, b_ih, b_hh.
  std::vector<at::Tensor> params;
  for (int64_t d = 0; d < (bidirectional ? 2 : 1); ++d) {
    const std::string suffix = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
    for (const char* name : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) params.push_back(named_parameters(false)[name + suffix]);
  }
  return params;
}

at::Tensor Lstm::forward(const ops::Context& ctx, const at::Tensor& x, const at::Tensor& lengths) const {
  namespace rnn = torch::nn::utils::rnn;
  auto packed = rnn::pack_padded_sequence(x, lengths, /*batch_first=*/true, /*enforce_sorted=*/false);
  const int64_t directions = bidirectional ? 2 : 1;
  at::Tensor data = packed.data();
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    // torch.nn.LSTM's dropout: on every layer's output but the last.
    if (layer > 0) data = ops::dropout(ctx, data, dropout);
    auto zeros = at::zeros({directions, x.size(0), hidden_size}, data.options());
    data = std::get<0>(at::lstm(data, packed.batch_sizes(), {zeros, zeros}, layer_params(layer), /*has_biases=*/true, /*num_layers=*/1,
                                /*dropout=*/0.0, ctx.train, bidirectional));
  }
  rnn::PackedSequence out(data, packed.batch_sizes(), packed.sorted_indices(), packed.unsorted_indices());
  return std::get<0>(rnn::pad_packed_sequence(out, /*batch_first=*/true, /*padding_value=*/0.0, x.size(1)));
}

void Lstm::reset_uniform(at::Generator& gen) {
  c10::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (auto& p : parameters(false)) p.copy_(uniform(p.sizes(), bound, gen));
}

LstmModule::LstmModule(int64_t embedding_dimension, int64_t hidden_dim, int64_t num_layers, double dropout, bool bidirectional) {
  encoder = register_module("encoder", std::make_shared<Lstm>(embedding_dimension, hidden_dim, num_layers, dropout, bidirectional));
}

void LstmModule::forward(const ops::Context& ctx, Features& f) {
  const auto& tokens = need(f.token_embeddings, "LSTM", "token embeddings");
  // sentence-transformers counts a text with no tokens as one token long.
  auto lengths = f.attention_mask.sum(1).clamp_min(1).to(at::kCPU, at::kLong);
  f.token_embeddings = encoder->forward(ctx, tokens, lengths);
}

void LstmModule::init_weights(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  encoder->reset_uniform(gen);
}

StaticEmbeddingModule::StaticEmbeddingModule(int64_t num_embeddings, int64_t dimension) {
  check_positive(num_embeddings, "StaticEmbedding rows");
  check_positive(dimension, "StaticEmbedding dimension");
  check_elements(static_cast<double>(num_embeddings) * static_cast<double>(dimension), "StaticEmbedding");
  embedding = register_module("embedding", std::make_shared<nn::Embedding>(num_embeddings, dimension));
}

void StaticEmbeddingModule::init_weights(uint64_t seed) {
  c10::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  embedding->weight.copy_(at::empty(embedding->weight.sizes()).normal_(0.0, 1.0, gen));
}

void StaticEmbeddingModule::forward(const ops::Context& /*ctx*/, Features& f) {
  // The padded batch back to EmbeddingBag's flat ids and per-text offsets, so the sums run in its order.
  auto mask = f.attention_mask.to(at::kBool);
  auto ids = f.input_ids.masked_select(mask);
  check_ids(ids, embedding->weight.size(0), "StaticEmbedding");
  auto lengths = mask.sum(1);
  auto offsets = (lengths.cumsum(0) - lengths).to(at::kLong);
  f.all_layer_embeddings.clear();
  f.token_embeddings = at::Tensor();
  f.sentence_embedding = std::get<0>(at::embedding_bag(embedding->weight, ids, offsets, /*scale_grad_by_freq=*/false, /*mode=mean*/ 1,
                                                       /*sparse=*/false, /*per_sample_weights=*/c10::nullopt, /*include_last_offset=*/false));
}

RouterModule::RouterModule(std::vector<std::pair<std::string, ModuleList>> routes_, std::string default_route_)
    : routes(std::move(routes_)), default_route(std::move(default_route_)) {
  if (routes.empty()) fail(ErrorCode::Config, "Router needs at least one route");
  auto sub_modules = register_module("sub_modules", std::make_shared<torch::nn::Module>());
  bool default_found = default_route.empty();
  for (const auto& [name, modules] : routes) {
    if (modules.empty()) fail(ErrorCode::Config, "Router route '" + name + "' has no modules");
    default_found = default_found || name == default_route;
    auto list = sub_modules->register_module(name, std::make_shared<torch::nn::Module>());
    for (size_t i = 0; i < modules.size(); ++i) list->register_module(std::to_string(i), modules[i]);
  }
  if (!default_found) fail(ErrorCode::Config, "Router default route '" + default_route + "' is not one of its routes");
  device_ = routes.front().second.front()->device();
}

void RouterModule::forward(const ops::Context& ctx, Features& f) {
  const std::string& route = f.route.empty() ? default_route : f.route;
  if (route.empty()) fail(ErrorCode::Input, "Router: the batch names no route (task) and the Router has no default route");
  for (const auto& [name, modules] : routes) {
    if (name == route) return run_pipeline(ctx, modules, f);
  }
  fail(ErrorCode::Input, "Router has no route '" + route + "'");
}

void RouterModule::set_precision(ops::Precision precision) {
  for (auto& route : routes) {
    for (auto& m : route.second) m->set_precision(precision);
  }
}

void RouterModule::move_to(const at::Device& device) {
  for (auto& route : routes) {
    for (auto& m : route.second) m->move_to(device);
  }
  device_ = device;
}

}  // namespace sbert
