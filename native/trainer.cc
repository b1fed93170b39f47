#include "trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "errors.h"
#include "kernels/kernels.h"
#include "runtime/settings.h"

namespace sbert {

namespace {

// libtorch 2.4 and later switch autocast per device type; earlier ones have one function per type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(bool cuda) { return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU); }
void set_autocast(bool cuda, bool on) { at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on); }
void set_cpu_autocast_dtype(at::ScalarType t) { at::autocast::set_autocast_dtype(at::kCPU, t); }
#else
bool autocast_enabled(bool cuda) { return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
void set_autocast(bool cuda, bool on) { cuda ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on); }
void set_cpu_autocast_dtype(at::ScalarType t) { at::autocast::set_autocast_cpu_dtype(t); }
#endif

// Mixed precision for the forward pass only; the loss is computed in float32.
class AutocastGuard {
 public:
  AutocastGuard(bool on, const at::Device& device) : on_(on), cuda_(device.is_cuda()) {
    if (!on_) return;
    prev_ = autocast_enabled(cuda_);
    set_autocast(cuda_, true);
    if (!cuda_) set_cpu_autocast_dtype(at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast(cuda_, prev_);
  }

 private:
  bool on_, cuda_, prev_ = false;
};

}  // namespace

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = {"constantlr",   "warmupconstant", "warmuplinear",         "warmupcosine", "warmupcosinewithhardrestarts",
                                                 "polynomial",   "inversesqrt",    "warmupcosinewithminlr"};
  return names;
}

void check_scheduler(const std::string& s) {
  const auto& names = scheduler_names();
  if (std::find(names.begin(), names.end(), s) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    fail(ErrorCode::Input, "unknown scheduler '" + s + "' (expected " + list + ")");
  }
}

double schedule_factor(const std::string& s, int64_t step, int64_t warmup, int64_t total, const ScheduleOptions& o) {
  const double st = static_cast<double>(step);
  if (s == "constantlr") return 1.0;
  if (step < warmup) return st / static_cast<double>(std::max<int64_t>(1, warmup));
  if (s == "warmupconstant") return 1.0;
  const double progress = (st - static_cast<double>(warmup)) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  if (s == "warmuplinear") return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
  if (s == "warmupcosine" || s == "warmupcosinewithminlr") {
    const double cycles = o.num_cycles < 0 ? 0.5 : o.num_cycles;
    const double f = 0.5 * (1.0 + std::cos(M_PI * cycles * 2.0 * progress));
    return std::max(0.0, s == "warmupcosine" ? f : f * (1 - o.min_lr_rate) + o.min_lr_rate);
  }
  if (s == "warmupcosinewithhardrestarts") {
    if (progress >= 1.0) return 0.0;
    const double cycles = o.num_cycles < 0 ? 1.0 : o.num_cycles;
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * std::fmod(cycles * progress, 1.0))));
  }
  if (s == "polynomial") {
    if (step > total) return o.end_rate;
    const double remaining = 1.0 - (st - static_cast<double>(warmup)) / static_cast<double>(total - warmup);
    return (1.0 - o.end_rate) * std::pow(remaining, o.power) + o.end_rate;
  }
  if (s == "inversesqrt") {
    const double timescale = static_cast<double>(o.timescale > 0 ? o.timescale : (warmup > 0 ? warmup : 10000));
    return 1.0 / std::sqrt((st + timescale - static_cast<double>(warmup)) / timescale);
  }
  check_scheduler(s);
  return 1.0;
}

Trainer::Trainer(ModuleList modules, std::vector<Objective> objectives, OptimizerConfig config, uint64_t seed, DataParallel parallel)
    : modules_(std::move(modules)), objectives_(std::move(objectives)), config_(std::move(config)), parallel_(std::move(parallel)), generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  check_scheduler(config_.scheduler);
  if (modules_.empty()) fail(ErrorCode::Input, "the model has no modules");
  // Parameters that do not learn (DistilBERT's sinusoidal positions) are left out; biases and norm layers are not
  // decayed, as sentence-transformers' trainer groups them.
  // A tensor that two modules share (a masked-LM decoder tied to the word embeddings) is one parameter, under its
  // first name, as torch's named_parameters gives it.
  std::unordered_set<const void*> seen;
  auto add = [&](const std::string& prefix, const torch::nn::Module& m) {
    const auto no_decay = nn::no_decay_parameters(m);
    for (const auto& p : m.named_parameters(true)) {
      if (!p.value().requires_grad()) continue;
      if (!seen.insert(p.value().unsafeGetTensorImpl()).second) continue;
      params_.push_back({prefix + p.key(), p.value(), no_decay.count(p.key()) == 0, {}, {}});
    }
  };
  for (size_t i = 0; i < modules_.size(); ++i) add(std::to_string(i) + ".", *modules_[i]);
  for (size_t i = 0; i < objectives_.size(); ++i) {
    if (objectives_[i].head) add("head" + std::to_string(i) + ".", *objectives_[i].head);
  }
}

