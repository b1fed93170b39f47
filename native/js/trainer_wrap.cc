#include "js/trainer_wrap.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <optional>

#include "js/addon_data.h"
#include "nn/layers.h"
#include "ops/pointwise.h"
#include "runtime/settings.h"
#include "js/boundary.h"
#include "js/encode_worker.h"
#include "js/module_wrap.h"
#include "js/process_group_wrap.h"
#include "runtime/threading.h"

namespace sbert::js {

namespace {

Napi::Object step_result_to_js(Napi::Env env, const Trainer::StepResult& r) {
  auto out = Napi::Object::New(env);
  out.Set("loss", r.loss);
  out.Set("lr", r.lr);
  out.Set("step", static_cast<double>(r.step));
  out.Set("gradNorm", r.grad_norm);
  return out;
}

// step(objective, columns, labels), accumulate(objective, columns, labels, scale, weights) and
// evalLoss(objective, columns, labels, weights) read the same arguments.
struct BatchArgs {
  size_t objective;
  std::vector<TokenBatch> columns;
  at::Tensor labels;
  std::optional<RegularizerWeights> weights;
};

// {loss, terms?: {name: value}}: a loss made of several parts names each.
Napi::Object loss_value_to_js(Napi::Env env, const Trainer::LossValue& v) {
  auto out = Napi::Object::New(env);
  out.Set("loss", v.loss);
  if (!v.terms.empty()) {
    auto terms = Napi::Object::New(env);
    for (const auto& t : v.terms) terms.Set(t.name, t.value);
    out.Set("terms", terms);
  }
  return out;
}

// A number, or null / undefined for none.
std::optional<double> optional_number(const Napi::Object& o, const char* key) {
  if (!o.Has(key)) return std::nullopt;
  const Napi::Value v = o.Get(key);
  if (v.IsNull() || v.IsUndefined()) return std::nullopt;
  return get_number(o, key);
}

// {document, query}: a SpladeLoss's regularizer weights (query null: no query term).
RegularizerWeights read_regularizer_weights(const Napi::Object& o, const char* document_key, const char* query_key) {
  RegularizerWeights w;
  w.document = get_number(o, document_key);
  w.query = optional_number(o, query_key);
  if (!std::isfinite(w.document) || w.document < 0 || (w.query && (!std::isfinite(*w.query) || *w.query < 0))) {
    fail(ErrorCode::Input, "regularizer weights must be finite numbers >= 0");
  }
  return w;
}
class TrainStepWorker : public PromiseWorker {
 public:
  TrainStepWorker(Napi::Env env, std::shared_ptr<Trainer> trainer, size_t objective, std::vector<TokenBatch> columns, at::Tensor labels)
      : PromiseWorker(env), trainer_(std::move(trainer)), objective_(objective), columns_(std::move(columns)), labels_(std::move(labels)) {}

 protected:
  void Run() override {
    at::init_num_threads();
    TrainScope gate;
    result_ = trainer_->step(objective_, columns_, labels_);
  }
  Napi::Value Result(Napi::Env env) override { return step_result_to_js(env, result_); }

 private:
  std::shared_ptr<Trainer> trainer_;
  size_t objective_;
  std::vector<TokenBatch> columns_;
  at::Tensor labels_;
  Trainer::StepResult result_{};
};

class AccumulateWorker : public PromiseWorker {
 public:
  AccumulateWorker(Napi::Env env, std::shared_ptr<Trainer> trainer, BatchArgs args, double scale, bool last)
      : PromiseWorker(env), trainer_(std::move(trainer)), args_(std::move(args)), scale_(scale), last_(last) {}

 protected:
  void Run() override {
    at::init_num_threads();
    TrainScope gate;
    result_ = trainer_->accumulate(args_.objective, args_.columns, args_.labels, scale_, args_.weights, last_);
  }
  Napi::Value Result(Napi::Env env) override { return loss_value_to_js(env, result_); }

 private:
  std::shared_ptr<Trainer> trainer_;
  BatchArgs args_;
  double scale_;
  bool last_;
  Trainer::LossValue result_{};
};

class EvalLossWorker : public PromiseWorker {
 public:
  EvalLossWorker(Napi::Env env, std::shared_ptr<Trainer> trainer, BatchArgs args) : PromiseWorker(env), trainer_(std::move(trainer)), args_(std::move(args)) {}

