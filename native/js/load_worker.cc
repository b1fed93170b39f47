#include "js/load_worker.h"

#include <ATen/Parallel.h>

#include "js/module_wrap.h"

namespace sbert::js {

WeightsSpec read_weights_spec(const Napi::Value& value) {
  WeightsSpec spec;
  if (value.IsNull() || value.IsUndefined()) return spec;
  if (!value.IsObject()) fail(ErrorCode::Input, "weights must be an object or null");
  spec.present = true;
  auto files = value.As<Napi::Object>().Get("files");
  if (!files.IsArray()) fail(ErrorCode::Input, "weights.files must be an array");
  auto file_array = files.As<Napi::Array>();
  for (uint32_t i = 0; i < file_array.Length(); ++i) {
    Napi::Value file_value = file_array.Get(i);
    if (!file_value.IsObject()) fail(ErrorCode::Input, "weights.files entries must be objects");
    auto file = file_value.As<Napi::Object>();
    TensorFile f;
    f.path = get_string(file, "path");
    auto tensors = file.Get("tensors");
    if (!tensors.IsArray()) fail(ErrorCode::Input, "weights.files[].tensors must be an array");
    auto tensor_array = tensors.As<Napi::Array>();
    for (uint32_t j = 0; j < tensor_array.Length(); ++j) {
      Napi::Value tv = tensor_array.Get(j);
      if (!tv.IsObject()) fail(ErrorCode::Input, "tensor entries must be objects");
      auto t = tv.As<Napi::Object>();
      TensorSpec spec{get_string(t, "name"), get_string(t, "dtype"), get_int_array(t, "shape"), get_int(t, "begin"), get_int(t, "end")};
      if (t.Has("stride") && !t.Get("stride").IsUndefined()) {
        spec.stride = get_int_array(t, "stride");
        spec.storage_offset = get_int(t, "storageOffset");
      }
      f.tensors.push_back(std::move(spec));
    }
    spec.files.push_back(std::move(f));
  }
  return spec;
}

LoadModuleWorker::LoadModuleWorker(Napi::Env env, Factory factory, WeightsSpec weights, std::string device, uint64_t seed)
    : PromiseWorker(env), factory_(std::move(factory)), weights_(std::move(weights)), device_(std::move(device)), seed_(seed) {}

BuiltModule build_module(const ModuleFactory& factory, const WeightsSpec& weights, const std::string& device_spec, uint64_t seed) {
  const at::Device device = parse_device(device_spec);
  BuiltModule built;
  built.module = factory();
  built.module->eval();
  if (weights.present) {
    std::string source;
    for (const auto& f : weights.files) source += (source.empty() ? "" : ", ") + f.path;
    // A fresh module: tensors are read one at a time as they are copied in (a failure discards the module).
    built.ignored_keys = built.module->load_weights(lazy_tensors(weights.files), source);
  } else {
    built.module->init_weights(seed);
  }
  built.module->move_to(device);
  return built;
}

Napi::Object built_module_to_js(Napi::Env env, const BuiltModule& built) {
  auto out = Napi::Object::New(env);
  out.Set("module", ModuleWrap::Create(env, built.module));
  auto ignored = Napi::Array::New(env, built.ignored_keys.size());
  for (size_t i = 0; i < built.ignored_keys.size(); ++i) ignored.Set(static_cast<uint32_t>(i), built.ignored_keys[i]);
  out.Set("ignoredKeys", ignored);
  return out;
}

void LoadModuleWorker::Run() {
  at::init_num_threads();
  built_ = build_module(factory_, weights_, device_, seed_);
}

Napi::Value LoadModuleWorker::Result(Napi::Env env) { return built_module_to_js(env, built_); }

}  // namespace sbert::js