double Trainer::lr_at(int64_t step) const {
  return config_.lr * schedule_factor(config_.scheduler, step, config_.warmup_steps, config_.total_steps, config_.schedule);
}

at::Tensor Trainer::embed(const ops::Context& ctx, TokenBatch& column, int64_t row, int64_t count) {
  const at::Device device = modules_.front()->device();
  Features f = to_features(column, device, row, count);
  {
    AutocastGuard autocast(config_.use_amp, device);
    run_pipeline(ctx, modules_, f);
  }
  if (!f.sentence_embedding.defined()) fail(ErrorCode::Input, "the model's modules produce no sentence embedding (is Pooling missing?)");
  return f.sentence_embedding.to(at::kFloat);
}

// The gradient cache: embed every column in mini-batches without a graph, take the loss's gradient with respect
// to the embeddings, then embed each mini-batch again with a graph (replaying its dropout) and push that
// gradient through it. Same gradients as the plain loss, with a mini-batch's activations in memory.
at::Tensor Trainer::cached_step(const ops::Context& ctx, const LossSpec& spec, nn::Linear* head, std::vector<TokenBatch>& columns, const at::Tensor& labels,
                                double scale, std::vector<LossTerm>* terms) {
  const int64_t mb = spec.mini_batch_size;
  auto& gen = generator_;
  std::vector<at::Tensor> reps;
  std::vector<std::vector<at::Tensor>> rng_states(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    std::vector<at::Tensor> parts;
    for (int64_t row = 0; row < columns[c].batch_size; row += mb) {
      {
        std::lock_guard<std::mutex> lock(gen.mutex());
        rng_states[c].push_back(gen.get_state());
      }
      c10::NoGradGuard no_grad;
      parts.push_back(embed(ctx, columns[c], row, std::min(mb, columns[c].batch_size - row)));
    }
    reps.push_back(at::cat(parts, 0).detach().requires_grad_(true));
  }
  at::Tensor after_first_pass;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    after_first_pass = gen.get_state();
  }
  // Gathered candidates hand each rep its gradient summed over the ranks (gather_local_first's backward).
  auto loss = compute_loss(spec, with_gathered_candidates(spec, reps), labels, head, terms);
  (scale == 1.0 ? loss : loss * scale).backward();
  for (size_t c = 0; c < columns.size(); ++c) {
    const auto grad = reps[c].grad();
    if (!grad.defined()) continue;  // a column the loss does not use
    size_t k = 0;
    for (int64_t row = 0; row < columns[c].batch_size; row += mb, ++k) {
      {
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(rng_states[c][k]);
      }
      const int64_t count = std::min(mb, columns[c].batch_size - row);
      auto e = embed(ctx, columns[c], row, count);
      e.backward(grad.narrow(0, row, count));
    }
  }
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(after_first_pass);
  }
  return loss.detach();
}

