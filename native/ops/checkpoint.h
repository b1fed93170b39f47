// Gradient checkpointing (transformers' gradient_checkpointing): a layer's forward runs without keeping its
// intermediate tensors for backward, and backward runs it again from its saved input first. Memory for a training
// step then holds one layer's activations plus each layer's input, for about one more forward pass of compute.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

#include "ops/context.h"

namespace sbert::ops {

using LayerFn = std::function<at::Tensor(const Context& ctx, const at::Tensor& hidden)>;

// layer(ctx, hidden), checkpointed where the context asks for it (ctx.checkpoint) and autograd records the step;
// else simply layer(ctx, hidden). The recomputation draws the same dropout noise as the first pass: it runs on a
// copy of the context's generator taken before the layer ran.
at::Tensor checkpoint(const Context& ctx, const at::Tensor& hidden, const LayerFn& layer);

}  // namespace sbert::ops