 protected:
  void Run() override {
    at::init_num_threads();
    TrainScope gate;
    result_ = trainer_->eval_loss(args_.objective, args_.columns, args_.labels, args_.weights);
  }
  Napi::Value Result(Napi::Env env) override { return loss_value_to_js(env, result_); }

 private:
  std::shared_ptr<Trainer> trainer_;
  BatchArgs args_;
  Trainer::LossValue result_{};
};

class OptimizerStepWorker : public PromiseWorker {
 public:
  OptimizerStepWorker(Napi::Env env, std::shared_ptr<Trainer> trainer) : PromiseWorker(env), trainer_(std::move(trainer)) {}

 protected:
  void Run() override {
    at::init_num_threads();
    TrainScope gate;
    result_ = trainer_->optimizer_step();
  }
  Napi::Value Result(Napi::Env env) override { return step_result_to_js(env, result_); }

 private:
  std::shared_ptr<Trainer> trainer_;
  Trainer::StepResult result_{};
};

DistanceFn parse_distance(const std::string& s) {
  if (s == "cosine") return DistanceFn::Cosine;
  if (s == "euclidean") return DistanceFn::Euclidean;
  if (s == "manhattan") return DistanceFn::Manhattan;
  fail(ErrorCode::Input, "distance must be cosine, euclidean or manhattan, got '" + s + "'");
}

at::Tensor read_labels(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return {};
  if (!v.IsObject()) fail(ErrorCode::Input, "labels must be {data, shape} or null");
  return read_float_tensor(v.As<Napi::Object>(), "labels");
}

}  // namespace

at::Tensor read_float_tensor(const Napi::Object& obj, const char* what) {
  auto data = obj.Get("data");
  if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    fail(ErrorCode::Input, std::string(what) + ".data must be a Float32Array");
  }
  auto arr = data.As<Napi::Float32Array>();
  auto shape = get_int_array(obj, "shape");
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (numel != static_cast<int64_t>(arr.ElementLength())) fail(ErrorCode::Input, std::string(what) + ": shape does not match the data length");
  auto t = at::empty(shape, at::kFloat);
  if (numel) std::memcpy(t.data_ptr<float>(), arr.Data(), static_cast<size_t>(numel) * sizeof(float));
  return t;
}

