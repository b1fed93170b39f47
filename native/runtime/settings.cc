#include "runtime/settings.h"

#include <atomic>

#include "kernels/kernels.h"
#include "runtime/team.h"

namespace sbert {

namespace {
std::atomic<int> g_linear_backend{static_cast<int>(ops::LinearBackend::Auto)};
}  // namespace

void set_linear_backend(ops::LinearBackend backend) { g_linear_backend.store(static_cast<int>(backend)); }
ops::LinearBackend linear_backend() { return static_cast<ops::LinearBackend>(g_linear_backend.load()); }

ops::Context call_context(bool train, Team* team) {
  ops::Context ctx;
  ctx.train = train;
  ctx.backend = linear_backend();
  ctx.own_kernels = ctx.backend == ops::LinearBackend::Auto && kernels::available();
  ctx.team = team;
  ctx.parts = split_parts();
  return ctx;
}

}  // namespace sbert