at::Tensor Trainer::adaptive_loss(const ops::Context& ctx, const LossSpec& spec, nn::Linear* head, std::vector<TokenBatch>& columns, const at::Tensor& labels,
                                  std::vector<LossTerm>* terms) {
  auto* transformer = dynamic_cast<TransformerModule*>(modules_.front().get());
  if (transformer == nullptr) fail(ErrorCode::Input, "AdaptiveLayerLoss needs a model whose first module is a Transformer");
  const at::Device device = modules_.front()->device();
  const ModuleList after(modules_.begin() + 1, modules_.end());
  AutocastGuard autocast(config_.use_amp, device);
  // Each column through the encoder once, keeping its hidden states; the modules after it run on each one used.
  std::vector<Features> features;
  std::vector<std::vector<at::Tensor>> hidden(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    Features f = to_features(columns[c], device, 0, -1);
    f.token_embeddings = transformer->encoder->forward(ctx, {f.input_ids, f.attention_mask, f.token_type_ids}, &hidden[c]);
    features.push_back(std::move(f));
  }
  auto pooled = [&](int64_t layer) {
    std::vector<at::Tensor> out;
    for (size_t c = 0; c < columns.size(); ++c) {
      Features f = features[c];
      if (layer >= 0) f.token_embeddings = hidden[c].at(static_cast<size_t>(layer));
      run_pipeline(ctx, after, f);
      if (!f.sentence_embedding.defined()) fail(ErrorCode::Input, "the model's modules produce no sentence embedding (is Pooling missing?)");
      out.push_back(f.sentence_embedding.to(at::kFloat));
    }
    return out;
  };
  const auto last = pooled(-1);
  // Hidden states: the embeddings' output, then each layer's; the last is the output itself.
  const int64_t earlier = static_cast<int64_t>(hidden.front().size()) - 1;
  std::vector<int64_t> layers;
  for (int64_t i = 0; i < earlier; ++i) layers.push_back(i);
  const int64_t n = spec.adaptive->layers_per_step;
  if (n > 0 && n < earlier) {
    const auto order = at::randperm(earlier, generator_, at::TensorOptions().dtype(at::kLong));
    layers.assign(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + n);
  }
  std::vector<std::pair<int64_t, std::vector<at::Tensor>>> prior;
  for (int64_t layer : layers) prior.emplace_back(layer, pooled(layer));
  return adaptive_layer_loss(spec, last, prior, labels, head, terms);
}

bool Trainer::clip_gradients(double& norm) {
  norm = 0;
  std::vector<at::Tensor> norms;
  for (auto& p : params_) {
    if (p.tensor.grad().defined()) norms.push_back(p.tensor.grad().norm(2));
  }
  if (norms.empty()) return true;
  // torch.nn.utils.clip_grad_norm_: the norm of the per-tensor norms, scale = max / (norm + 1e-6) capped at 1.
  auto total = at::stack(norms).norm(2);
  norm = total.item<double>();
  if (!std::isfinite(norm)) return false;
  if (config_.max_grad_norm <= 0) return true;
  auto scale = (config_.max_grad_norm / (total + 1e-6)).clamp_max(1.0);
  for (auto& p : params_) {
    if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(scale);
  }
  return true;
}

bool Trainer::adamw_checked(double lr) {
  // Every parameter's update is computed aside, and applied only when all of them are finite.
  c10::NoGradGuard no_grad;
  struct Update {
    Param* p;
    at::Tensor value, exp_avg, exp_avg_sq;
  };
  std::vector<Update> updates;
  for (auto& p : params_) {
    const at::Tensor& grad = p.tensor.grad();
    if (!grad.defined()) continue;
    const double step = static_cast<double>(p.steps + 1);
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(config_.beta2, step));
    const double step_size = lr / (1.0 - std::pow(config_.beta1, step));
    auto m = (p.exp_avg.defined() ? p.exp_avg * config_.beta1 : at::zeros_like(grad)) + grad * (1.0 - config_.beta1);
    auto v = (p.exp_avg_sq.defined() ? p.exp_avg_sq * config_.beta2 : at::zeros_like(grad)) + grad * grad * (1.0 - config_.beta2);
    auto value = p.decay && config_.weight_decay != 0 ? p.tensor * (1.0 - lr * config_.weight_decay) : p.tensor.clone();
    value.addcdiv_(m, (v.sqrt() / bias2_sqrt).add_(config_.eps), -step_size);
    if (!value.isfinite().all().item<bool>()) return false;
    updates.push_back({&p, value, m, v});
  }
  for (auto& u : updates) {
    u.p->tensor.copy_(u.value);
    u.p->exp_avg = u.exp_avg;
    u.p->exp_avg_sq = u.exp_avg_sq;
    ++u.p->steps;
  }
  return true;
}