LossSpec read_loss_spec(const Napi::Object& o) {
  LossSpec s = LossSpec::parse(get_string(o, "loss"));
  if (o.Has("scale")) s.scale = get_number(o, "scale");
  if (o.Has("margin")) s.margin = get_number(o, "margin");
  if (o.Has("sizeAverage")) s.size_average = get_bool(o, "sizeAverage");
  if (o.Has("lossFct")) s.loss_fct = get_string(o, "lossFct");
  if (o.Has("cosScoreTransformation")) s.cos_score_transformation = get_string(o, "cosScoreTransformation");
  if (o.Has("similarity")) {
    const auto sim = get_string(o, "similarity");
    if (sim != "cosine" && sim != "dot") fail(ErrorCode::Input, "similarity must be cosine or dot");
    s.similarity = sim == "dot" ? SimilarityFn::Dot : SimilarityFn::Cosine;
  }
  if (o.Has("distance")) s.distance = parse_distance(get_string(o, "distance"));
  if (o.Has("numLabels")) s.num_labels = get_int(o, "numLabels");
  if (o.Has("concatRep")) s.concat_rep = get_bool(o, "concatRep");
  if (o.Has("concatDiff")) s.concat_diff = get_bool(o, "concatDiff");
  if (o.Has("concatMul")) s.concat_mul = get_bool(o, "concatMul");
  if (o.Has("miniBatchSize")) s.mini_batch_size = get_int(o, "miniBatchSize");
  if (o.Has("gatherAcrossDevices")) s.gather_across_devices = get_bool(o, "gatherAcrossDevices");
  if (o.Has("matryoshkaDims")) {
    s.matryoshka_dims = get_int_array(o, "matryoshkaDims");
    auto weights = o.Get("matryoshkaWeights");
    if (!weights.IsArray()) fail(ErrorCode::Input, "matryoshkaWeights must be an array");
    auto arr = weights.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) s.matryoshka_weights.push_back(arr.Get(i).As<Napi::Number>().DoubleValue());
    if (s.matryoshka_weights.size() != s.matryoshka_dims.size()) fail(ErrorCode::Input, "matryoshkaWeights and matryoshkaDims differ in length");
    if (o.Has("matryoshkaDimsPerStep")) s.matryoshka_dims_per_step = get_int(o, "matryoshkaDimsPerStep");
  }
  if (o.Has("activation")) s.activation = ops::parse_activation(get_string(o, "activation"), "activation");
  if (o.Has("posWeight")) s.pos_weight = get_number(o, "posWeight");
  if (o.Has("weightingScheme")) {
    const auto w = get_string(o, "weightingScheme");
    if (w == "none") s.weighting = LambdaWeighting::None;
    else if (w == "NDCGLoss1Scheme") s.weighting = LambdaWeighting::NDCGLoss1;
    else if (w == "NDCGLoss2Scheme") s.weighting = LambdaWeighting::NDCGLoss2;
    else if (w == "LambdaRankScheme") s.weighting = LambdaWeighting::LambdaRank;
    else if (w == "NDCGLoss2PPScheme") s.weighting = LambdaWeighting::NDCGLoss2PP;
    else fail(ErrorCode::Input, "weightingScheme must be none, NDCGLoss1Scheme, NDCGLoss2Scheme, LambdaRankScheme or NDCGLoss2PPScheme");
  }
  if (o.Has("mu")) s.mu = get_number(o, "mu");
  if (o.Has("k")) s.k = get_int(o, "k");
  if (o.Has("sigma")) s.sigma = get_number(o, "sigma");
  if (o.Has("eps")) s.eps = get_number(o, "eps");
  for (auto [key, field] : {std::pair<const char*, double*>{"studentTemperature", &s.student_temperature}, {"teacherTemperature", &s.teacher_temperature}}) {
    if (!o.Has(key)) continue;
    *field = get_number(o, key);
    if (!(*field > 0) || !std::isfinite(*field)) fail(ErrorCode::Input, std::string(key) + " must be a positive finite number");
  }
  if (o.Has("temperature")) {
    s.temperature = get_number(o, "temperature");
    if (!(s.temperature > 0) || !std::isfinite(s.temperature)) fail(ErrorCode::Input, "temperature must be a positive finite number");
  }
  if (o.Has("marginStrategy")) {
    const auto m = get_string(o, "marginStrategy");
    if (m != "absolute" && m != "relative") fail(ErrorCode::Input, "marginStrategy must be absolute or relative, got '" + m + "'");
    s.margin_relative = m == "relative";
  }
  if (o.Has("contrastAnchors")) s.contrast_anchors = get_bool(o, "contrastAnchors");
  if (o.Has("contrastPositives")) s.contrast_positives = get_bool(o, "contrastPositives");
  if (o.Has("positiveMargin")) s.positive_margin = get_number(o, "positiveMargin");
  if (o.Has("negativeMargin")) s.negative_margin = get_number(o, "negativeMargin");
  if (o.Has("splade")) {
    const auto r = get_object(o, "splade");
    SpladeRegularizers splade;
    splade.weights = read_regularizer_weights(r, "documentRegularizerWeight", "queryRegularizerWeight");
    splade.document_threshold = optional_number(r, "documentRegularizerThreshold");
    splade.query_threshold = optional_number(r, "queryRegularizerThreshold");
    splade.document_only = r.Has("useDocumentRegularizerOnly") && get_bool(r, "useDocumentRegularizerOnly");
    s.splade = splade;
  }
  if (o.Has("adaptiveLayer")) {
    const auto r = get_object(o, "adaptiveLayer");
    AdaptiveLayers a;
    if (r.Has("nLayersPerStep")) a.layers_per_step = get_int(r, "nLayersPerStep");
    for (auto [key, field] : {std::pair<const char*, double*>{"lastLayerWeight", &a.last_layer_weight},
                              {"priorLayersWeight", &a.prior_layers_weight},
                              {"klDivWeight", &a.kl_div_weight},
                              {"klTemperature", &a.kl_temperature}}) {
      if (!r.Has(key)) continue;
      *field = get_number(r, key);
      if (!std::isfinite(*field)) fail(ErrorCode::Input, std::string("adaptiveLayer.") + key + " must be a finite number");
    }
    if (r.Has("layerWeighting")) {
      const auto w = get_string(r, "layerWeighting");
      if (w == "uniform") a.weighting = LayerWeighting::Uniform;
      else if (w == "log") a.weighting = LayerWeighting::Log;
      else if (w == "linear") a.weighting = LayerWeighting::Linear;
      else fail(ErrorCode::Input, "adaptiveLayer.layerWeighting must be uniform, log or linear, got '" + w + "'");
    }
    if (s.cached()) fail(ErrorCode::Input, "AdaptiveLayerLoss cannot wrap a loss with a gradient cache (miniBatchSize)");
    s.adaptive = a;
  }
  if (o.Has("reductionLog")) {
    const auto r = get_string(o, "reductionLog");
    if (r != "natural" && r != "binary") fail(ErrorCode::Input, "reductionLog must be natural or binary");
    s.natural_log = r == "natural";
  }
  return s;
}

