// The CPU kernels (native/kernels) on an ISA of the caller's choosing, over typed arrays, for tests and for
// bench/kernels.ts: not part of the library's API (types/testingKernels.d.ts types it).
#pragma once

#include <napi.h>

namespace sbert::js {

// Adds exports._testingKernels.
void register_kernel_testing(Napi::Env env, Napi::Object exports);

}  // namespace sbert::js
