#include "js/module_wrap.h"

#include "js/addon_data.h"
#include "js/boundary.h"
#include "js/load_worker.h"

namespace sbert::js {

Napi::Function ModuleWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModule",
                     {
                         InstanceAccessor<&ModuleWrap::Kind>("kind"),
                         InstanceAccessor<&ModuleWrap::Device>("device"),
                         InstanceAccessor<&ModuleWrap::Disposed>("disposed"),
                         InstanceMethod<&ModuleWrap::StateDict>("stateDict"),
                         InstanceMethod<&ModuleWrap::ParameterCount>("parameterCount"),
                         InstanceMethod<&ModuleWrap::NamedParameters>("namedParameters"),
                         InstanceMethod<&ModuleWrap::SetRequiresGrad>("setRequiresGrad"),
                         InstanceMethod<&ModuleWrap::Dispose>("dispose"),
                         InstanceMethod<&ModuleWrap::To>("to"),
                         InstanceMethod<&ModuleWrap::LoadWeights>("loadWeights"),
                         InstanceMethod<&ModuleWrap::SetPrecision>("setPrecision"),
                         InstanceMethod<&ModuleWrap::EncoderInfo>("encoderInfo"),
                         InstanceMethod<&ModuleWrap::AddAdapter>("addAdapter"),
                         InstanceMethod<&ModuleWrap::AdapterStateDict>("adapterStateDict"),
                         InstanceMethod<&ModuleWrap::LoadAdapter>("loadAdapter"),
                         InstanceMethod<&ModuleWrap::MergeAdapter>("mergeAdapter"),
                     });
}

Napi::Object ModuleWrap::Create(Napi::Env env, std::shared_ptr<SentenceModule> module) {
  auto holder = Napi::External<std::shared_ptr<SentenceModule>>::New(env, &module);
  return AddonData::Get(env).module_constructor.New({holder});
}

ModuleWrap::ModuleWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModuleWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeModule is created by the addon's load functions, not with new");
  }
  module_ = *info[0].As<Napi::External<std::shared_ptr<SentenceModule>>>().Data();
}

std::shared_ptr<SentenceModule> ModuleWrap::From(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(AddonData::Get(value.Env()).module_constructor.Value())) {
    fail(ErrorCode::Input, "expected a native module handle");
  }
  auto* wrap = Unwrap(value.As<Napi::Object>());
  if (!wrap->module_) fail(ErrorCode::Disposed, "the module was disposed");
  return wrap->module_;
}

Napi::Value ModuleWrap::Kind(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), From(Value())->kind()); });
}

Napi::Value ModuleWrap::Device(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), From(Value())->device().str()); });
}

Napi::Value ModuleWrap::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !module_); }

namespace {

TransformerModule& transformer_of(const std::shared_ptr<SentenceModule>& module, const char* method) {
  auto* transformer = dynamic_cast<TransformerModule*>(module.get());
  if (transformer == nullptr) fail(ErrorCode::Input, std::string(method) + " is only for transformer modules");
  return *transformer;
}

}  // namespace

Napi::Value ModuleWrap::StateDict(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return named_tensors_to_js(info.Env(), From(Value())->state_dict()); });
}

Napi::Value ModuleWrap::ParameterCount(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    int64_t count = 0;
    for (const auto& p : From(Value())->parameters()) count += p.numel();
    return Napi::Number::New(info.Env(), static_cast<double>(count));
  });
}

Napi::Value ModuleWrap::NamedParameters(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const auto params = From(Value())->weights_root().named_parameters(/*recurse=*/true);
    auto out = Napi::Array::New(info.Env(), params.size());
    uint32_t i = 0;
    for (const auto& p : params) {
      auto o = Napi::Object::New(info.Env());
      o.Set("name", p.key());
      auto shape = Napi::Array::New(info.Env(), static_cast<size_t>(p.value().dim()));
      for (int64_t d = 0; d < p.value().dim(); ++d) shape.Set(static_cast<uint32_t>(d), Napi::Number::New(info.Env(), static_cast<double>(p.value().size(d))));
      o.Set("shape", shape);
      o.Set("requiresGrad", p.value().requires_grad());
      out.Set(i++, o);
    }
    return out;
  });
}

// Whether training updates the named parameters (every name checked first: an unknown one changes nothing).
Napi::Value ModuleWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() != 2 || !info[0].IsArray() || !info[1].IsBoolean()) fail(ErrorCode::Input, "setRequiresGrad(names, requiresGrad) expects an array of names and a boolean");
    const auto params = From(Value())->weights_root().named_parameters(/*recurse=*/true);
    const auto names = info[0].As<Napi::Array>();
    std::vector<at::Tensor> chosen;
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const Napi::Value v = names.Get(i);
      if (!v.IsString()) fail(ErrorCode::Input, "setRequiresGrad: names[" + std::to_string(i) + "] is not a string");
      const auto name = v.As<Napi::String>().Utf8Value();
      const auto* p = params.find(name);
      if (p == nullptr) fail(ErrorCode::Input, "setRequiresGrad: the module has no parameter '" + name + "'");
      chosen.push_back(*p);
    }
    const bool requires_grad = info[1].As<Napi::Boolean>().Value();
    for (auto& t : chosen) t.requires_grad_(requires_grad);
    return info.Env().Undefined();
  });
}

Napi::Value ModuleWrap::To(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) fail(ErrorCode::Input, "to() expects a device string");
    From(Value())->move_to(parse_device(info[0].As<Napi::String>().Utf8Value()));
    return info.Env().Undefined();
  });
}

