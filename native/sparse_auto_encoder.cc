#include "sparse_auto_encoder.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "errors.h"
#include "ops/topk.h"

namespace sbert {

namespace {

// Sizes come from config files: checked before anything is allocated.
constexpr double kMaxElements = 4294967296.0;  // 2^32 floats (16 GiB)
// sentence-transformers' epsilon in its row normalisation (added to the standard deviation).
constexpr double kNormalizeEps = 1e-5;

}  // namespace

SparseAutoEncoderModule::SparseAutoEncoderModule(int64_t input_dim_, int64_t hidden_dim_, int64_t k_, bool normalize_)
    : input_dim(input_dim_), hidden_dim(hidden_dim_), k(k_), normalize(normalize_) {
  if (input_dim <= 0) fail(ErrorCode::Config, "SparseAutoEncoder input_dim must be a positive integer, got " + std::to_string(input_dim));
  if (hidden_dim <= 0) fail(ErrorCode::Config, "SparseAutoEncoder hidden_dim must be a positive integer, got " + std::to_string(hidden_dim));
  if (k <= 0 || k > hidden_dim) {
    fail(ErrorCode::Config, "SparseAutoEncoder k must be a positive integer no larger than hidden_dim " + std::to_string(hidden_dim) + ", got " + std::to_string(k));
  }
  if (static_cast<double>(input_dim) * static_cast<double>(hidden_dim) > kMaxElements) {
    fail(ErrorCode::Config, "SparseAutoEncoder of input_dim " + std::to_string(input_dim) + " and hidden_dim " + std::to_string(hidden_dim) +
                                " would hold more than the 2^32 weights this build allows");
  }
  pre_bias = register_parameter("pre_bias", at::zeros({input_dim}));
  encoder = register_module("encoder", std::make_shared<nn::Linear>(input_dim, hidden_dim, /*bias=*/false));
  latent_bias = register_parameter("latent_bias", at::zeros({hidden_dim}));
  extras_ = {{kStatsKey, at::zeros({hidden_dim}, at::kLong)}};
}

void SparseAutoEncoderModule::forward(const ops::Context& ctx, Features& f) {
  const auto& embedding = f.sentence_embedding;
  if (!embedding.defined()) fail(ErrorCode::Input, "SparseAutoEncoder needs a sentence embedding, which no module before it produces (a Pooling first)");
  if (embedding.dim() != 2 || embedding.size(1) != input_dim) {
    fail(ErrorCode::Input, "SparseAutoEncoder takes sentence embeddings of input_dim " + std::to_string(input_dim) + ", got shape " + shape_str(embedding.sizes()));
  }
  const int64_t keep = f.max_active_dims > 0 ? f.max_active_dims : k;
  if (keep > hidden_dim) {
    fail(ErrorCode::Input, "max_active_dims " + std::to_string(keep) + " is more than the SparseAutoEncoder's hidden_dim " + std::to_string(hidden_dim));
  }
  at::Tensor x = embedding;
  if (normalize) {
    auto centred = x - x.mean({-1}, /*keepdim=*/true);
    x = centred / (centred.std({-1}, /*unbiased=*/true, /*keepdim=*/true) + kNormalizeEps);
  }
  auto latents = encoder->forward(ctx, x - pre_bias) + latent_bias;
  f.sentence_embedding = ops::keep_top_k(latents, keep).relu();
}

std::vector<std::string> SparseAutoEncoderModule::load_weights(LazyTensors tensors, const std::string& source) {
  LazyTensors weights;
  const LazyTensor* stats = nullptr;
  for (const auto& t : tensors) {
    if (t.name != kStatsKey) {
      weights.push_back(t);
    } else if (stats != nullptr) {
      fail(ErrorCode::Weights, std::string("key '") + kStatsKey + "' appears twice in " + source);
    } else {
      stats = &t;
    }
  }
  if (stats == nullptr) fail(ErrorCode::Weights, std::string("missing keys in ") + source + ": " + kStatsKey);
  if (stats->shape != std::vector<int64_t>{hidden_dim}) {
    fail(ErrorCode::Weights, std::string("key '") + kStatsKey + "' has shape " + shape_str(stats->shape) + " in " + source +
                                 " but the model expects " + shape_str(std::vector<int64_t>{hidden_dim}));
  }
  auto ignored = SentenceModule::load_weights(std::move(weights), source);
  extras_ = {{kStatsKey, stats->read().to(at::kLong).contiguous()}};
  return ignored;
}

void SparseAutoEncoderModule::init_weights(uint64_t seed) {
  c10::NoGradGuard no_grad;
  encoder->reset_uniform(seed);
  pre_bias.zero_();
  latent_bias.zero_();
  extras_ = {{kStatsKey, at::zeros({hidden_dim}, at::kLong)}};
}

}  // namespace sbert