void Trainer::adamw(double lr, kernels::Isa isa) {
  c10::NoGradGuard no_grad;
  for (auto& p : params_) {
    const at::Tensor& grad = p.tensor.grad();
    if (!grad.defined()) continue;
    if (!p.exp_avg.defined()) {
      p.exp_avg = at::zeros_like(p.tensor);
      p.exp_avg_sq = at::zeros_like(p.tensor);
    }
    // As torch.optim.AdamW, each parameter counts its own steps for the bias corrections: one without a gradient
    // in a step (another objective's classifier head) is skipped and does not count it.
    const double step = static_cast<double>(++p.steps);
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(config_.beta2, step));
    const double step_size = lr / (1.0 - std::pow(config_.beta1, step));
    const bool decay = p.decay && config_.weight_decay != 0;
    const bool same_layout = grad.strides() == p.tensor.strides() && p.exp_avg.strides() == p.tensor.strides() &&
                             p.exp_avg_sq.strides() == p.tensor.strides();
    if (p.tensor.is_cpu() && grad.is_cpu() && p.tensor.scalar_type() == at::kFloat && grad.scalar_type() == at::kFloat &&
        p.tensor.is_non_overlapping_and_dense() && same_layout) {
      const kernels::AdamWStep s{decay,
                                 static_cast<float>(1.0 - lr * config_.weight_decay),
                                 static_cast<float>(config_.beta1),
                                 static_cast<float>(1.0 - config_.beta1),
                                 static_cast<float>(config_.beta2),
                                 static_cast<float>(1.0 - config_.beta2),
                                 static_cast<float>(bias2_sqrt),
                                 static_cast<float>(config_.eps),
                                 static_cast<float>(-step_size)};
      float* pp = p.tensor.data_ptr<float>();
      const float* gp = grad.data_ptr<float>();
      float* mp = p.exp_avg.data_ptr<float>();
      float* vp = p.exp_avg_sq.data_ptr<float>();
      // One pass, in chunks over libtorch's intra-op threads when there are several. Each element's arithmetic is
      // the same whoever runs it.
      at::parallel_for(0, p.tensor.numel(), int64_t{1} << 16, [&](int64_t begin, int64_t end) {
        kernels::adamw(isa, pp + begin, gp + begin, mp + begin, vp + begin, end - begin, s);
      });
      // Written through raw pointers: bump the version as an in-place op would, so that caches keyed on it
      // (the linear layers' prepared weights) see the change.
      p.tensor.unsafeGetTensorImpl()->bump_version();
    } else {
      if (decay) p.tensor.mul_(1.0 - lr * config_.weight_decay);
      p.exp_avg.mul_(config_.beta1).add_(grad, 1.0 - config_.beta1);
      p.exp_avg_sq.mul_(config_.beta2).addcmul_(grad, grad, 1.0 - config_.beta2);
      auto denom = (p.exp_avg_sq.sqrt() / bias2_sqrt).add_(config_.eps);
      p.tensor.addcdiv_(p.exp_avg, denom, -step_size);
    }
  }
}

void Trainer::refuse(const std::string& why) {
  // Nothing of a refused step stays behind in the gradients: the next batch starts from none.
  if (parallel_.group) parallel_.group->abandon();
  for (auto& p : params_) p.tensor.mutable_grad().reset();
  pending_ = 0;
  fail(ErrorCode::Native, why + "; the step was not applied");
}

LossSpec Trainer::spec_of(size_t objective_index, const std::optional<RegularizerWeights>& weights) const {
  if (objective_index >= objectives_.size()) fail(ErrorCode::Input, "objective index out of range");
  LossSpec spec = objectives_[objective_index].loss;
  if (weights) {
    if (!spec.splade) fail(ErrorCode::Input, "regularizer weights were given for an objective that is not a SpladeLoss");
    spec.splade->weights = *weights;
  }
  return spec;
}

std::vector<at::Tensor> Trainer::with_gathered_candidates(const LossSpec& spec, std::vector<at::Tensor> embeddings) {
  if (!spec.gather_across_devices || !parallel_.group) return embeddings;
  for (size_t i = 1; i < embeddings.size(); ++i) embeddings[i] = parallel_.group->gather_local_first(embeddings[i]);
  return embeddings;
}

std::vector<at::Tensor> Trainer::parameter_tensors() const {
  std::vector<at::Tensor> tensors;
  tensors.reserve(params_.size());
  for (const auto& p : params_) tensors.push_back(p.tensor);
  return tensors;
}

void Trainer::backward(const at::Tensor& loss, bool last_of_step) {
  dist::Group* group = parallel_.group.get();
  if (group == nullptr || !last_of_step) {
    loss.backward();
    return;
  }
  group->arm(parameter_tensors(), parallel_.bucket_bytes, /*overlap=*/true);
  try {
    loss.backward();
  } catch (...) {
    group->abandon();
    throw;
  }
  group->disarm();
}

