// Module entry: the raw addon surface that types/native.d.ts describes.
#include <napi.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <ATen/Version.h>
#include <torch/csrc/api/include/torch/version.h>

#include "js/addon_data.h"
#include "runtime/cpu_allocator.h"
#include "js/boundary.h"
#include "js/encode_worker.h"
#include "kernels/kernels.h"
#include "js/load_worker.h"
#include "js/module_wrap.h"
#include "js/process_group_wrap.h"
#include "js/st_modules_js.h"
#include "runtime/settings.h"
#include "runtime/threading.h"
#include "js/testing_kernels.h"
#include "js/trainer_wrap.h"
#include "losses.h"
#include "ops/linear.h"
#include "ops/pointwise.h"
#include "pooling.h"
#include "sparse.h"
#include "trainer.h"

namespace sbert::js {
namespace {

Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsObject()) fail(ErrorCode::Input, std::string("argument '") + name + "' must be an object");
  return info[i].As<Napi::Object>();
}

// loadTransformer({config, file}, weights | null, {device, seed}) -> Promise<{module, ignoredKeys}>: config is
// config.json as parsed, file names it in messages.
Napi::Value LoadTransformer(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto spec = arg_object(info, 0, "config");
    const ConfigReader config(get_json(spec, "config"), get_string(spec, "file"));
    auto weights = read_weights_spec(info[1]);
    std::vector<std::string> keys;
    for (const auto& f : weights.files) {
      for (const auto& t : f.tensors) keys.push_back(t.name);
    }
    if (weights.present) check_layer_count(config, keys);
    auto opts = arg_object(info, 2, "options");
    auto factory = [config]() -> std::shared_ptr<SentenceModule> { return std::make_shared<TransformerModule>(config); };
    auto* worker = new LoadModuleWorker(info.Env(), factory, std::move(weights), get_string(opts, "device"),
                                        static_cast<uint64_t>(get_int(opts, "seed")));
    return worker->QueueAndPromise();
  });
}

ModuleFactory dense_factory(const Napi::Object& c) {
  const int64_t in = get_int(c, "inFeatures"), out = get_int(c, "outFeatures");
  const bool bias = get_bool(c, "bias");
  const ops::Activation act = ops::parse_activation(get_string(c, "activation"), "Dense activation");
  return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<DenseModule>(in, out, bias, act); };
}

// loadDense({inFeatures, outFeatures, bias, activation}, weights | null, {device, seed}) -> Promise<{module, ignoredKeys}>
Napi::Value LoadDense(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto factory = dense_factory(arg_object(info, 0, "config"));
    auto weights = read_weights_spec(info[1]);
    auto opts = arg_object(info, 2, "options");
    auto* worker = new LoadModuleWorker(info.Env(), factory, std::move(weights), get_string(opts, "device"),
                                        static_cast<uint64_t>(get_int(opts, "seed")));
    return worker->QueueAndPromise();
  });
}

// createDense(config, {device, seed}) -> {module, ignoredKeys}: a freshly initialised Dense, small enough to make in place.
Napi::Value CreateDense(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto factory = dense_factory(arg_object(info, 0, "config"));
    auto opts = arg_object(info, 1, "options");
    return built_module_to_js(info.Env(), build_module(factory, WeightsSpec{}, get_string(opts, "device"),
                                                       static_cast<uint64_t>(get_int(opts, "seed"))));
  });
}

// createPooling({modes: string[], includePrompt}) -> NativeModule
Napi::Value CreatePooling(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto c = arg_object(info, 0, "config");
    PoolingConfig config;
    for (const auto& mode : get_string_array(c, "modes")) config.modes.push_back(parse_pooling_mode(mode));
    if (config.modes.empty()) fail(ErrorCode::Config, "Pooling needs at least one mode");
    config.include_prompt = get_bool(c, "includePrompt");
    return ModuleWrap::Create(info.Env(), std::make_shared<PoolingModule>(config));
  });
}

Napi::Value CreateNormalize(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return ModuleWrap::Create(info.Env(), std::make_shared<NormalizeModule>()); });
}

ModuleList read_modules(const Napi::Value& value) {
  if (!value.IsArray()) fail(ErrorCode::Input, "modules must be an array of native module handles");
  auto arr = value.As<Napi::Array>();
  ModuleList modules;
  for (uint32_t i = 0; i < arr.Length(); ++i) modules.push_back(ModuleWrap::From(arr.Get(i)));
  return modules;
}

