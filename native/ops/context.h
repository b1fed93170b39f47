// How one call (an encode batch, a training step) runs its ops. Decided once when the call starts, from the
// process settings and the threads lent to it, and passed explicitly to every layer's forward; only the op layer
// reads it. Model code never consults globals, thread-locals or settings to decide how something runs.
#pragma once

#include <ATen/core/Generator.h>

#include <functional>

#include "kernels/kernels.h"

namespace sbert {
class Team;
}

namespace sbert::ops {

// How float32 inference (no autograd, CPU) runs its linear layers:
//  - Auto (the default): on CPUs with sbert-node's kernels, products over few rows, attention, GELU and the residual
//    LayerNorm on those kernels, larger products on libtorch's BLAS path; libtorch's ops elsewhere;
//  - Blas: libtorch's ops only (linear layers through BLAS, attention as matmul + softmax);
//  - OneDnn: linear layers through oneDNN, attention as Blas.
enum class LinearBackend { Auto, Blas, OneDnn };

struct Context {
  // A training step: dropout is applied. Outside it, dropout is the identity.
  bool train = false;
  LinearBackend backend = LinearBackend::Auto;
  // sbert-node's CPU kernels may run (the backend allows them, and the kernel path is one worth running).
  bool own_kernels = false;
  // The instruction set the kernels run on (every kernel call passes it).
  kernels::Isa isa = kernels::Isa::Generic;
  // Helpers lent to this call; null runs every part on the calling thread.
  Team* team = nullptr;
  // How many parts split work is cut into: fixed per process, so a call computes the same blocks (and the same
  // bits) whether or not helpers are free to take them.
  int parts = 1;
  // Where dropout draws its noise; undefined: libtorch's default CPU generator.
  at::Generator generator;
  // Training: layers run checkpointed (ops/checkpoint.h), their activations recomputed in backward.
  bool checkpoint = false;

  // Runs fn(part, parts) for every part in [0, parts): part 0 on the calling thread, the others on the team's
  // helpers where lent, else on the calling thread. Rethrows the first exception.
  void run_parts(const std::function<void(int part, int parts)>& fn) const;
};

}  // namespace sbert::ops
