#include "ops/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

namespace sbert::ops {

namespace {

// What backward needs to run the layer again: the layer, and the context with a generator in the state the first
// pass started from.
struct Replay : torch::CustomClassHolder {
  LayerFn layer;
  Context ctx;
};

class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  // A custom function's forward runs with autograd off: the layer keeps nothing for backward.
  static at::Tensor forward(torch::autograd::AutogradContext* actx, const at::Tensor& hidden, const Context& ctx, const c10::intrusive_ptr<Replay>& replay) {
    actx->save_for_backward({hidden});
    actx->saved_data["replay"] = c10::IValue::make_capsule(replay);
    return replay->layer(ctx, hidden);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* actx, torch::autograd::variable_list grads) {
    auto replay = c10::static_intrusive_pointer_cast<Replay>(actx->saved_data["replay"].toCapsule());
    auto input = actx->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor output;
    {
      at::AutoGradMode grad(true);
      output = replay->layer(replay->ctx, input);
    }
    // Parameters' gradients accumulate where the step's own backward puts them; the input's goes on down.
    torch::autograd::backward({output}, {grads[0]});
    return {input.grad(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor checkpoint(const Context& ctx, const at::Tensor& hidden, const LayerFn& layer) {
  if (!ctx.checkpoint || !at::GradMode::is_enabled()) return layer(ctx, hidden);
  auto replay = c10::make_intrusive<Replay>();
  replay->layer = layer;
  replay->ctx = ctx;
  // The first pass draws from the context's generator as an unchecked layer would; the replay from a copy of it.
  at::Generator gen = ctx.generator.defined() ? ctx.generator : at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    replay->ctx.generator = gen.clone();
  }
  return CheckpointedLayer::apply(hidden, ctx, replay);
}

}  // namespace sbert::ops
