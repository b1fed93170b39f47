// One training step natively: forward through the pipeline in train mode for every text column, the loss,
// backward, gradient clipping, AdamW with a warmup schedule. One call per batch from TypeScript.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "distributed.h"
#include "kernels/kernels.h"
#include "losses.h"
#include "modules.h"

namespace sbert {

// The shape options of transformers' schedules (lr_scheduler_kwargs); rates are fractions of the base lr.
struct ScheduleOptions {
  double num_cycles = -1.0;  // < 0: the schedule's default (cosine 0.5 cycles, hard restarts 1)
  double power = 1.0;        // polynomial
  double end_rate = 0.0;     // polynomial: lr_end / lr
  double min_lr_rate = 0.0;  // cosine with a floor: min_lr / lr
  int64_t timescale = 0;     // inverse square root; 0: the warmup steps, or 10000 without warmup
};

struct OptimizerConfig {
  double lr = 2e-5;
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  std::string scheduler = "warmuplinear";
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  ScheduleOptions schedule;
  bool use_amp = false;  // bf16 autocast on CPU, fp16 on CUDA
  bool gradient_checkpointing = false;  // layers recompute their activations in backward (ops/checkpoint.h)
};

// The factor of the base learning rate at `step` (0-based optimizer steps taken so far), as transformers'
// schedules: constantlr, warmupconstant, warmuplinear, warmupcosine, warmupcosinewithhardrestarts, polynomial,
// inversesqrt, warmupcosinewithminlr.
double schedule_factor(const std::string& scheduler, int64_t step, int64_t warmup, int64_t total, const ScheduleOptions& options = {});
void check_scheduler(const std::string& scheduler);
const std::vector<std::string>& scheduler_names();

// Training as one rank of several (distributed data parallel): gradients are averaged over the ranks before every
// optimizer step, in buckets of `bucket_bytes`; losses that gather across devices see every rank's candidates.
struct DataParallel {
  std::shared_ptr<dist::Group> group;  // null: one process
  int64_t bucket_bytes = int64_t{25} << 20;  // torch DDP's bucket_cap_mb default, 25
};

struct Objective {
  LossSpec loss;
  std::shared_ptr<nn::Linear> head;  // SoftmaxLoss's classifier, trained with the model
};

class Trainer {
 public:
  // `seed` seeds the trainer's own generator, which training's dropout draws from (two trainers never share one).
  Trainer(ModuleList modules, std::vector<Objective> objectives, OptimizerConfig config, uint64_t seed, DataParallel parallel = {});

  struct StepResult {
    double loss;
    double lr;
    int64_t step;       // steps taken after this one
    double grad_norm;   // the gradients' total norm before clipping
  };
  // A batch's loss and, for losses made of several, its named parts.
  struct LossValue {
    double loss;
    std::vector<LossTerm> terms;
  };
  // labels: float [B] or [B, D], or undefined. Serialised: one call at a time per trainer.
  // One batch, one update: accumulate (with any gradients left over cleared first), then optimizer_step.
  StepResult step(size_t objective, std::vector<TokenBatch>& columns, const at::Tensor& labels);
  // Forward and backward of one batch: its gradients, times `scale`, are added to those accumulated since the last
  // optimizer step (gradient accumulation: scale 1/n over n batches, as transformers' Trainer scales the loss).
  // Returns the batch's loss, unscaled. A loss that is not finite discards every accumulated gradient.
  // `weights`: a SpladeLoss objective's regularizer weights for this batch (else those it was made with).
  // `last_of_step`: no batch follows before optimizer_step, so a distributed run averages the gradients while
  // this batch's backward pass runs (with one backward pass per batch; the gradient cache's run at the step).
  LossValue accumulate(size_t objective, std::vector<TokenBatch>& columns, const at::Tensor& labels, double scale,
                       const std::optional<RegularizerWeights>& weights = std::nullopt, bool last_of_step = false);
  // Seconds spent averaging gradients over the ranks without overlapping computation (0 in one process).
  double communication_seconds() const { return parallel_.group ? parallel_.group->communication_seconds() : 0.0; }
  // Clipping, AdamW at the schedule's learning rate and the step count over the accumulated gradients, which are
  // then cleared. `loss` of the result is 0: the batches' losses came from accumulate.
  StepResult optimizer_step();
  // The loss of one batch in inference mode (no dropout, no gradients): evaluation loss.
  LossValue eval_loss(size_t objective, std::vector<TokenBatch>& columns, const at::Tensor& labels,
                      const std::optional<RegularizerWeights>& weights = std::nullopt);