Trainer::LossValue Trainer::accumulate_locked(size_t objective_index, std::vector<TokenBatch>& columns, const at::Tensor& labels, double scale,
                                              const std::optional<RegularizerWeights>& weights, bool last_of_step) {
  if (parallel_.group && parallel_.group->armed()) fail(ErrorCode::Input, "a batch was accumulated after the last batch of the step (call optimizerStep first)");
  const LossSpec spec = spec_of(objective_index, weights);
  if (!(scale > 0) || !std::isfinite(scale)) fail(ErrorCode::Input, "the loss scale must be a positive finite number");
  const Objective& objective = objectives_[objective_index];
  const at::Device device = modules_.front()->device();
  const at::Tensor labels_on_device = labels.defined() ? labels.to(device) : labels;

  ops::Context ctx = call_context(/*train=*/true, nullptr);
  ctx.generator = generator_;
  ctx.checkpoint = config_.gradient_checkpointing;

  if (spec.gather_across_devices && (spec.kind != LossKind::MultipleNegativesRanking || spec.adaptive)) {
    fail(ErrorCode::Input, "gatherAcrossDevices is taken by (Cached)MultipleNegativesRankingLoss alone, not inside AdaptiveLayerLoss");
  }
  at::Tensor loss;
  std::vector<LossTerm> terms;
  if (spec.adaptive) {
    loss = adaptive_loss(ctx, spec, objective.head.get(), columns, labels_on_device, &terms);
    backward(scale == 1.0 ? loss : loss * scale, last_of_step);
  } else if (spec.cached()) {
    loss = cached_step(ctx, spec, objective.head.get(), columns, labels_on_device, scale, &terms);
  } else {
    std::vector<at::Tensor> embeddings;
    for (auto& c : columns) embeddings.push_back(embed(ctx, c));
    loss = compute_loss(spec, with_gathered_candidates(spec, std::move(embeddings)), labels_on_device, objective.head.get(), &terms);
    backward(scale == 1.0 ? loss : loss * scale, last_of_step);
  }
  const double loss_value = loss.item<double>();
  // A step that would leave a weight NaN or infinite is not applied, and leaves nothing in the next step's gradients.
  if (!std::isfinite(loss_value)) refuse("the loss is not finite (" + std::to_string(loss_value) + ")");
  ++pending_;
  return {loss_value, std::move(terms)};
}

Trainer::StepResult Trainer::optimizer_step_locked() {
  if (pending_ == 0) fail(ErrorCode::Input, "an optimizer step needs at least one accumulated batch");
  const double lr = lr_at(step_count_);
  if (parallel_.group) {
    if (parallel_.group->armed()) parallel_.group->finish();
    else parallel_.group->average_gradients(parameter_tensors(), parallel_.bucket_bytes);
  }
  double grad_norm = 0;
  if (!clip_gradients(grad_norm)) refuse("the gradients are not finite");
  // With eps > 0 and finite gradients every update is finite (its denominator is at least eps); with eps = 0 a
  // weight whose gradient has been 0 so far would divide 0 by 0, so that case checks the whole update first.
  if (config_.eps > 0) adamw(lr, kernel_isa());
  else if (!adamw_checked(lr)) refuse("the AdamW update is not finite (eps is 0 and a weight's gradients have all been 0, giving 0 / 0)");
  for (auto& p : params_) p.tensor.mutable_grad().reset();
  pending_ = 0;
  ++step_count_;
  return {0.0, lr, step_count_, grad_norm};
}

Trainer::StepResult Trainer::step(size_t objective_index, std::vector<TokenBatch>& columns, const at::Tensor& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& p : params_) p.tensor.mutable_grad().reset();
  pending_ = 0;
  const double loss = accumulate_locked(objective_index, columns, labels, 1.0, std::nullopt, /*last_of_step=*/true).loss;
  StepResult r = optimizer_step_locked();
  r.loss = loss;
  return r;
}

Trainer::LossValue Trainer::accumulate(size_t objective_index, std::vector<TokenBatch>& columns, const at::Tensor& labels, double scale,
                                       const std::optional<RegularizerWeights>& weights, bool last_of_step) {
  std::lock_guard<std::mutex> lock(mutex_);
  return accumulate_locked(objective_index, columns, labels, scale, weights, last_of_step);
}

Trainer::LossValue Trainer::eval_loss(size_t objective_index, std::vector<TokenBatch>& columns, const at::Tensor& labels,
                                      const std::optional<RegularizerWeights>& weights) {
  std::lock_guard<std::mutex> lock(mutex_);
  const LossSpec spec = spec_of(objective_index, weights);
  const Objective& objective = objectives_[objective_index];
  const at::Device device = modules_.front()->device();
  c10::NoGradGuard no_grad;
  ops::Context ctx = call_context(/*train=*/false, nullptr);
  std::vector<LossTerm> terms;
  const at::Tensor labels_on_device = labels.defined() ? labels.to(device) : labels;
  if (spec.adaptive) return {adaptive_loss(ctx, spec, objective.head.get(), columns, labels_on_device, &terms).item<double>(), std::move(terms)};
  std::vector<at::Tensor> embeddings;
  for (auto& c : columns) embeddings.push_back(embed(ctx, c));
  const double loss = compute_loss(spec, embeddings, labels_on_device, objective.head.get(), &terms).item<double>();
  return {loss, std::move(terms)};
}

