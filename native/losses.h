// Sentence-transformers training losses, computed from sentence embeddings so autograd carries them back
// through the model. One spec struct covers every loss; TypeScript checks the arguments first.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "ops/pointwise.h"

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
  // Distillation from a teacher's scores of (query, positive, negative...) rows.
  MarginMSE,
  DistillKLDiv,
  // In-batch ranking whose false negatives a guide model's similarities drop (labels: the guide's embeddings).
  GISTEmbed,
  // Each anchor's positive scored above one margin and its hardest in-batch negative below another.
  MegaBatchMargin,
  // Cross-encoder losses: each text column's "embedding" is the classifier's logits for its pairs ([B, num_labels]).
  CrossEncoderBinaryCrossEntropy,
  CrossEncoderCrossEntropy,
  CrossEncoderMSE,
  CrossEncoderMarginMSE,
  CrossEncoderMultipleNegativesRanking,
  CrossEncoderListNet,
  CrossEncoderLambda,
};

// Similarity of every anchor to every candidate (ranking losses).
enum class SimilarityFn { Cosine, Dot };
// Distance between paired embeddings (contrastive and triplet losses).
enum class DistanceFn { Cosine, Euclidean, Manhattan };

// LambdaLoss's weighting of each document pair (sentence-transformers' weighting schemes).
enum class LambdaWeighting { None, NDCGLoss1, NDCGLoss2, LambdaRank, NDCGLoss2PP };

// SpladeLoss: FLOPS regularizers on the sparse embeddings, added to the loss it wraps. The weights change during
// training (sentence-transformers' SpladeRegularizerWeightSchedulerCallback), so a step may give its own.
struct RegularizerWeights {
  double document = 0.0;
  std::optional<double> query;  // none: no query term
};
struct SpladeRegularizers {
  RegularizerWeights weights;
  // Rows with at most this many active (non-zero) values are left out of the term.
  std::optional<double> document_threshold, query_threshold;
  bool document_only = false;  // every column is a document (the query term is dropped)
};

// AdaptiveLayerLoss around the loss: the loss also on sentence embeddings pooled from earlier hidden states, each
// weighted by its layer (uniform, 1 / (1 + ln(1 + i)), or 1 / (1 + i)), plus their KL divergence from the last
// layer's embeddings at a temperature.
enum class LayerWeighting { Uniform, Log, Linear };
struct AdaptiveLayers {
  int64_t layers_per_step = 1;  // <= 0, or as many as there are: every earlier layer
  double last_layer_weight = 1.0, prior_layers_weight = 1.0, kl_div_weight = 1.0, kl_temperature = 0.3;
  LayerWeighting weighting = LayerWeighting::Uniform;
};

// One named part of a loss that sums several (SpladeLoss: base_loss, document_regularizer_loss,
// query_regularizer_loss), each as it enters the sum.
struct LossTerm {
  std::string name;
  double value;
};

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
  // Cross-encoder losses: the activation put on the logits first (ops::parse_activation's names).
  ops::Activation activation = ops::Activation::Identity;
  double pos_weight = 0.0;                               // BinaryCrossEntropy: > 0 weighs the positive term
  // LambdaLoss (k <= 0: every document; log2 unless natural_log).
  LambdaWeighting weighting = LambdaWeighting::NDCGLoss2PP;
  double mu = 10.0;
  int64_t k = 0;
  double sigma = 1.0;
  double eps = 1e-10;
  bool natural_log = false;
  // DistillKLDiv: the student's scores and the teacher's are each divided by their own temperature.
  double student_temperature = 1.0;
  double teacher_temperature = 1.0;
  // GISTEmbed: scores divided by the temperature; a candidate the guide scores above the positive's guide score
  // less `margin` (absolute) or less |score| * margin (relative) is left out; anchor-anchor and positive-positive
  // similarities join the candidates unless turned off.
  double temperature = 0.01;
  bool margin_relative = false;
  bool contrast_anchors = true, contrast_positives = true;
  // MegaBatchMargin: the cosine a positive should reach, and the one the hardest negative should stay under.
  double positive_margin = 0.8, negative_margin = 0.3;
  std::optional<SpladeRegularizers> splade;
  std::optional<AdaptiveLayers> adaptive;
  // (Cached)MultipleNegativesRanking in distributed training: candidates from every rank (the trainer gathers them).
  bool gather_across_devices = false;

  static LossSpec parse(const std::string& kind);
  // Text columns the loss takes (-1 = two or more; -2 = one or more; -3 = three or more).
  int64_t columns() const;
  bool cached() const { return mini_batch_size > 0; }
};

// Every loss LossSpec::parse knows, by its sentence-transformers class name.
const std::vector<std::string>& loss_names();

// The loss over embeddings [B, D] of each text column. `labels` is a float tensor ([B] or [B, D]) or undefined;
// GISTEmbed's are the guide model's embeddings of every column, [B, columns, guide dim].
// For the list losses (ListNet, Lambda) the one column holds every query's documents in order and `labels` is
// [queries, most documents] with -inf where a query has fewer.
// `head` is the Softmax classifier (null for other losses). `terms`, if given, receives the named parts of a loss
// made of several (empty for the others).
at::Tensor compute_loss(const LossSpec& spec, const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, nn::Linear* head,
                        std::vector<LossTerm>* terms = nullptr);

// AdaptiveLayerLoss from the column embeddings of the last layer and of the chosen earlier layers (each with the
// index of its hidden state, 0 being the embeddings' output). `terms` receives the last layer's loss parts.
at::Tensor adaptive_layer_loss(const LossSpec& spec, const std::vector<at::Tensor>& last,
                               const std::vector<std::pair<int64_t, std::vector<at::Tensor>>>& prior, const at::Tensor& labels, nn::Linear* head,
                               std::vector<LossTerm>* terms);

// FlopsLoss: the squared L2 norm of the batch's mean embedding [B, D] -> scalar, over the rows with more than
// `threshold` active values when one is given.
at::Tensor flops_loss(const at::Tensor& embeddings, std::optional<double> threshold);

// The loss of one embedding truncation: what compute_loss sums over for a Matryoshka spec.
at::Tensor base_loss(const LossSpec& spec, const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, nn::Linear* head);

}  // namespace sbert
