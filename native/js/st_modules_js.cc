#include "js/st_modules_js.h"

#include <string>
#include <vector>

#include "js/boundary.h"
#include "js/load_worker.h"
#include "js/module_wrap.h"
#include "js/trainer_wrap.h"
#include "sparse.h"
#include "sparse_auto_encoder.h"
#include "st_modules.h"

namespace sbert::js {
namespace {

const char* const kKinds = "layer_norm, last_non_pad_token, dropout, weighted_layer_pooling, word_embeddings, word_weights, cnn, lstm, static_embedding, mlm_head, splade_pooling, sparse_static_embedding, sparse_auto_encoder";

Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsObject()) fail(ErrorCode::Input, std::string("argument '") + name + "' must be an object");
  return info[i].As<Napi::Object>();
}

std::string arg_kind(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) fail(ErrorCode::Input, "argument 'kind' must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

// The module a kind and its config (plain numbers, read by TypeScript from the module's config file) describe.
ModuleFactory st_module_factory(const std::string& kind, const Napi::Object& c) {
  if (kind == "layer_norm") {
    const int64_t dimension = get_int(c, "dimension");
    const double eps = get_number(c, "eps");
    const bool bias = get_bool(c, "bias");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<LayerNormModule>(dimension, eps, bias); };
  }
  if (kind == "last_non_pad_token") {
    // null: config.json sets no pad_token_id
    const Napi::Value pad = c.Get("padTokenId");
    const int64_t pad_token_id = pad.IsNull() ? -1 : get_int(c, "padTokenId");
    if (!pad.IsNull() && pad_token_id < 0) fail(ErrorCode::Input, "config.padTokenId must be a non-negative integer or null");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<LastNonPadTokenModule>(pad_token_id); };
  }
  if (kind == "dropout") {
    const double p = get_number(c, "p");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<DropoutModule>(p); };
  }
  if (kind == "weighted_layer_pooling") {
    const int64_t layers = get_int(c, "numHiddenLayers"), start = get_int(c, "layerStart");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<WeightedLayerPoolingModule>(layers, start); };
  }
  if (kind == "word_embeddings") {
    const int64_t rows = get_int(c, "numEmbeddings"), dimension = get_int(c, "dimension");
    const bool update = get_bool(c, "updateEmbeddings");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<WordEmbeddingsModule>(rows, dimension, update); };
  }
  if (kind == "word_weights") {
    const int64_t vocab = get_int(c, "vocabSize");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<WordWeightsModule>(vocab); };
  }
  if (kind == "cnn") {
    const int64_t in = get_int(c, "inDimension"), out = get_int(c, "outChannels");
    const auto kernels = get_int_array(c, "kernelSizes");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<CnnModule>(in, out, kernels); };
  }
  if (kind == "lstm") {
    const int64_t in = get_int(c, "embeddingDimension"), hidden = get_int(c, "hiddenDim"), layers = get_int(c, "numLayers");
    const double dropout = get_number(c, "dropout");
    const bool bidirectional = get_bool(c, "bidirectional");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<LstmModule>(in, hidden, layers, dropout, bidirectional); };
  }
  if (kind == "static_embedding") {
    const int64_t rows = get_int(c, "numEmbeddings"), dimension = get_int(c, "dimension");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<StaticEmbeddingModule>(rows, dimension); };
  }
  if (kind == "mlm_head") {
    const int64_t hidden = get_int(c, "hiddenSize"), vocab = get_int(c, "vocabSize");
    const auto activation = ops::parse_activation(get_string(c, "activation"), "MLM head activation");
    const double eps = get_number(c, "layerNormEps");
    const MaskedLmHeadBiases biases{get_bool(c, "denseBias"), get_bool(c, "layerNormBias"), get_bool(c, "decoderBias")};
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<MaskedLmHeadModule>(hidden, vocab, activation, eps, biases); };
  }
  if (kind == "sparse_static_embedding") {
    const int64_t vocab = get_int(c, "vocabSize");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<SparseStaticEmbeddingModule>(vocab); };
  }
  if (kind == "splade_pooling") {
    const auto strategy = parse_splade_strategy(get_string(c, "poolingStrategy"));
    const auto activation = parse_splade_activation(get_string(c, "activationFunction"));
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<SpladePoolingModule>(strategy, activation); };
  }
  if (kind == "sparse_auto_encoder") {
    const int64_t in = get_int(c, "inputDim"), hidden = get_int(c, "hiddenDim"), k = get_int(c, "k");
    const bool normalize = get_bool(c, "normalize");
    return [=]() -> std::shared_ptr<SentenceModule> { return std::make_shared<SparseAutoEncoderModule>(in, hidden, k, normalize); };
  }
  fail(ErrorCode::Input, "module kind '" + kind + "' is not one of " + kKinds);
}

