// LoadModuleWorker: builds a module, reads its checkpoint (or initialises it) and moves it to its device,
// all on a libuv thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "js/boundary.h"
#include "modules.h"
#include "weights.h"

namespace sbert::js {

struct WeightsSpec {
  bool present = false;
  std::vector<TensorFile> files;
};

// Reads `{files: [{path, tensors: [{name, dtype, shape, begin, end, stride?, storageOffset?}]}]}`, or null (no checkpoint).
WeightsSpec read_weights_spec(const Napi::Value& value);

using ModuleFactory = std::function<std::shared_ptr<SentenceModule>()>;

struct BuiltModule {
  std::shared_ptr<SentenceModule> module;
  std::vector<std::string> ignored_keys;
};

// Makes the module, fills it from the checkpoint (or initialises it from `seed`), puts it in eval mode on `device`.
BuiltModule build_module(const ModuleFactory& factory, const WeightsSpec& weights, const std::string& device, uint64_t seed);

// The JS result of a load: `{module, ignoredKeys}`.
Napi::Object built_module_to_js(Napi::Env env, const BuiltModule& built);

class LoadModuleWorker : public PromiseWorker {
 public:
  using Factory = ModuleFactory;
  LoadModuleWorker(Napi::Env env, Factory factory, WeightsSpec weights, std::string device, uint64_t seed);

 protected:
  void Run() override;
  Napi::Value Result(Napi::Env env) override;

 private:
  Factory factory_;
  WeightsSpec weights_;
  std::string device_;
  uint64_t seed_;
  BuiltModule built_;
};

}  // namespace sbert::js