namespace {

// Replaces an existing module's weights from a checkpoint, off the JS thread.
class LoadIntoWorker : public PromiseWorker {
 public:
  LoadIntoWorker(Napi::Env env, std::shared_ptr<SentenceModule> module, WeightsSpec weights)
      : PromiseWorker(env), module_(std::move(module)), weights_(std::move(weights)) {}

 protected:
  void Run() override {
    std::string source;
    for (const auto& f : weights_.files) source += (source.empty() ? "" : ", ") + f.path;
    // Every key is checked before any weight is overwritten.
    // Read whole first: a file that fails half-way must not leave this live module half-replaced.
    ignored_ = module_->load_weights(as_lazy(read_tensors(weights_.files)), source);
  }
  Napi::Value Result(Napi::Env env) override {
    auto arr = Napi::Array::New(env, ignored_.size());
    for (size_t i = 0; i < ignored_.size(); ++i) arr.Set(static_cast<uint32_t>(i), ignored_[i]);
    return arr;
  }

 private:
  std::shared_ptr<SentenceModule> module_;
  WeightsSpec weights_;
  std::vector<std::string> ignored_;
};

}  // namespace

Napi::Value ModuleWrap::LoadWeights(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto weights = read_weights_spec(info.Length() > 0 ? info[0] : info.Env().Undefined());
    if (!weights.present) fail(ErrorCode::Input, "loadWeights needs a weights description");
    return (new LoadIntoWorker(info.Env(), From(Value()), std::move(weights)))->QueueAndPromise();
  });
}

Napi::Value ModuleWrap::SetPrecision(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const auto p = ops::parse_precision(info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "");
    if (!p) fail(ErrorCode::Input, "setPrecision expects \"float32\", \"int8\" or \"bf16\"");
    ops::check_precision(*p, ops::cpu_features(), "quantize");
    From(Value())->set_precision(*p);
    return info.Env().Undefined();
  });
}

// encoderInfo() -> {modelType, modelClass, vocabSize, hiddenSize, maxTokens, typeVocabSize, layers, heads}, for a transformer module.
Napi::Value ModuleWrap::EncoderInfo(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto* transformer = dynamic_cast<TransformerModule*>(From(Value()).get());
    if (transformer == nullptr) fail(ErrorCode::Input, "encoderInfo() is only for transformer modules");
    const auto e = transformer->encoder->info();
    auto out = Napi::Object::New(info.Env());
    out.Set("modelType", e.model_type);
    out.Set("modelClass", e.model_class);
    out.Set("vocabSize", static_cast<double>(e.vocab_size));
    out.Set("hiddenSize", static_cast<double>(e.hidden_size));
    out.Set("maxTokens", static_cast<double>(e.max_tokens));
    out.Set("typeVocabSize", static_cast<double>(e.type_vocab_size));
    out.Set("layers", static_cast<double>(e.layers));
    out.Set("heads", static_cast<double>(e.heads));
    return out;
  });
}

// addAdapter({r, loraAlpha, loraDropout, useRslora, targetModules: string[], targetRegex, seed}) -> the adapted
// layers' paths. TypeScript has validated the config.
Napi::Value ModuleWrap::AddAdapter(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsObject()) fail(ErrorCode::Input, "addAdapter expects a config object");
    const auto c = info[0].As<Napi::Object>();
    LoraConfig config;
    config.r = get_int(c, "r");
    config.lora_alpha = get_number(c, "loraAlpha");
    config.lora_dropout = get_number(c, "loraDropout");
    config.use_rslora = get_bool(c, "useRslora");
    config.target_modules = get_string_array(c, "targetModules");
    config.target_regex = get_string(c, "targetRegex");
    config.seed = static_cast<uint64_t>(get_int(c, "seed"));
    auto module = From(Value());
    const auto paths = transformer_of(module, "addAdapter()").add_adapter(config);
    auto out = Napi::Array::New(info.Env(), paths.size());
    for (size_t i = 0; i < paths.size(); ++i) out.Set(static_cast<uint32_t>(i), paths[i]);
    return out;
  });
}

Napi::Value ModuleWrap::AdapterStateDict(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    return named_tensors_to_js(info.Env(), transformer_of(From(Value()), "adapterStateDict()").adapter_state_dict());
  });
}

namespace {

// Replaces a transformer's adapter weights from a checkpoint, off the JS thread.
class LoadAdapterWorker : public PromiseWorker {
 public:
  LoadAdapterWorker(Napi::Env env, std::shared_ptr<SentenceModule> module, WeightsSpec weights)
      : PromiseWorker(env), module_(std::move(module)), weights_(std::move(weights)) {}

 protected:
  void Run() override {
    std::string source;
    for (const auto& f : weights_.files) source += (source.empty() ? "" : ", ") + f.path;
    transformer_of(module_, "loadAdapter()").load_adapter(as_lazy(read_tensors(weights_.files)), source);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<SentenceModule> module_;
  WeightsSpec weights_;
};

}  // namespace

Napi::Value ModuleWrap::LoadAdapter(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto weights = read_weights_spec(info.Length() > 0 ? info[0] : info.Env().Undefined());
    if (!weights.present) fail(ErrorCode::Input, "loadAdapter needs a weights description");
    auto module = From(Value());
    transformer_of(module, "loadAdapter()");
    return (new LoadAdapterWorker(info.Env(), std::move(module), std::move(weights)))->QueueAndPromise();
  });
}

Napi::Value ModuleWrap::MergeAdapter(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    transformer_of(From(Value()), "mergeAdapter()").merge_adapter();
    return info.Env().Undefined();
  });
}

Napi::Value ModuleWrap::Dispose(const Napi::CallbackInfo& info) {
  module_.reset();
  return info.Env().Undefined();
}

}  // namespace sbert::js