// createModule(kind, config, {device, seed}, [{name, shape, data}] | null) -> {module, ignoredKeys}: a new module,
// its weights the given tensors (every key checked) or else freshly initialised from seed.
Napi::Value CreateModule(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto factory = st_module_factory(arg_kind(info), arg_object(info, 1, "config"));
    auto opts = arg_object(info, 2, "options");
    NamedTensors given;
    if (info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined()) {
      if (!info[3].IsArray()) fail(ErrorCode::Input, "argument 'tensors' must be an array of {name, shape, data} or null");
      auto arr = info[3].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value v = arr.Get(i);
        if (!v.IsObject()) fail(ErrorCode::Input, "tensors entries must be {name, shape, data}");
        auto t = v.As<Napi::Object>();
        given.emplace_back(get_string(t, "name"), read_float_tensor(t, "tensor"));
      }
    }
    const std::string device = get_string(opts, "device");
    const auto seed = static_cast<uint64_t>(get_int(opts, "seed"));
    if (given.empty()) return built_module_to_js(info.Env(), build_module(factory, WeightsSpec{}, device, seed));
    BuiltModule built;
    built.module = factory();
    built.module->eval();
    built.ignored_keys = built.module->load_weights(as_lazy(std::move(given)), "the given weights");
    built.module->move_to(parse_device(device));
    return built_module_to_js(info.Env(), built);
  });
}

// loadModule(kind, config, weights, {device, seed}) -> Promise<{module, ignoredKeys}>: read off the JS thread.
Napi::Value LoadModule(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto factory = st_module_factory(arg_kind(info), arg_object(info, 1, "config"));
    auto weights = read_weights_spec(info.Length() > 2 ? info[2] : info.Env().Undefined());
    if (!weights.present) fail(ErrorCode::Input, "loadModule needs a weights description");
    auto opts = arg_object(info, 3, "options");
    auto* worker = new LoadModuleWorker(info.Env(), factory, std::move(weights), get_string(opts, "device"),
                                        static_cast<uint64_t>(get_int(opts, "seed")));
    return worker->QueueAndPromise();
  });
}

// createRouter([{name, modules}], defaultRoute) -> module: a Router over existing module handles, which it shares.
Napi::Value CreateRouter(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsArray()) fail(ErrorCode::Input, "argument 'routes' must be an array of {name, modules}");
    auto arr = info[0].As<Napi::Array>();
    std::vector<std::pair<std::string, ModuleList>> routes;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) fail(ErrorCode::Input, "routes entries must be {name, modules}");
      auto r = v.As<Napi::Object>();
      Napi::Value list = r.Get("modules");
      if (!list.IsArray()) fail(ErrorCode::Input, "routes[" + std::to_string(i) + "].modules must be an array of native module handles");
      ModuleList modules;
      for (uint32_t k = 0; k < list.As<Napi::Array>().Length(); ++k) modules.push_back(ModuleWrap::From(list.As<Napi::Array>().Get(k)));
      routes.emplace_back(get_string(r, "name"), std::move(modules));
    }
    if (info.Length() < 2 || !info[1].IsString()) fail(ErrorCode::Input, "argument 'defaultRoute' must be a string (\"\" for none)");
    return ModuleWrap::Create(info.Env(), std::make_shared<RouterModule>(std::move(routes), info[1].As<Napi::String>().Utf8Value()));
  });
}

// createMlmTransformer(transformer, head, tiedKey?) -> module: an encoder and its masked-LM head run as one pipeline
// module, sharing both handles; the decoder's weight tied to the encoder parameter `tiedKey` if given.
Napi::Value CreateMlmTransformer(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 2) fail(ErrorCode::Input, "createMlmTransformer needs a transformer and a head module handle");
    std::string tied_key;
    if (info.Length() > 2 && info[2].IsString()) tied_key = info[2].As<Napi::String>().Utf8Value();
    return ModuleWrap::Create(info.Env(), std::make_shared<MlmTransformerModule>(ModuleWrap::From(info[0]), ModuleWrap::From(info[1]), tied_key));
  });
}

}  // namespace

void register_st_modules(Napi::Env env, Napi::Object exports) {
  exports.Set("createModule", Napi::Function::New(env, CreateModule, "createModule"));
  exports.Set("loadModule", Napi::Function::New(env, LoadModule, "loadModule"));
  exports.Set("createRouter", Napi::Function::New(env, CreateRouter, "createRouter"));
  exports.Set("createMlmTransformer", Napi::Function::New(env, CreateMlmTransformer, "createMlmTransformer"));
}

}  // namespace sbert::js