Napi::Function TrainerWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeTrainer",
                     {
                         InstanceMethod<&TrainerWrap::Step>("step"),
                         InstanceMethod<&TrainerWrap::Accumulate>("accumulate"),
                         InstanceMethod<&TrainerWrap::OptimizerStep>("optimizerStep"),
                         InstanceMethod<&TrainerWrap::EvalLoss>("evalLoss"),
                         InstanceAccessor<&TrainerWrap::StepCount>("stepCount"),
                         InstanceAccessor<&TrainerWrap::CommunicationSeconds>("communicationSeconds"),
                         InstanceMethod<&TrainerWrap::LrAt>("lrAt"),
                         InstanceMethod<&TrainerWrap::State>("state"),
                         InstanceMethod<&TrainerWrap::LoadState>("loadState"),
                         InstanceMethod<&TrainerWrap::RngState>("rngState"),
                         InstanceMethod<&TrainerWrap::SetRngState>("setRngState"),
                         InstanceMethod<&TrainerWrap::Dispose>("dispose"),
                     });
}

TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeTrainer is created by createTrainer, not with new");
  }
  trainer_ = *info[0].As<Napi::External<std::shared_ptr<Trainer>>>().Data();
}

std::shared_ptr<Trainer> TrainerWrap::get() const {
  if (!trainer_) fail(ErrorCode::Disposed, "the trainer was disposed");
  return trainer_;
}

namespace {

BatchArgs read_batch_args(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsArray()) fail(ErrorCode::Input, usage);
  const int64_t objective = info[0].As<Napi::Number>().Int64Value();
  if (objective < 0) fail(ErrorCode::Input, "objective must be >= 0");
  auto arr = info[1].As<Napi::Array>();
  std::vector<TokenBatch> columns;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) fail(ErrorCode::Input, "each column must be a token batch");
    columns.push_back(read_token_batch(v.As<Napi::Object>()));
  }
  return {static_cast<size_t>(objective), std::move(columns), read_labels(info[2]), std::nullopt};
}

// The optional weights argument at `index`: {document, query} or undefined.
std::optional<RegularizerWeights> read_weights_arg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) return std::nullopt;
  if (!info[index].IsObject()) fail(ErrorCode::Input, "regularizer weights must be {document, query}");
  return read_regularizer_weights(info[index].As<Napi::Object>(), "document", "query");
}

}  // namespace

Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    BatchArgs a = read_batch_args(info, "step(objective, columns, labels)");
    auto* worker = new TrainStepWorker(info.Env(), get(), a.objective, std::move(a.columns), std::move(a.labels));
    return worker->QueueAndPromise();
  });
}

Napi::Value TrainerWrap::Accumulate(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const char* usage = "accumulate(objective, columns, labels, scale, weights?, lastOfStep?)";
    BatchArgs a = read_batch_args(info, usage);
    if (info.Length() < 4 || !info[3].IsNumber()) fail(ErrorCode::Input, usage);
    a.weights = read_weights_arg(info, 4);
    const double scale = info[3].As<Napi::Number>().DoubleValue();
    const bool last = info.Length() > 5 && info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
    auto* worker = new AccumulateWorker(info.Env(), get(), std::move(a), scale, last);
    return worker->QueueAndPromise();
  });
}

Napi::Value TrainerWrap::EvalLoss(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    BatchArgs a = read_batch_args(info, "evalLoss(objective, columns, labels, weights?)");
    a.weights = read_weights_arg(info, 3);
    auto* worker = new EvalLossWorker(info.Env(), get(), std::move(a));
    return worker->QueueAndPromise();
  });
}

