// TrainerWrap: the JS handle of a native Trainer. step() and accumulate() are one AsyncWorker per batch,
// optimizerStep() one per update.
#pragma once

#include <napi.h>

#include <memory>

#include "trainer.h"

namespace sbert::js {

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TrainerWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<Trainer> get() const;
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Accumulate(const Napi::CallbackInfo& info);
  Napi::Value OptimizerStep(const Napi::CallbackInfo& info);
  Napi::Value EvalLoss(const Napi::CallbackInfo& info);
  Napi::Value StepCount(const Napi::CallbackInfo& info);
  Napi::Value CommunicationSeconds(const Napi::CallbackInfo& info);
  Napi::Value LrAt(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value LoadState(const Napi::CallbackInfo& info);
  Napi::Value RngState(const Napi::CallbackInfo& info);
  Napi::Value SetRngState(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  std::shared_ptr<Trainer> trainer_;
};

// Reads one loss spec object (see types/native.d.ts NativeLossSpec).
LossSpec read_loss_spec(const Napi::Object& obj);
// A float32 tensor from {data: Float32Array, shape}.
at::Tensor read_float_tensor(const Napi::Object& obj, const char* what);
// [{name, shape, data}] for named tensors (copies).

// createTrainer(modules, objectives, optimizer) -> TrainerWrap
Napi::Value CreateTrainer(const Napi::CallbackInfo& info);
// lossAndGrad(spec, embeddings, labels | null, head | null) -> {loss, grads, headGrads}: for gradient checks.
Napi::Value LossAndGrad(const Napi::CallbackInfo& info);
// dropout(x, p) -> x after training's dropout (bert.h train_dropout), for checks of the noise.
Napi::Value Dropout(const Napi::CallbackInfo& info);
// manualSeed(seed): seeds libtorch's default generator (dropout, random sampling).
Napi::Value ManualSeed(const Napi::CallbackInfo& info);
// rngState() -> Uint8Array; setRngState(Uint8Array): the default generator's state, for checkpoints.
Napi::Value RngState(const Napi::CallbackInfo& info);
Napi::Value SetRngState(const Napi::CallbackInfo& info);

}  // namespace sbert::js
