// sentence-transformers' SparseAutoEncoder (CSR, Contrastive Sparse Representation): a dense sentence embedding
// encoded into a wider latent of which only the k largest values stay, the model's sparse embedding.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "modules.h"
#include "nn/layers.h"

namespace sbert {

// sentence_embedding [B, input_dim] <- relu(keep_top_k(encoder(prepare(x) - pre_bias) + latent_bias, k)) [B, hidden_dim],
// where prepare is the identity, or with `normalize` each row centred and divided by its (unbiased) standard
// deviation plus 1e-5; a batch's max_active_dims, when given, replaces k. Keys `pre_bias` [input_dim],
// `encoder.weight` [hidden_dim, input_dim], `latent_bias` [hidden_dim]; the tied decoder is the encoder's weight and
// runs only in training, so inference leaves it out. `stats_last_nonzero` [hidden_dim] (training's count of steps
// since each latent was last active) is read and written back unchanged.
class SparseAutoEncoderModule : public SentenceModule {
 public:
  SparseAutoEncoderModule(int64_t input_dim, int64_t hidden_dim, int64_t k, bool normalize);
  const char* kind() const override { return "sparse_auto_encoder"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // Checks and keeps stats_last_nonzero, which must be there, and loads the rest as every module does.
  std::vector<std::string> load_weights(LazyTensors tensors, const std::string& source) override;
  // As sentence-transformers starts one: torch.nn.Linear's default for the encoder, zero biases and statistics.
  void init_weights(uint64_t seed) override;
  void set_precision(ops::Precision precision) override { encoder->precision = precision; }
  static constexpr const char* kStatsKey = "stats_last_nonzero";
  const int64_t input_dim, hidden_dim, k;
  const bool normalize;
  at::Tensor pre_bias, latent_bias;
  std::shared_ptr<nn::Linear> encoder;
};

}  // namespace sbert