Napi::Value TrainerWrap::OptimizerStep(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return (new OptimizerStepWorker(info.Env(), get()))->QueueAndPromise(); });
}

Napi::Value TrainerWrap::CommunicationSeconds(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), get()->communication_seconds()); });
}

Napi::Value TrainerWrap::StepCount(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(get()->step_count())); });
}

Napi::Value TrainerWrap::LrAt(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) fail(ErrorCode::Input, "lrAt(step) needs a step number");
    return Napi::Number::New(info.Env(), get()->lr_at(info[0].As<Napi::Number>().Int64Value()));
  });
}

Napi::Value TrainerWrap::State(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return named_tensors_to_js(info.Env(), get()->state()); });
}

Napi::Value TrainerWrap::LoadState(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber()) fail(ErrorCode::Input, "loadState(tensors, stepCount)");
    auto arr = info[0].As<Napi::Array>();
    NamedTensors tensors;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) fail(ErrorCode::Input, "state entries must be objects");
      auto o = v.As<Napi::Object>();
      tensors.emplace_back(get_string(o, "name"), read_float_tensor(o, "state"));
    }
    get()->load_state(tensors, info[1].As<Napi::Number>().Int64Value());
    return info.Env().Undefined();
  });
}

Napi::Value TrainerWrap::Dispose(const Napi::CallbackInfo& info) {
  trainer_.reset();
  return info.Env().Undefined();
}

Napi::Value CreateTrainer(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsObject()) {
      fail(ErrorCode::Input, "createTrainer(modules, objectives, optimizer)");
    }
    ModuleList modules;
    auto marr = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < marr.Length(); ++i) modules.push_back(ModuleWrap::From(marr.Get(i)));
    if (modules.empty()) fail(ErrorCode::Input, "the model has no modules");
    const at::Device device = modules.front()->device();
    std::vector<Objective> objectives;
    auto oarr = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < oarr.Length(); ++i) {
      Napi::Value v = oarr.Get(i);
      if (!v.IsObject()) fail(ErrorCode::Input, "objectives must be loss specs");
      auto o = v.As<Napi::Object>();
      Objective obj{read_loss_spec(o), nullptr};
      if (obj.loss.kind == LossKind::Softmax) {
        int64_t parts = (obj.loss.concat_rep ? 2 : 0) + (obj.loss.concat_diff ? 1 : 0) + (obj.loss.concat_mul ? 1 : 0);
        obj.head = std::make_shared<nn::Linear>(parts * get_int(o, "embeddingDimension"), obj.loss.num_labels);
        obj.head->reset_uniform(static_cast<uint64_t>(get_int(o, "seed")));
        obj.head->to(device);
      }
      objectives.push_back(std::move(obj));
    }
    auto c = info[2].As<Napi::Object>();
    OptimizerConfig config;
    config.lr = get_number(c, "lr");
    config.weight_decay = get_number(c, "weightDecay");
    config.beta1 = get_number(c, "beta1");
    config.beta2 = get_number(c, "beta2");
    config.eps = get_number(c, "eps");
    config.max_grad_norm = get_number(c, "maxGradNorm");
    config.scheduler = get_string(c, "scheduler");
    if (c.Has("schedule")) {
      auto o = get_object(c, "schedule");
      if (o.Has("numCycles")) config.schedule.num_cycles = get_number(o, "numCycles");
      if (o.Has("power")) config.schedule.power = get_number(o, "power");
      if (o.Has("endRate")) config.schedule.end_rate = get_number(o, "endRate");
      if (o.Has("minLrRate")) config.schedule.min_lr_rate = get_number(o, "minLrRate");
      if (o.Has("timescale")) config.schedule.timescale = get_int(o, "timescale");
    }
    config.warmup_steps = get_int(c, "warmupSteps");
    config.total_steps = get_int(c, "totalSteps");
    config.use_amp = get_bool(c, "useAmp");
    config.gradient_checkpointing = c.Has("gradientCheckpointing") && get_bool(c, "gradientCheckpointing");
    DataParallel parallel;
    if (info.Length() > 3 && info[3].IsObject()) {
      auto p = info[3].As<Napi::Object>();
      parallel.group = ProcessGroupWrap::From(p.Get("group"));
      parallel.bucket_bytes = get_int(p, "bucketBytes");
      if (parallel.bucket_bytes < 1) fail(ErrorCode::Input, "bucketBytes must be positive");
    }
    auto trainer = std::make_shared<Trainer>(std::move(modules), std::move(objectives), config, static_cast<uint64_t>(get_int(c, "seed")), std::move(parallel));
    auto holder = Napi::External<std::shared_ptr<Trainer>>::New(info.Env(), &trainer);
    return AddonData::Get(info.Env()).trainer_constructor.New({holder});
  });
}

