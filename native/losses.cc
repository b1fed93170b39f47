#include "losses.h"

#include <ATen/ATen.h>

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
                                                 "MSELoss"};
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
  else fail(ErrorCode::Input, "unknown loss '" + kind + "'");
  return s;
}

int64_t LossSpec::columns() const {
  switch (kind) {
    case LossKind::MultipleNegativesRanking: return -1;
    case LossKind::MSE: return -2;
    case LossKind::Triplet: return 3;
    case LossKind::BatchHardTriplet: return 1;
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
  }
  fail(ErrorCode::Native, "unhandled loss");
}

at::Tensor compute_loss(const LossSpec& spec, const std::vector<at::Tensor>& embeddings, const at::Tensor& labels, nn::Linear* head) {
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

}  // namespace sbert