// encode(modules, batch, {output, normalize, truncateDim}) -> Promise<{data: Float32Array, shape: number[]}>
Napi::Value Encode(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    ModuleList modules = read_modules(info[0]);
    TokenBatch batch = read_token_batch(arg_object(info, 1, "batch"));
    auto opts = arg_object(info, 2, "options");
    const std::string output = get_string(opts, "output");
    if (output != "sentence_embedding" && output != "token_embeddings") {
      fail(ErrorCode::Input, "output must be \"sentence_embedding\" or \"token_embeddings\"");
    }
    auto* worker = new EncodeWorker(
        info.Env(), std::move(modules), std::move(batch),
        output == "token_embeddings" ? EncodeWorker::Output::TokenEmbeddings : EncodeWorker::Output::SentenceEmbedding,
        get_bool(opts, "normalize"), get_int(opts, "truncateDim"));
    return worker->QueueAndPromise();
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1) {
      fail(ErrorCode::Input, "setNumThreads expects a positive integer");
    }
    at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  });
}

Napi::Value setting_to_js(Napi::Env env, const SettingValue& v) {
  switch (v.kind) {
    case SettingSpec::Kind::Bool: return Napi::Boolean::New(env, v.boolean);
    case SettingSpec::Kind::Int: return Napi::Number::New(env, static_cast<double>(v.integer));
    case SettingSpec::Kind::Choice: return Napi::String::New(env, v.choice);
  }
  return env.Undefined();
}

const char* kind_name(SettingSpec::Kind kind) {
  switch (kind) {
    case SettingSpec::Kind::Bool: return "boolean";
    case SettingSpec::Kind::Int: return "integer";
    case SettingSpec::Kind::Choice: return "choice";
  }
  return "?";
}

std::string setting_name(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) fail(ErrorCode::Input, "the setting's name must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

// settings() -> [{name, env, kind, min?, max?, choices?, doc, value, source}]: every process-wide setting.
Napi::Value Settings(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const auto& specs = setting_specs();
    auto out = Napi::Array::New(env, specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& s = specs[i];
      auto o = Napi::Object::New(env);
      o.Set("name", s.name);
      o.Set("env", s.env);
      o.Set("kind", kind_name(s.kind));
      if (s.kind == SettingSpec::Kind::Int) {
        o.Set("min", static_cast<double>(s.min));
        o.Set("max", static_cast<double>(s.max));
      }
      if (s.kind == SettingSpec::Kind::Choice) {
        auto choices = Napi::Array::New(env, s.choices.size());
        for (size_t c = 0; c < s.choices.size(); ++c) choices.Set(static_cast<uint32_t>(c), s.choices[c]);
        o.Set("choices", choices);
      }
      o.Set("doc", s.doc);
      o.Set("value", setting_to_js(env, get_setting(s.name)));
      o.Set("source", setting_source(s.name));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

Napi::Value GetSetting(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return setting_to_js(info.Env(), get_setting(setting_name(info))); });
}

// setSetting(name, value): checked against the setting's spec natively, the one authority on what it takes.
Napi::Value SetSetting(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const std::string name = setting_name(info);
    SettingValue v;
    const Napi::Value value = info.Length() > 1 ? info[1] : info.Env().Undefined();
    if (value.IsBoolean()) {
      v.kind = SettingSpec::Kind::Bool;
      v.boolean = value.As<Napi::Boolean>().Value();
    } else if (value.IsNumber() && std::trunc(value.As<Napi::Number>().DoubleValue()) == value.As<Napi::Number>().DoubleValue() &&
               std::fabs(value.As<Napi::Number>().DoubleValue()) < 9e15) {
      v.kind = SettingSpec::Kind::Int;
      v.integer = value.As<Napi::Number>().Int64Value();
    } else if (value.IsString()) {
      v.kind = SettingSpec::Kind::Choice;
      v.choice = value.As<Napi::String>().Utf8Value();
    } else {
      fail(ErrorCode::Input, "setting '" + name + "' takes a boolean, an integer or a string");
    }
    set_setting(name, v);
    return info.Env().Undefined();
  });
}

Napi::Array string_array(Napi::Env env, const std::vector<std::string>& values) {
  auto out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), values[i]);
  return out;
}

