#include "runtime/threading.h"

#include "runtime/cpu_allocator.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>

#include "runtime/settings.h"
#include "runtime/team.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace sbert {

namespace {

using SetThreads = void (*)(int);
using GetThreads = int (*)();

struct Blas {
  SetThreads set = nullptr;
  GetThreads get = nullptr;
  bool user_fixed = false;  // OPENBLAS_NUM_THREADS: OpenBLAS's own pool size is the user's
  Blas() {
    user_fixed = std::getenv("OPENBLAS_NUM_THREADS") != nullptr;
    set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  }
};

Blas& blas() {
  static Blas b;
  return b;
}

int cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace

bool blas_threads_controllable() { return blas().set != nullptr && (!blas().user_fixed || blas_threads_setting() > 0); }

void set_blas_threads(int n) {
  // The blasThreads setting, when given, wins over sbert-node's own choice.
  if (blas_threads_controllable()) blas().set(blas_threads_setting() > 0 ? static_cast<int>(blas_threads_setting()) : n);
}

int blas_threads() { return blas().get ? blas().get() : 0; }

namespace {
int g_lanes = 1;
int g_threads_per_lane = 1;
}  // namespace

void init_threading() {
  const char* pool = std::getenv("UV_THREADPOOL_SIZE");
  const int uv = pool != nullptr && std::atoi(pool) > 0 ? std::atoi(pool) : 4;
  g_lanes = std::max(1, std::min(cores(), uv));
  g_threads_per_lane = std::max(1, cores() / g_lanes);
  if (std::getenv("OMP_NUM_THREADS") == nullptr) at::set_num_threads(g_threads_per_lane);
  set_blas_threads(g_threads_per_lane);
}

int encode_lanes() { return g_lanes; }

void refresh_blas_threads() { set_blas_threads(g_threads_per_lane); }
int threads_per_lane() { return g_threads_per_lane; }

ComputeGate& ComputeGate::instance() {
  static ComputeGate gate;
  return gate;
}

EncodeScope::EncodeScope() : lock_(ComputeGate::instance().mutex()) { batch_started(); }

EncodeScope::~EncodeScope() { batch_finished(); }

TrainScope::TrainScope() : lock_(ComputeGate::instance().mutex()) {
  set_blas_threads(cores());
  set_cpu_cache_training(true);
}

TrainScope::~TrainScope() {
  set_cpu_cache_training(false);
  set_blas_threads(g_threads_per_lane);
}

}  // namespace sbert