  double lr_at(int64_t step) const;
  int64_t step_count() const { return step_count_; }
  // AdamW moments (`exp_avg.<key>`, `exp_avg_sq.<key>`) and the loss heads' weights (`head<i>.<key>`).
  NamedTensors state() const;
  void load_state(const NamedTensors& tensors, int64_t step_count);
  // The generator's state (libtorch's CPU generator state bytes), saved in checkpoints.
  at::Tensor rng_state();
  void set_rng_state(const at::Tensor& state);

 private:
  struct Param {
    std::string name;
    at::Tensor tensor;
    bool decay;
    at::Tensor exp_avg, exp_avg_sq;
    int64_t steps = 0;  // updates applied to this parameter (its AdamW "step")
  };
  at::Tensor embed(const ops::Context& ctx, TokenBatch& column, int64_t row = 0, int64_t count = -1);
  at::Tensor cached_step(const ops::Context& ctx, const LossSpec& spec, nn::Linear* head, std::vector<TokenBatch>& columns, const at::Tensor& labels,
                         double scale, std::vector<LossTerm>* terms);
  // AdaptiveLayerLoss: the columns' embeddings from the last layer and from the earlier hidden states it picks
  // (every one, or layers_per_step drawn from the trainer's generator), then its loss.
  at::Tensor adaptive_loss(const ops::Context& ctx, const LossSpec& spec, nn::Linear* head, std::vector<TokenBatch>& columns, const at::Tensor& labels,
                           std::vector<LossTerm>* terms);
  // The objective's loss spec, with `weights` in place of a SpladeLoss's own.
  LossSpec spec_of(size_t objective, const std::optional<RegularizerWeights>& weights) const;
  LossValue accumulate_locked(size_t objective, std::vector<TokenBatch>& columns, const at::Tensor& labels, double scale,
                              const std::optional<RegularizerWeights>& weights, bool last_of_step);
  // Backward of `loss`, in a distributed run with the gradients' averaging started as their buckets complete.
  void backward(const at::Tensor& loss, bool last_of_step);
  std::vector<at::Tensor> parameter_tensors() const;
  // gather_across_devices in a distributed run: the candidate columns (all but the first) hold every rank's rows,
  // this rank's first, so that each anchor's positive keeps its index. Otherwise `embeddings` as they are.
  std::vector<at::Tensor> with_gathered_candidates(const LossSpec& spec, std::vector<at::Tensor> embeddings);
  StepResult optimizer_step_locked();
  [[noreturn]] void refuse(const std::string& why);
  // Clips to max_grad_norm (when > 0); false when the gradients' norm is not finite. `norm`: the norm before.
  bool clip_gradients(double& norm);
  void adamw(double lr, kernels::Isa isa);
  // The update applied only if every updated weight is finite; false (nothing changed) otherwise.
  bool adamw_checked(double lr);

  ModuleList modules_;
  std::vector<Objective> objectives_;
  OptimizerConfig config_;
  DataParallel parallel_;
  std::vector<Param> params_;
  int64_t step_count_ = 0;
  int64_t pending_ = 0;  // batches accumulated since the last optimizer step
  at::Generator generator_;
  std::mutex mutex_;
};

}  // namespace sbert