// The names native code accepts, where TypeScript keeps its own typed list too (a test checks they agree):
// schemas() -> {poolingModes, schedulers, activations, outputValues, losses, modelTypes, linearPrecisions,
// spladePoolingStrategies, spladeActivations}.
Napi::Value Schemas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("poolingModes", string_array(env, pooling_mode_names()));
  out.Set("schedulers", string_array(env, scheduler_names()));
  out.Set("activations", string_array(env, ops::activation_name_list()));
  out.Set("outputValues", string_array(env, {"sentence_embedding", "token_embeddings"}));
  out.Set("losses", string_array(env, loss_names()));
  std::vector<std::string> types;
  for (const auto& a : architectures()) types.push_back(a.model_type);
  out.Set("modelTypes", string_array(env, types));
  out.Set("linearPrecisions", string_array(env, ops::precision_names()));
  out.Set("spladePoolingStrategies", string_array(env, splade_strategy_names()));
  out.Set("spladeActivations", string_array(env, splade_activation_names()));
  return out;
}

// _testing.chooseLinearPath({inference, rows, precision, backend, ownKernels, isa, onednnPlain}) -> the path's name: the decision
// every linear layer's product takes, for its unit test.
Napi::Value ChooseLinearPath(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto q = arg_object(info, 0, "query");
    const std::string precision = get_string(q, "precision"), backend = get_string(q, "backend"), isa = get_string(q, "isa");
    const auto parsed_precision = ops::parse_precision(precision);
    if (!parsed_precision) fail(ErrorCode::Input, "precision must be \"float32\", \"int8\" or \"bf16\"");
    if (backend != "auto" && backend != "blas" && backend != "onednn") fail(ErrorCode::Input, "backend must be \"auto\", \"blas\" or \"onednn\"");
    const auto parsed = kernels::parse_isa(isa);
    if (!parsed) fail(ErrorCode::Input, "isa must be \"generic\", \"avx2\" or \"avx512\"");
    const ops::LinearQuery query{get_bool(q, "inference"), get_int(q, "rows"),
                                 *parsed_precision,
                                 backend == "onednn" ? ops::LinearBackend::OneDnn : backend == "blas" ? ops::LinearBackend::Blas : ops::LinearBackend::Auto,
                                 get_bool(q, "ownKernels"), *parsed, get_bool(q, "onednnPlain")};
    return Napi::String::New(info.Env(), ops::linear_path_name(ops::choose_linear_path(query)));
  });
}

// _testing.chooseWeightLayout({isa, onednnPlain, in, out}) -> "column-major" | "row-major": how a new linear layer
// keeps its weight (ops::choose_weight_layout), for its unit test.
Napi::Value ChooseWeightLayout(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto q = arg_object(info, 0, "query");
    const auto isa = kernels::parse_isa(get_string(q, "isa"));
    if (!isa) fail(ErrorCode::Input, "isa must be \"generic\", \"avx2\" or \"avx512\"");
    const auto layout = ops::choose_weight_layout({*isa, get_bool(q, "onednnPlain"), get_int(q, "in"), get_int(q, "out")});
    return Napi::String::New(info.Env(), layout == ops::WeightLayout::RowMajor ? "row-major" : "column-major");
  });
}

// _testing.checkPrecision(precision, {avx512Bf16, amxBf16}): the check quantize() makes on this CPU's features, on
// the features given, so that a CPU without bf16 can be pretended.
Napi::Value CheckPrecision(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const auto precision = ops::parse_precision(info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "");
    if (!precision) fail(ErrorCode::Input, "precision must be \"float32\", \"int8\" or \"bf16\"");
    auto cpu = arg_object(info, 1, "cpu");
    ops::check_precision(*precision, {get_bool(cpu, "avx512Bf16"), get_bool(cpu, "amxBf16")}, "quantize");
    return info.Env().Undefined();
  });
}

