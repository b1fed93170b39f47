// The addon's entry points for the modules of st_modules.h: createModule and loadModule, by kind.
#pragma once

#include <napi.h>

namespace sbert::js {

// Adds createModule(kind, config, options, tensors | null) and loadModule(kind, config, weights, options) to exports.
void register_st_modules(Napi::Env env, Napi::Object exports);

}  // namespace sbert::js
