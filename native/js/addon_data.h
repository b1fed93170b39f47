// Per-environment state of the addon (worker threads each get their own).
#pragma once

#include <napi.h>

namespace sbert::js {

struct AddonData {
  Napi::FunctionReference module_constructor;
  Napi::FunctionReference trainer_constructor;
  Napi::FunctionReference process_group_constructor;
  static AddonData& Get(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }
};

}  // namespace sbert::js