Trainer::StepResult Trainer::optimizer_step() {
  std::lock_guard<std::mutex> lock(mutex_);
  return optimizer_step_locked();
}

NamedTensors Trainer::state() const {
  NamedTensors out;
  for (const auto& p : params_) {
    if (p.exp_avg.defined()) {
      out.emplace_back("exp_avg." + p.name, p.exp_avg.to(at::kCPU).contiguous().clone());
      out.emplace_back("exp_avg_sq." + p.name, p.exp_avg_sq.to(at::kCPU).contiguous().clone());
      out.emplace_back("step." + p.name, at::full({1}, static_cast<double>(p.steps), at::kFloat));
    }
    if (p.name.rfind("head", 0) == 0) out.emplace_back(p.name, p.tensor.detach().to(at::kCPU).contiguous().clone());
  }
  return out;
}

at::Tensor Trainer::rng_state() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::lock_guard<std::mutex> gen_lock(generator_.mutex());
  return generator_.get_state().contiguous();
}

void Trainer::set_rng_state(const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::lock_guard<std::mutex> gen_lock(generator_.mutex());
  try {
    generator_.set_state(state);
  } catch (const c10::Error&) {
    fail(ErrorCode::Input, "the generator state has " + std::to_string(state.numel()) + " bytes, not a libtorch CPU generator's state");
  }
}

void Trainer::load_state(const NamedTensors& tensors, int64_t step_count) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::unordered_map<std::string, Param*> by_name;
  for (auto& p : params_) by_name[p.name] = &p;
  std::unordered_set<const Param*> stepped;
  c10::NoGradGuard no_grad;
  for (const auto& [key, t] : tensors) {
    std::string name = key;
    int which = 0;  // 0 weights, 1 exp_avg, 2 exp_avg_sq, 3 step
    if (key.rfind("step.", 0) == 0) {
      name = key.substr(5);
      which = 3;
    } else if (key.rfind("exp_avg_sq.", 0) == 0) {
      name = key.substr(11);
      which = 2;
    } else if (key.rfind("exp_avg.", 0) == 0) {
      name = key.substr(8);
      which = 1;
    }
    auto it = by_name.find(name);
    if (it == by_name.end()) fail(ErrorCode::Weights, "optimizer state has key '" + key + "' that the trainer does not have");
    Param& p = *it->second;
    if (which == 3) {
      if (t.numel() != 1) fail(ErrorCode::Weights, "optimizer state key '" + key + "' must hold one number, got shape " + shape_str(t.sizes()));
      const double steps = t.to(at::kDouble).item<double>();
      if (!(steps >= 0 && steps <= static_cast<double>(step_count) && steps == std::floor(steps))) {
        fail(ErrorCode::Weights, "optimizer state key '" + key + "' must be a whole number of steps from 0 to " + std::to_string(step_count) +
                                     ", got " + std::to_string(steps));
      }
      p.steps = static_cast<int64_t>(steps);
      stepped.insert(&p);
      continue;
    }
    if (!p.tensor.sizes().equals(t.sizes())) {
      fail(ErrorCode::Weights, "optimizer state key '" + key + "' has shape " + shape_str(t.sizes()) + " but the trainer expects " +
                                   shape_str(p.tensor.sizes()));
    }
    auto value = t.to(p.tensor.device(), at::kFloat);
    // The moments take the parameter's own memory layout, as when the trainer makes them: the fused AdamW pass
    // needs one layout for all three (a resumed run otherwise took libtorch's ops, with other rounding).
    auto like_param = [&] { return at::empty_like(p.tensor, at::MemoryFormat::Preserve).copy_(value); };
    if (which == 0) p.tensor.copy_(value);
    else if (which == 1) p.exp_avg = like_param();
    else p.exp_avg_sq = like_param();
  }
  // Saved before parameters counted their own steps: every one with moments had taken them all.
  for (auto& p : params_) {
    if (p.exp_avg.defined() && stepped.count(&p) == 0) p.steps = step_count;
  }
  step_count_ = step_count;
}

}  // namespace sbert
