// How encode and training share the cores. OpenBLAS (which libtorch calls for float32 matrix products here)
// keeps its own thread pool beside libtorch's OpenMP one, and on a small machine the two fight. Measured on
// 2 cores: two encode batches side by side, each on one thread, beat one batch on both cores by 30-45%; a
// training step (one large batch) wants BLAS on every core. So encode batches take a shared gate with BLAS
// single-threaded, and a training step takes the gate alone with BLAS on all cores.
#pragma once

#include <mutex>
#include <shared_mutex>

namespace sbert {

// OpenBLAS's pool size, found at run time: n, or the blasThreads setting when it gives one; a no-op when the BLAS
// is another library, or when the user fixed OPENBLAS_NUM_THREADS and the setting gives none.
void set_blas_threads(int n);
// Applies the blasThreads setting now (outside a training step).
void refresh_blas_threads();
int blas_threads();  // 0 when not controllable
bool blas_threads_controllable();

// Call once at start-up. Encode lanes = min(cores, libuv pool size); each lane gets cores / lanes threads, for
// libtorch's intra-op pool (unless OMP_NUM_THREADS is set) and for BLAS (unless OPENBLAS_NUM_THREADS is set).
void init_threading();
// Encode batches that run side by side, and the threads each has.
int encode_lanes();
int threads_per_lane();

class ComputeGate {
 public:
  static ComputeGate& instance();
  std::shared_mutex& mutex() { return mutex_; }

 private:
  std::shared_mutex mutex_;
};

// Held by an encode batch: others may run beside it, never a training step.
class EncodeScope {
 public:
  EncodeScope();
  ~EncodeScope();
  EncodeScope(const EncodeScope&) = delete;
  EncodeScope& operator=(const EncodeScope&) = delete;

 private:
  std::shared_lock<std::shared_mutex> lock_;
};

// Held by a training step: alone, with BLAS on every core while it runs.
class TrainScope {
 public:
  TrainScope();
  ~TrainScope();

 private:
  std::unique_lock<std::shared_mutex> lock_;
};

}  // namespace sbert