Napi::Value LossAndGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsArray()) fail(ErrorCode::Input, "lossAndGrad(spec, embeddings, labels, head)");
    LossSpec spec = read_loss_spec(info[0].As<Napi::Object>());
    std::vector<at::Tensor> embeddings;
    auto arr = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) fail(ErrorCode::Input, "embeddings must be {data, shape} objects");
      embeddings.push_back(read_float_tensor(v.As<Napi::Object>(), "embedding").requires_grad_(true));
    }
    at::Tensor labels = info.Length() > 2 ? read_labels(info[2]) : at::Tensor();
    std::shared_ptr<nn::Linear> head;
    if (info.Length() > 3 && info[3].IsObject()) {
      auto h = info[3].As<Napi::Object>();
      auto w = read_float_tensor(get_object(h, "weight"), "head.weight");
      auto b = read_float_tensor(get_object(h, "bias"), "head.bias");
      head = std::make_shared<nn::Linear>(w.size(1), w.size(0));
      c10::NoGradGuard no_grad;
      head->weight.copy_(w);
      head->bias.copy_(b);
    }
    std::vector<LossTerm> terms;
    auto loss = compute_loss(spec, embeddings, labels, head.get(), &terms);
    loss.backward();
    auto out = loss_value_to_js(env, {loss.item<double>(), terms});
    NamedTensors grads;
    for (size_t i = 0; i < embeddings.size(); ++i) {
      auto g = embeddings[i].grad();
      grads.emplace_back(std::to_string(i), g.defined() ? g : at::zeros_like(embeddings[i]));
    }
    out.Set("grads", named_tensors_to_js(env, grads));
    if (head) out.Set("headGrads", named_tensors_to_js(env, {{"weight", head->weight.grad()}, {"bias", head->bias.grad()}}));
    return out;
  });
}

Napi::Value Dropout(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber()) fail(ErrorCode::Input, "dropout(x, p) needs a {data, shape} tensor and a number");
    const double p = info[1].As<Napi::Number>().DoubleValue();
    if (!(p >= 0 && p < 1)) fail(ErrorCode::Input, "dropout: p must be in [0, 1), got " + std::to_string(p));
    c10::NoGradGuard no_grad;
    return tensor_to_js(info.Env(), ops::train_dropout(read_float_tensor(info[0].As<Napi::Object>(), "x"), p, at::Generator(), kernel_isa()).contiguous().clone());
  });
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) fail(ErrorCode::Input, "manualSeed(seed) needs a number");
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
    return info.Env().Undefined();
  });
}

Napi::Uint8Array bytes_to_js(Napi::Env env, const at::Tensor& bytes) {
  auto out = Napi::Uint8Array::New(env, static_cast<size_t>(bytes.numel()));
  std::memcpy(out.Data(), bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()));
  return out;
}

at::Tensor bytes_from_js(const Napi::CallbackInfo& info, const char* what) {
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    fail(ErrorCode::Input, std::string(what) + " needs a Uint8Array");
  }
  auto arr = info[0].As<Napi::Uint8Array>();
  auto state = at::empty({static_cast<int64_t>(arr.ElementLength())}, at::kByte);
  std::memcpy(state.data_ptr<uint8_t>(), arr.Data(), arr.ElementLength());
  return state;
}

Napi::Value RngState(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return bytes_to_js(info.Env(), gen.get_state().contiguous());
  });
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto state = bytes_from_js(info, "setRngState(state)");
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
    return info.Env().Undefined();
  });
}

Napi::Value TrainerWrap::RngState(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return bytes_to_js(info.Env(), get()->rng_state()); });
}

Napi::Value TrainerWrap::SetRngState(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    get()->set_rng_state(bytes_from_js(info, "setRngState(state)"));
    return info.Env().Undefined();
  });
}

}  // namespace sbert::js
