// The CPU kernels (native/kernels) on an ISA of the caller's choosing, over typed arrays, for tests and for
// bench/kernels.ts: not part of the library's API (types/testingKernels.d.ts types it).
#pragma once

#include <napi.h>

namespace sbert::js {

// Adds the kernels, on an ISA of the caller's choosing, to `testing` (the addon's _testing) as `kernels`.
void register_kernel_testing(Napi::Env env, Napi::Object exports);

}  // namespace sbert::js
