// ModuleWrap: the JS handle of one native sentence-transformers module (Transformer, Pooling, Dense, Normalize).
// Work in flight holds its own reference to the module, so dispose() never frees memory a worker still uses.
#pragma once

#include <napi.h>

#include <memory>

#include "modules.h"

namespace sbert::js {

class ModuleWrap : public Napi::ObjectWrap<ModuleWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps `module` in a new JS object (JS thread only).
  static Napi::Object Create(Napi::Env env, std::shared_ptr<SentenceModule> module);
  // The module behind a JS value; an Input error if it is not a ModuleWrap, Disposed if it was disposed.
  static std::shared_ptr<SentenceModule> From(const Napi::Value& value);

  explicit ModuleWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Kind(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value ParameterCount(const Napi::CallbackInfo& info);
  Napi::Value NamedParameters(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value LoadWeights(const Napi::CallbackInfo& info);
  Napi::Value SetPrecision(const Napi::CallbackInfo& info);
  Napi::Value EncoderInfo(const Napi::CallbackInfo& info);
  Napi::Value AddAdapter(const Napi::CallbackInfo& info);
  Napi::Value AdapterStateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadAdapter(const Napi::CallbackInfo& info);
  Napi::Value MergeAdapter(const Napi::CallbackInfo& info);
  std::shared_ptr<SentenceModule> module_;
};

}  // namespace sbert::js
