// Sentence-transformers training losses, computed from sentence embeddings so autograd carries them back
// through the model. One spec struct covers every loss; TypeScript checks the arguments first.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace sbert {

enum class LossKind {
  CosineSimilarity,
  CoSENT,
  AnglE,
  MultipleNegativesRanking,
  MultipleNegativesSymmetricRanking,
  Softmax,
  Contrastive,
  OnlineContrastive,
  Triplet,
  BatchHardTriplet,
  MSE,
};

// Similarity of every anchor to every candidate (ranking losses).
enum class SimilarityFn { Cosine, Dot };
// Distance between paired embeddings (contrastive and triplet losses).
enum class DistanceFn { Cosine, Euclidean, Manhattan };

struct LossSpec {
  LossKind kind = LossKind::CosineSimilarity;
  double scale = 20.0;
  double margin = 0.0;
  bool size_average = true;
  std::string loss_fct = "mse";                          // CosineSimilarity: mse | l1
  std::string cos_score_transformation = "identity";     // CosineSimilarity: identity | relu
  SimilarityFn similarity = SimilarityFn::Cosine;
  DistanceFn distance = DistanceFn::Euclidean;
  int64_t num_labels = 0;                                // Softmax
  bool concat_rep = true, concat_diff = true, concat_mul = false;
  int64_t mini_batch_size = 0;                           // > 0: gradient cache (Cached MNRL)
  std::vector<int64_t> matryoshka_dims;                  // non-empty: Matryoshka wrapper, dims in decreasing order
  std::vector<double> matryoshka_weights;
  int64_t matryoshka_dims_per_step = -1;

  static LossSpec parse(const std::string& kind);
  // Text columns the loss takes (-1 = two or more; -2 = one or more).
  int64_t columns() const;
  bool cached() const { return mini_batch_size > 0; }
};

// Every loss LossSpec::parse knows, by its sentence-transformers class name.
const std::vector<std::string>& loss_names();

// The loss over embeddings [B, D] of each text column. `labels` is a float tensor ([B] or [B, D]) or undefined.
// `head` is the Softmax classifier (null for other losses).
at::Tensor compute_loss(const LossSpec& spec, const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, nn::Linear* head);

// The loss of one embedding truncation: what compute_loss sums over for a Matryoshka spec.
at::Tensor base_loss(const LossSpec& spec, const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, nn::Linear* head);

}  // namespace sbert
