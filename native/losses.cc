#include "losses.h"

#include <ATen/ATen.h>

#include <cmath>

#include "errors.h"

namespace sbert {

namespace {

at::Tensor l2_normalize(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

// util.cos_sim: normalised with eps 1e-12 on the norms.
at::Tensor cos_sim_matrix(const at::Tensor& a, const at::Tensor& b) { return at::mm(l2_normalize(a), l2_normalize(b).t()); }

at::Tensor pairwise_cos(const at::Tensor& a, const at::Tensor& b) { return (l2_normalize(a) * l2_normalize(b)).sum(1); }

// torch.cosine_similarity (eps 1e-8 on each norm), as CosineSimilarityLoss and ContrastiveLoss use.
at::Tensor torch_cosine_similarity(const at::Tensor& a, const at::Tensor& b) { return at::cosine_similarity(a, b, 1, 1e-8); }

// The absolute normalised angle difference of AnglE: each embedding's halves are a complex number.
at::Tensor pairwise_angle(const at::Tensor& x, const at::Tensor& y) {
  auto xs = x.chunk(2, 1);
  auto ys = y.chunk(2, 1);
  const auto &a = xs[0], &b = xs[1], &c = ys[0], &d = ys[1];
  auto z = (c.pow(2) + d.pow(2)).sum(1, true);
  auto re = (a * c + b * d) / z;
  auto im = (b * c - a * d) / z;
  auto dz = (a.pow(2) + b.pow(2)).sum(1, true).sqrt();
  auto dw = (c.pow(2) + d.pow(2)).sum(1, true).sqrt();
  re = re / (dz / dw);
  im = im / (dz / dw);
  return at::cat({re, im}, 1).sum(1).abs();
}

at::Tensor pair_distance(DistanceFn fn, const at::Tensor& a, const at::Tensor& b) {
  switch (fn) {
    case DistanceFn::Cosine: return 1 - torch_cosine_similarity(a, b);
    case DistanceFn::Euclidean: return (a - b).pow(2).sum(1).sqrt();
    case DistanceFn::Manhattan: return (a - b).abs().sum(1);
  }
  return {};
}

at::Tensor similarity_matrix(SimilarityFn fn, const at::Tensor& a, const at::Tensor& b) {
  return fn == SimilarityFn::Cosine ? cos_sim_matrix(a, b) : at::mm(a, b.t());
}

// Pairwise euclidean distances from the Gram matrix, with the epsilon that keeps sqrt differentiable at 0.
at::Tensor euclidean_distance_matrix(const at::Tensor& e) {
  auto dot = at::mm(e, e.t());
  auto sq = dot.diagonal();
  auto d = sq.unsqueeze(0) - 2.0 * dot + sq.unsqueeze(1);
  d = d.clamp_min(0);
  auto zero = d.eq(0).to(d.scalar_type());
  d = (d + zero * 1e-16).sqrt();
  return d * (1.0 - zero);
}

at::Tensor cosent(const at::Tensor& scores_in, const at::Tensor& labels, double scale) {
  auto scores = scores_in * scale;
  scores = scores.unsqueeze(1) - scores.unsqueeze(0);
  auto order = (labels.unsqueeze(1) < labels.unsqueeze(0)).to(scores.scalar_type());
  scores = scores - (1 - order) * 1e12;
  scores = at::cat({at::zeros({1}, scores.options()), scores.reshape({-1})});
  return at::logsumexp(scores, {0});
}

// The activation a cross-encoder loss puts on the logits, with autograd.
at::Tensor activate(ops::Activation act, const at::Tensor& x) {
  switch (act) {
    case ops::Activation::Identity: return x;
    case ops::Activation::Sigmoid: return at::sigmoid(x);
    case ops::Activation::Tanh: return at::tanh(x);
    case ops::Activation::Relu: return at::relu(x);
    case ops::Activation::Silu: return at::silu(x);
    case ops::Activation::GeluErf: return at::gelu(x);
    case ops::Activation::GeluTanh: return at::gelu(x, "tanh");
  }
  return x;
}

// One logit per pair: the single-label classifier's [N, 1] as [N].
at::Tensor single_logits(const at::Tensor& logits, const char* loss) {
  if (logits.dim() != 2 || logits.size(1) != 1) {
    fail(ErrorCode::Input, std::string(loss) + " needs a cross-encoder with one label, got logits of " + std::to_string(logits.dim() == 2 ? logits.size(1) : -1) + " labels");
  }
  return logits.reshape({-1});
}

// The list losses' [queries, most documents] logits: each query's documents in order, -1e16 where it has fewer
// (the positions whose label is -inf), as sentence-transformers lays them out.
at::Tensor logits_matrix(const at::Tensor& flat, const at::Tensor& labels, const char* loss) {
  if (!labels.defined() || labels.dim() != 2) fail(ErrorCode::Input, std::string(loss) + " needs a [queries, documents] label matrix");
  auto present = labels.isfinite();
  if (present.sum().item<int64_t>() != flat.size(0)) {
    fail(ErrorCode::Input, std::string(loss) + ": " + std::to_string(flat.size(0)) + " pairs but " + std::to_string(present.sum().item<int64_t>()) + " labels");
  }
  return at::full(labels.sizes(), -1e16, flat.options()).masked_scatter(present, flat);
}

at::Tensor lambda_weights(const LossSpec& s, const at::Tensor& gain, const at::Tensor& discount) {
  const int64_t m = gain.size(1);
  auto lambda_rank = [&] {
    auto inv = discount.pow(-1.0);
    return (inv.unsqueeze(2) - inv.unsqueeze(1)).abs() * (gain.unsqueeze(2) - gain.unsqueeze(1)).abs();
  };
  auto ndcg2 = [&] {
    auto pos = at::arange(1, m + 1, gain.options().dtype(at::kLong));
    auto delta = (pos.unsqueeze(1) - pos.unsqueeze(0)).abs();
    // delta - 1 is -1 on the diagonal: the last position, as Python's indexing reads it; the diagonal is zeroed.
    auto d = discount[0];
    auto pick = [&](const at::Tensor& idx) { return d.index_select(0, idx.reshape({-1})).reshape(idx.sizes()).abs().pow(-1.0); };
    auto below = pick(at::remainder(delta - 1, m));
    auto at_delta = pick(delta);
    auto deltas = (below - at_delta).abs();
    deltas.diagonal().zero_();
    return deltas.unsqueeze(0) * (gain.unsqueeze(2) - gain.unsqueeze(1)).abs();
  };
  switch (s.weighting) {
    case LambdaWeighting::None: return at::ones({}, gain.options());
    case LambdaWeighting::NDCGLoss1: return (gain / discount).unsqueeze(2);
    case LambdaWeighting::NDCGLoss2: return ndcg2();
    case LambdaWeighting::LambdaRank: return lambda_rank();
    case LambdaWeighting::NDCGLoss2PP: return s.mu * ndcg2() + lambda_rank();
  }
  return {};
}

// LambdaLoss over each query's documents: pairs ordered by the model's scores, weighted by the scheme.
at::Tensor lambda_loss(const LossSpec& s, const at::Tensor& scores, const at::Tensor& labels) {
  const int64_t m = scores.size(1);
  auto sorted = scores.sort(-1, /*descending=*/true);
  const auto& scores_sorted = std::get<0>(sorted);
  const auto& order = std::get<1>(sorted);
  auto labels_sorted = std::get<0>(labels.sort(-1, /*descending=*/true));
  auto true_by_pred = labels.gather(1, order);
  auto true_diffs = true_by_pred.unsqueeze(2) - true_by_pred.unsqueeze(1);
  auto pairs = true_diffs.isfinite();
  if (s.weighting != LambdaWeighting::NDCGLoss1) pairs = pairs & (true_diffs > 0);
  const int64_t k = s.k > 0 ? std::min(s.k, m) : m;
  auto top_k = at::zeros({m, m}, pairs.options());
  top_k.narrow(0, 0, k).narrow(1, 0, k).fill_(true);
  true_by_pred = true_by_pred.clamp_min(0.0);
  labels_sorted = labels_sorted.clamp_min(0.0);
  auto discount = at::log2(1.0 + at::arange(1, m + 1, scores.options())).unsqueeze(0);
  auto max_dcg = ((at::pow(2.0, labels_sorted) - 1) / discount).narrow(1, 0, k).sum(-1).clamp_min(s.eps);
  auto gain = (at::pow(2.0, true_by_pred) - 1) / max_dcg.unsqueeze(1);
  auto weights = lambda_weights(s, gain, discount);
  auto diffs = (scores_sorted.unsqueeze(2) - scores_sorted.unsqueeze(1)).clamp(-1e8, 1e8);
  diffs = diffs.masked_fill(diffs.isnan(), 0.0);
  auto probas = at::pow(at::sigmoid(s.sigma * diffs).clamp_min(s.eps), weights).clamp_min(s.eps);
  auto logs = s.natural_log ? at::log(probas) : at::log2(probas);
  return -logs.masked_select(pairs & top_k).mean();
}

// The score of each row's pair (row i of a with row i of b).
at::Tensor pairwise_similarity(SimilarityFn fn, const at::Tensor& a, const at::Tensor& b) {
  return fn == SimilarityFn::Cosine ? pairwise_cos(a, b) : (a * b).sum(1);
}

// The query's score against each candidate column: [B, columns - 1].
at::Tensor candidate_scores(SimilarityFn fn, const std::vector<at::Tensor>& e) {
  std::vector<at::Tensor> scores;
  for (size_t i = 1; i < e.size(); ++i) scores.push_back(pairwise_similarity(fn, e[0], e[i]));
  return at::stack(scores, 1);
}

std::string shape_of(const at::Tensor& t) {
  std::string out = "[";
  for (int64_t d = 0; d < t.dim(); ++d) out += (d ? ", " : "") + std::to_string(t.size(d));
  return out + "]";
}

// MarginMSE's target margins [B, negatives]: labels that are already margins ([B] for one negative, or
// [B, negatives]), or the teacher's scores of the positive then each negative ([B, negatives + 1]).
at::Tensor margin_targets(const at::Tensor& labels, int64_t batch, int64_t negatives) {
  if (!labels.defined()) fail(ErrorCode::Input, "MarginMSELoss needs labels: margins or the teacher's scores");
  at::Tensor l = labels;
  if (l.dim() == 2 && l.size(0) == batch && l.size(1) == negatives + 1) l = l.narrow(1, 0, 1) - l.narrow(1, 1, negatives);
  else if (l.dim() == 1 && l.size(0) == batch) l = l.unsqueeze(1);
  if (l.dim() != 2 || l.size(0) != batch || l.size(1) != negatives) {
    fail(ErrorCode::Input, "MarginMSELoss: labels of shape " + shape_of(labels) + " for " + std::to_string(batch) + " rows with " + std::to_string(negatives) +
                               " negative column(s); each row's label must be " + std::to_string(negatives) + " margin(s) (positive score minus negative score) or " +
                               std::to_string(negatives + 1) + " teacher scores (the positive's, then each negative's)");
  }
  if (!labels.isfinite().all().item<bool>()) fail(ErrorCode::Input, "MarginMSELoss: the labels hold a value that is not a finite number");
  return l;
}

// DistillKLDiv's teacher scores: [B, candidates], no NaN or +inf; -inf leaves a candidate out, but not all of a row's.
void check_teacher_scores(const at::Tensor& labels, int64_t batch, int64_t candidates) {
  if (!labels.defined() || labels.dim() != 2 || labels.size(0) != batch || labels.size(1) != candidates) {
    fail(ErrorCode::Input, "DistillKLDivLoss needs the teacher's scores of shape [" + std::to_string(batch) + ", " + std::to_string(candidates) +
                               "] (one per candidate column: the positive, then each negative), got " + (labels.defined() ? shape_of(labels) : std::string("no labels")));
  }
  if (labels.isnan().any().item<bool>()) fail(ErrorCode::Input, "DistillKLDivLoss: the teacher scores hold NaN");
  if ((labels == INFINITY).any().item<bool>()) fail(ErrorCode::Input, "DistillKLDivLoss: the teacher scores hold +Infinity");
  if (labels.isinf().all(1).any().item<bool>()) fail(ErrorCode::Input, "DistillKLDivLoss: a row's teacher scores are all -Infinity (at least one candidate must be scored)");
}

// GISTEmbedLoss: anchors ranked against the positives (and, unless turned off, the other anchors and positives,
// then each negative column) by cosine over the temperature; every candidate but the positive that the guide
// scores above the bound its positive sets is dropped as a likely false negative.
at::Tensor gist_embed(const LossSpec& spec, const std::vector<at::Tensor>& e, const at::Tensor& guide) {
  if (e.size() < 2) fail(ErrorCode::Input, "GISTEmbedLoss takes an anchor, a positive and optional negative columns, got " + std::to_string(e.size()) + " column(s)");
  const int64_t batch = e[0].size(0);
  const int64_t columns = static_cast<int64_t>(e.size());
  if (!guide.defined() || guide.dim() != 3 || guide.size(0) != batch || guide.size(1) != columns) {
    fail(ErrorCode::Input, "GISTEmbedLoss needs the guide model's embeddings of shape [" + std::to_string(batch) + ", " + std::to_string(columns) + ", dim], got " +
                               (guide.defined() ? shape_of(guide) : std::string("none")));
  }
  auto sim = [](const at::Tensor& a, const at::Tensor& b) { return at::cosine_similarity(a.unsqueeze(1), b.unsqueeze(0), -1, 1e-8); };
  auto g = [&](int64_t c) { return guide.select(1, c).to(e[0].device()); };
  const auto guided_ap = sim(g(0), g(1));
  const auto positive = guided_ap.diagonal().view({-1, 1});
  const auto bound = spec.margin_relative ? positive - positive.abs() * spec.margin : positive - spec.margin;
  auto filtered = [&](const at::Tensor& scores, const at::Tensor& guided, bool keep_positive) {
    auto drop = guided > bound;
    if (keep_positive) drop = drop & at::eye(batch, drop.options()).logical_not();
    return scores.masked_fill(drop, -INFINITY);
  };
  std::vector<at::Tensor> scores{filtered(sim(e[0], e[1]), guided_ap, true)};
  if (spec.contrast_anchors) scores.push_back(filtered(sim(e[0], e[0]), sim(g(0), g(0)), false));
  if (spec.contrast_positives) scores.push_back(filtered(sim(e[1], e[1]), sim(g(1), g(1)), false));
  for (int64_t c = 2; c < columns; ++c) scores.push_back(filtered(sim(e[0], e[c]), sim(g(0), g(c)), false));
  auto logits = at::cat(scores, 1) / spec.temperature;
  return at::cross_entropy_loss(logits, at::arange(batch, logits.options().dtype(at::kLong)));
}

// MegaBatchMarginLoss: per anchor, relu(positive margin - cos(anchor, its positive)) plus relu(cos(anchor, the
// most similar other positive) - negative margin), averaged over the anchors.
at::Tensor mega_batch_margin(const LossSpec& spec, const at::Tensor& anchors, const at::Tensor& positives) {
  auto scores = cos_sim_matrix(anchors, positives);
  const auto diagonal = at::eye(scores.size(0), scores.size(1), scores.options().dtype(at::kBool));
  auto positive = scores.diagonal();
  auto hardest = std::get<0>(scores.masked_fill(diagonal, -INFINITY).max(1));
  return (at::relu(spec.positive_margin - positive) + at::relu(hardest - spec.negative_margin)).mean();
}

void expect_columns(const std::vector<at::Tensor>& e, size_t n, const char* loss) {
  if (e.size() != n) {
    fail(ErrorCode::Input, std::string(loss) + " takes " + std::to_string(n) + " text columns, got " + std::to_string(e.size()));
  }
}

}  // namespace

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names = {"CosineSimilarityLoss",
                                                 "CoSENTLoss",
                                                 "AnglELoss",
                                                 "MultipleNegativesRankingLoss",
                                                 "MultipleNegativesSymmetricRankingLoss",
                                                 "SoftmaxLoss",
                                                 "ContrastiveLoss",
                                                 "OnlineContrastiveLoss",
                                                 "TripletLoss",
                                                 "BatchHardTripletLoss",
                                                 "MSELoss",
                                                 "MarginMSELoss",
                                                 "DistillKLDivLoss",
                                                 "GISTEmbedLoss",
                                                 "MegaBatchMarginLoss",
                                                 "CrossEncoder.BinaryCrossEntropyLoss",
                                                 "CrossEncoder.CrossEntropyLoss",
                                                 "CrossEncoder.MSELoss",
                                                 "CrossEncoder.MarginMSELoss",
                                                 "CrossEncoder.MultipleNegativesRankingLoss",
                                                 "CrossEncoder.ListNetLoss",
                                                 "CrossEncoder.LambdaLoss"};
  return names;
}

LossSpec LossSpec::parse(const std::string& kind) {
  LossSpec s;
  if (kind == "CosineSimilarityLoss") s.kind = LossKind::CosineSimilarity;
  else if (kind == "CoSENTLoss") s.kind = LossKind::CoSENT;
  else if (kind == "AnglELoss") s.kind = LossKind::AnglE;
  else if (kind == "MultipleNegativesRankingLoss") s.kind = LossKind::MultipleNegativesRanking;
  else if (kind == "MultipleNegativesSymmetricRankingLoss") s.kind = LossKind::MultipleNegativesSymmetricRanking;
  else if (kind == "SoftmaxLoss") s.kind = LossKind::Softmax;
  else if (kind == "ContrastiveLoss") s.kind = LossKind::Contrastive;
  else if (kind == "OnlineContrastiveLoss") s.kind = LossKind::OnlineContrastive;
  else if (kind == "TripletLoss") s.kind = LossKind::Triplet;
  else if (kind == "BatchHardTripletLoss") s.kind = LossKind::BatchHardTriplet;
  else if (kind == "MSELoss") s.kind = LossKind::MSE;
  else if (kind == "MarginMSELoss") s.kind = LossKind::MarginMSE;
  else if (kind == "DistillKLDivLoss") s.kind = LossKind::DistillKLDiv;
  else if (kind == "GISTEmbedLoss") s.kind = LossKind::GISTEmbed;
  else if (kind == "MegaBatchMarginLoss") s.kind = LossKind::MegaBatchMargin;
  else if (kind == "CrossEncoder.BinaryCrossEntropyLoss") s.kind = LossKind::CrossEncoderBinaryCrossEntropy;
  else if (kind == "CrossEncoder.CrossEntropyLoss") s.kind = LossKind::CrossEncoderCrossEntropy;
  else if (kind == "CrossEncoder.MSELoss") s.kind = LossKind::CrossEncoderMSE;
  else if (kind == "CrossEncoder.MarginMSELoss") s.kind = LossKind::CrossEncoderMarginMSE;
  else if (kind == "CrossEncoder.MultipleNegativesRankingLoss") s.kind = LossKind::CrossEncoderMultipleNegativesRanking;
  else if (kind == "CrossEncoder.ListNetLoss") s.kind = LossKind::CrossEncoderListNet;
  else if (kind == "CrossEncoder.LambdaLoss") s.kind = LossKind::CrossEncoderLambda;
  else fail(ErrorCode::Input, "unknown loss '" + kind + "'");
  // sentence-transformers' distillation losses score pairs by dot product unless told otherwise.
  if (s.kind == LossKind::MarginMSE || s.kind == LossKind::DistillKLDiv) s.similarity = SimilarityFn::Dot;
  return s;
}

int64_t LossSpec::columns() const {
  switch (kind) {
    case LossKind::MultipleNegativesRanking:
    case LossKind::GISTEmbed: return -1;
    case LossKind::MSE: return -2;
    case LossKind::MarginMSE:
    case LossKind::DistillKLDiv: return -3;
    case LossKind::Triplet: return 3;
    case LossKind::BatchHardTriplet: return 1;
    case LossKind::CrossEncoderBinaryCrossEntropy:
    case LossKind::CrossEncoderCrossEntropy:
    case LossKind::CrossEncoderMSE:
    case LossKind::CrossEncoderListNet:
    case LossKind::CrossEncoderLambda: return 1;
    case LossKind::CrossEncoderMarginMSE:
    case LossKind::CrossEncoderMultipleNegativesRanking: return -1;
    default: return 2;
  }
}

at::Tensor base_loss(const LossSpec& spec, const std::vector<at::Tensor>& e, const at::Tensor& labels, nn::Linear* head) {
  switch (spec.kind) {
    case LossKind::CosineSimilarity: {
      expect_columns(e, 2, "CosineSimilarityLoss");
      auto out = torch_cosine_similarity(e[0], e[1]);
      if (spec.cos_score_transformation == "relu") out = at::relu(out);
      auto target = labels.reshape({-1});
      return spec.loss_fct == "l1" ? at::l1_loss(out, target) : at::mse_loss(out, target);
    }
    case LossKind::CoSENT:
      expect_columns(e, 2, "CoSENTLoss");
      return cosent(pairwise_cos(e[0], e[1]), labels, spec.scale);
    case LossKind::AnglE:
      expect_columns(e, 2, "AnglELoss");
      return cosent(pairwise_angle(e[0], e[1]), labels, spec.scale);
    case LossKind::MultipleNegativesRanking: {
      if (e.size() < 2) fail(ErrorCode::Input, "MultipleNegativesRankingLoss takes 2 or more text columns");
      auto candidates = at::cat(std::vector<at::Tensor>(e.begin() + 1, e.end()), 0);
      auto scores = similarity_matrix(spec.similarity, e[0], candidates) * spec.scale;
      auto target = at::arange(e[0].size(0), scores.options().dtype(at::kLong));
      return at::cross_entropy_loss(scores, target);
    }
    case LossKind::MultipleNegativesSymmetricRanking: {
      if (e.size() < 2) fail(ErrorCode::Input, "MultipleNegativesSymmetricRankingLoss takes 2 or more text columns");
      const int64_t batch = e[0].size(0);
      auto candidates = at::cat(std::vector<at::Tensor>(e.begin() + 1, e.end()), 0);
      auto forward = similarity_matrix(spec.similarity, e[0], candidates) * spec.scale;
      auto backward = forward.narrow(1, 0, batch).t();
      auto target = at::arange(batch, forward.options().dtype(at::kLong));
      return (at::cross_entropy_loss(forward, target) + at::cross_entropy_loss(backward, target)) / 2;
    }
    case LossKind::Softmax: {
      expect_columns(e, 2, "SoftmaxLoss");
      if (head == nullptr) fail(ErrorCode::Native, "SoftmaxLoss has no classifier");
      std::vector<at::Tensor> parts;
      if (spec.concat_rep) {
        parts.push_back(e[0]);
        parts.push_back(e[1]);
      }
      if (spec.concat_diff) parts.push_back((e[0] - e[1]).abs());
      if (spec.concat_mul) parts.push_back(e[0] * e[1]);
      return at::cross_entropy_loss(at::linear(at::cat(parts, 1), head->weight, head->bias), labels.reshape({-1}).to(at::kLong));
    }
    case LossKind::Contrastive: {
      expect_columns(e, 2, "ContrastiveLoss");
      auto d = pair_distance(spec.distance, e[0], e[1]);
      auto y = labels.reshape({-1});
      auto losses = 0.5 * (y * d.pow(2) + (1 - y) * at::relu(spec.margin - d).pow(2));
      return spec.size_average ? losses.mean() : losses.sum();
    }
    case LossKind::OnlineContrastive: {
      expect_columns(e, 2, "OnlineContrastiveLoss");
      auto d = pair_distance(spec.distance, e[0], e[1]);
      auto y = labels.reshape({-1});
      auto negs = d.masked_select(y == 0);
      auto poss = d.masked_select(y == 1);
      // Hard pairs only: negatives closer than the farthest positive, positives farther than the closest negative.
      auto neg_bound = poss.numel() > 1 ? poss.max() : negs.mean();
      auto pos_bound = negs.numel() > 1 ? negs.min() : poss.mean();
      auto negative_pairs = negs.masked_select(negs < neg_bound);
      auto positive_pairs = poss.masked_select(poss > pos_bound);
      return positive_pairs.pow(2).sum() + at::relu(spec.margin - negative_pairs).pow(2).sum();
    }
    case LossKind::Triplet: {
      expect_columns(e, 3, "TripletLoss");
      auto pos = pair_distance(spec.distance, e[0], e[1]);
      auto neg = pair_distance(spec.distance, e[0], e[2]);
      return at::relu(pos - neg + spec.margin).mean();
    }
    case LossKind::BatchHardTriplet: {
      expect_columns(e, 1, "BatchHardTripletLoss");
      auto y = labels.reshape({-1});
      auto dist = spec.distance == DistanceFn::Cosine ? 1 - cos_sim_matrix(e[0], e[0]) : euclidean_distance_matrix(e[0]);
      const int64_t n = y.size(0);
      auto same = y.unsqueeze(0) == y.unsqueeze(1);
      auto not_self = at::eye(n, same.options()).logical_not();
      auto pos_mask = (same & not_self).to(dist.scalar_type());
      auto hardest_pos = std::get<0>((pos_mask * dist).max(1, true));
      auto neg_mask = same.logical_not().to(dist.scalar_type());
      auto max_dist = std::get<0>(dist.max(1, true));
      auto hardest_neg = std::get<0>((dist + max_dist * (1.0 - neg_mask)).min(1, true));
      return at::relu(hardest_pos - hardest_neg + spec.margin).mean();
    }
    case LossKind::MSE: {
      if (e.empty()) fail(ErrorCode::Input, "MSELoss takes at least one text column");
      auto all = at::cat(e, 0);
      return at::mse_loss(all, labels.repeat({static_cast<int64_t>(e.size()), 1}));
    }
    case LossKind::MarginMSE: {
      if (e.size() < 3) fail(ErrorCode::Input, "MarginMSELoss takes a query, a positive and one or more negative columns, got " + std::to_string(e.size()) + " column(s)");
      const int64_t negatives = static_cast<int64_t>(e.size()) - 2;
      auto target = margin_targets(labels, e[0].size(0), negatives);
      auto scores = candidate_scores(spec.similarity, e);
      auto margins = scores.narrow(1, 0, 1) - scores.narrow(1, 1, negatives);
      return at::mse_loss(margins, target);
    }
    case LossKind::DistillKLDiv: {
      // A softmax over a single candidate is constant: at least a positive and one negative.
      if (e.size() < 3) fail(ErrorCode::Input, "DistillKLDivLoss takes a query and at least two candidate columns (positive, negative...), got " + std::to_string(e.size()) + " column(s)");
      const int64_t batch = e[0].size(0);
      check_teacher_scores(labels, batch, static_cast<int64_t>(e.size()) - 1);
      auto student = at::log_softmax(candidate_scores(spec.similarity, e) / spec.student_temperature, 1);
      auto teacher = at::softmax(labels / spec.teacher_temperature, 1);
      // KL divergence averaged over rows, times the student temperature squared so gradients keep their size.
      auto kl = at::kl_div(student, teacher, at::Reduction::Sum) / static_cast<double>(batch);
      return kl * (spec.student_temperature * spec.student_temperature);
    }
    case LossKind::GISTEmbed:
      return gist_embed(spec, e, labels);
    case LossKind::MegaBatchMargin:
      if (e.size() != 2) {
        fail(ErrorCode::Input, "MegaBatchMarginLoss takes exactly 2 text columns (anchor, positive): it mines each anchor's negative among the other positives, got " +
                                   std::to_string(e.size()));
      }
      if (e[0].size(0) < 2) fail(ErrorCode::Input, "MegaBatchMarginLoss needs batches of at least 2 rows: each anchor's negative is another row's positive");
      return mega_batch_margin(spec, e[0], e[1]);
    case LossKind::CrossEncoderBinaryCrossEntropy: {
      expect_columns(e, 1, "BinaryCrossEntropyLoss");
      auto x = activate(spec.activation, single_logits(e[0], "BinaryCrossEntropyLoss"));
      const auto pos_weight = spec.pos_weight > 0 ? at::full({}, spec.pos_weight, x.options()) : at::Tensor();
      return at::binary_cross_entropy_with_logits(x, labels.reshape({-1}), {}, pos_weight);
    }
    case LossKind::CrossEncoderCrossEntropy:
      expect_columns(e, 1, "CrossEntropyLoss");
      return at::cross_entropy_loss(activate(spec.activation, e[0]), labels.reshape({-1}).to(at::kLong));
    case LossKind::CrossEncoderMSE:
      expect_columns(e, 1, "MSELoss");
      return at::mse_loss(activate(spec.activation, single_logits(e[0], "MSELoss")), labels.reshape({-1}));
    case LossKind::CrossEncoderMarginMSE: {
      if (e.size() < 2) fail(ErrorCode::Input, "MarginMSELoss takes a (query, positive) column and one or more (query, negative) columns");
      auto positive = activate(spec.activation, single_logits(e[0], "MarginMSELoss"));
      std::vector<at::Tensor> negatives;
      for (size_t i = 1; i < e.size(); ++i) negatives.push_back(activate(spec.activation, single_logits(e[i], "MarginMSELoss")));
      auto margins = positive.unsqueeze(1) - at::stack(negatives, 1);
      return at::mse_loss(margins, labels.reshape(margins.sizes()));
    }
    case LossKind::CrossEncoderMultipleNegativesRanking: {
      // Column 0 scores each query with its positive, the others with its negatives: the positive must win.
      if (e.size() < 2) fail(ErrorCode::Input, "MultipleNegativesRankingLoss takes a (query, positive) column and one or more (query, negative) columns");
      std::vector<at::Tensor> columns;
      for (const auto& c : e) columns.push_back(single_logits(c, "MultipleNegativesRankingLoss"));
      auto scores = activate(spec.activation, at::stack(columns, 1));
      if (spec.scale != 0) scores = scores * spec.scale;
      return at::cross_entropy_loss(scores, at::zeros({scores.size(0)}, scores.options().dtype(at::kLong)));
    }
    case LossKind::CrossEncoderListNet: {
      expect_columns(e, 1, "ListNetLoss");
      auto scores = logits_matrix(activate(spec.activation, single_logits(e[0], "ListNetLoss")), labels, "ListNetLoss");
      return at::cross_entropy_loss(scores, labels.softmax(1));
    }
    case LossKind::CrossEncoderLambda: {
      expect_columns(e, 1, "LambdaLoss");
      auto scores = logits_matrix(activate(spec.activation, single_logits(e[0], "LambdaLoss")), labels, "LambdaLoss");
      return lambda_loss(spec, scores, labels);
    }
  }
  fail(ErrorCode::Native, "unhandled loss");
}

namespace {

// The wrapped loss: base_loss, or Matryoshka's sum over embedding truncations.
at::Tensor objective_loss(const LossSpec& spec, const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, nn::Linear* head) {
  if (spec.matryoshka_dims.empty()) return base_loss(spec, embeddings, labels, head);
  const int64_t full = embeddings.at(0).size(1);
  std::vector<size_t> chosen;
  for (size_t i = 0; i < spec.matryoshka_dims.size(); ++i) chosen.push_back(i);
  if (spec.matryoshka_dims_per_step > 0 && spec.matryoshka_dims_per_step < static_cast<int64_t>(chosen.size())) {
    // A random subset of the dimensions each step, in their listed order.
    auto perm = at::randperm(static_cast<int64_t>(chosen.size()), at::kLong);
    std::vector<size_t> subset;
    for (int64_t i = 0; i < spec.matryoshka_dims_per_step; ++i) subset.push_back(static_cast<size_t>(perm[i].item<int64_t>()));
    std::sort(subset.begin(), subset.end());
    chosen = subset;
  }
  at::Tensor total;
  for (size_t i : chosen) {
    const int64_t dim = spec.matryoshka_dims[i];
    std::vector<at::Tensor> cut;
    // Truncated, then scaled back to unit length, as sentence-transformers' Matryoshka forward does.
    for (const auto& e : embeddings) cut.push_back(l2_normalize(e.narrow(1, 0, std::min(dim, e.size(1)))));
    at::Tensor dim_labels = labels;
    if (labels.defined() && labels.dim() == 2 && labels.size(1) == full) dim_labels = labels.narrow(1, 0, dim);
    auto l = base_loss(spec, cut, dim_labels, head) * spec.matryoshka_weights.at(i);
    total = total.defined() ? total + l : l;
  }
  return total;
}

}  // namespace

at::Tensor flops_loss(const at::Tensor& embeddings, std::optional<double> threshold) {
  at::Tensor e = embeddings;
  if (threshold) {
    // The mask is a count, not a function the gradient passes through.
    const auto active = (e.detach() != 0).sum(1);
    e = e * (active > *threshold).to(e.scalar_type()).unsqueeze(1);
  }
  return e.mean(0).pow(2).sum();
}

at::Tensor adaptive_layer_loss(const LossSpec& spec, const std::vector<at::Tensor>& last,
                               const std::vector<std::pair<int64_t, std::vector<at::Tensor>>>& prior, const at::Tensor& labels, nn::Linear* head,
                               std::vector<LossTerm>* terms) {
  const AdaptiveLayers& a = spec.adaptive.value();
  auto loss = compute_loss(spec, last, labels, head, terms) * a.last_layer_weight;
  at::Tensor target;
  if (a.kl_temperature > 0) target = at::softmax(at::cat(last, 0) / a.kl_temperature, -1).detach();
  for (const auto& [layer, embeddings] : prior) {
    const double i = static_cast<double>(layer);
    const double weight = a.weighting == LayerWeighting::Log ? 1.0 / (1.0 + std::log(1.0 + i)) : a.weighting == LayerWeighting::Linear ? 1.0 / (1.0 + i) : 1.0;
    loss = loss + compute_loss(spec, embeddings, labels, head, nullptr) * weight / static_cast<double>(prior.size()) * a.prior_layers_weight;
    if (a.kl_temperature > 0) {
      const auto input = at::log_softmax(at::cat(embeddings, 0) / a.kl_temperature, -1);
      // kl_div's "batchmean": the sum over the rows of every column, divided by their number.
      const auto kl = at::kl_div(input, target, at::Reduction::Sum) / static_cast<double>(input.size(0));
      loss = loss + kl * a.kl_temperature * a.kl_div_weight;
    }
  }
  return loss;
}

at::Tensor compute_loss(const LossSpec& spec, const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, nn::Linear* head,
                        std::vector<LossTerm>* terms) {
  auto loss = objective_loss(spec, embeddings, labels, head);
  if (!spec.splade) return loss;
  const SpladeRegularizers& r = *spec.splade;
  if (embeddings.empty() || (!r.document_only && embeddings.size() < 2)) {
    fail(ErrorCode::Input, "SpladeLoss needs a query column and at least one document column (or useDocumentRegularizerOnly)");
  }
  std::vector<at::Tensor> documents(embeddings.begin() + (r.document_only ? 0 : 1), embeddings.end());
  auto document = flops_loss(at::cat(documents, 0), r.document_threshold) * r.weights.document;
  at::Tensor query;
  if (!r.document_only && r.weights.query) query = flops_loss(embeddings[0], r.query_threshold) * *r.weights.query;
  if (terms) {
    terms->push_back({"base_loss", loss.item<double>()});
    terms->push_back({"document_regularizer_loss", document.item<double>()});
    if (query.defined()) terms->push_back({"query_regularizer_loss", query.item<double>()});
  }
  loss = loss + document;
  return query.defined() ? loss + query : loss;
}

}  // namespace sbert