// architectures() -> string[]: the model_types loadTransformer accepts.
Napi::Value Architectures(const Napi::CallbackInfo& info) {
  auto out = Napi::Array::New(info.Env());
  uint32_t i = 0;
  for (const auto& a : architectures()) out.Set(i++, Napi::String::New(info.Env(), a.model_type));
  return out;
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  empty_cpu_cache();
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("torchVersion", TORCH_VERSION);
  out.Set("cuda", at::hasCUDA());
  out.Set("cudaDeviceCount", at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().getNumGPUs()) : 0.0);
  out.Set("mkldnn", at::hasMKLDNN());
  // Whether the "auto" linear backend runs sbert-node's kernels on this CPU (whatever the backend is now).
  out.Set("ownKernels", kernel_isa() != kernels::Isa::Generic || get_setting("kernelIsa").choice == "generic");
  out.Set("kernelIsa", kernels::isa_name(kernel_isa()));
  out.Set("cpuFeatures", std::string("avx2+fma: ") + (kernels::supported(kernels::Isa::Avx2) ? "yes" : "no") +
                             ", avx512 (f, bw, vl): " + (kernels::supported(kernels::Isa::Avx512) ? "yes" : "no") +
                             ", avx512_vnni: " + (kernels::has_vnni() ? "yes" : "no") +
                             ", avx512_bf16: " + (kernels::has_avx512_bf16() ? "yes" : "no") +
                             ", amx_bf16: " + (kernels::has_amx_bf16() ? "yes" : "no"));
  out.Set("numThreads", at::get_num_threads());
  const auto cache = cpu_cache_stats();
  auto cache_js = Napi::Object::New(env);
  cache_js.Set("cachedBytes", static_cast<double>(cache.cached_bytes));
  cache_js.Set("inUseBytes", static_cast<double>(cache.in_use_bytes));
  cache_js.Set("hits", static_cast<double>(cache.hits));
  cache_js.Set("misses", static_cast<double>(cache.misses));
  out.Set("cpuCache", cache_js);
  out.Set("blasThreads", blas_threads());
  out.Set("concurrency", static_cast<double>(encode_concurrency()));
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("config", at::show_config());
  return out;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag process_once;
  std::call_once(process_once, [] {
    set_malloc_tuning(malloc_tuning());
    install_caching_cpu_allocator();
    init_threading();
  });
  auto* data = new AddonData();
  env.SetInstanceData(data);
  Napi::Function module_class = ModuleWrap::Define(env);
  data->module_constructor = Napi::Persistent(module_class);
  exports.Set("NativeModule", module_class);
  Napi::Function trainer_class = TrainerWrap::Define(env);
  data->trainer_constructor = Napi::Persistent(trainer_class);
  exports.Set("NativeTrainer", trainer_class);
  exports.Set("createTrainer", Napi::Function::New(env, CreateTrainer, "createTrainer"));
  Napi::Function group_class = ProcessGroupWrap::Define(env);
  data->process_group_constructor = Napi::Persistent(group_class);
  exports.Set("NativeProcessGroup", group_class);
  exports.Set("createProcessGroup", Napi::Function::New(env, CreateProcessGroup, "createProcessGroup"));
  exports.Set("distributedAvailable", Napi::Function::New(env, DistributedAvailable, "distributedAvailable"));
  // Native pieces the tests check on their own; not the library's API.
  auto testing = Napi::Object::New(env);
  testing.Set("lossAndGrad", Napi::Function::New(env, LossAndGrad, "lossAndGrad"));
  testing.Set("dropout", Napi::Function::New(env, Dropout, "dropout"));
  // libtorch's default CPU generator, which _testing.dropout draws from.
  testing.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  testing.Set("rngState", Napi::Function::New(env, RngState, "rngState"));
  testing.Set("setRngState", Napi::Function::New(env, SetRngState, "setRngState"));
  testing.Set("chooseLinearPath", Napi::Function::New(env, ChooseLinearPath, "chooseLinearPath"));
  testing.Set("chooseWeightLayout", Napi::Function::New(env, ChooseWeightLayout, "chooseWeightLayout"));
  testing.Set("checkPrecision", Napi::Function::New(env, CheckPrecision, "checkPrecision"));
  register_kernel_testing(env, testing);
  exports.Set("_testing", testing);
  exports.Set("loadTransformer", Napi::Function::New(env, LoadTransformer, "loadTransformer"));
  exports.Set("loadDense", Napi::Function::New(env, LoadDense, "loadDense"));
  exports.Set("createDense", Napi::Function::New(env, CreateDense, "createDense"));
  exports.Set("createPooling", Napi::Function::New(env, CreatePooling, "createPooling"));
  exports.Set("createNormalize", Napi::Function::New(env, CreateNormalize, "createNormalize"));
  register_st_modules(env, exports);
  exports.Set("encode", Napi::Function::New(env, Encode, "encode"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("settings", Napi::Function::New(env, Settings, "settings"));
  exports.Set("getSetting", Napi::Function::New(env, GetSetting, "getSetting"));
  exports.Set("setSetting", Napi::Function::New(env, SetSetting, "setSetting"));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache, "emptyCache"));
  exports.Set("architectures", Napi::Function::New(env, Architectures, "architectures"));
  exports.Set("schemas", Napi::Function::New(env, Schemas, "schemas"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  return exports;
}

}  // namespace sbert::js

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return sbert::js::Init(env, exports); }

NODE_API_MODULE(sbert_node, InitAddon)
