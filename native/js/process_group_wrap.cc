#include "js/process_group_wrap.h"

#include <functional>

#include "js/addon_data.h"
#include "js/boundary.h"

namespace sbert::js {

namespace {

// Runs `work` on a worker thread; the promise resolves to what `result` makes of it on the JS thread.
class GroupWorker : public PromiseWorker {
 public:
  GroupWorker(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> result)
      : PromiseWorker(env), work_(std::move(work)), result_(std::move(result)) {}

 protected:
  void Run() override { work_(); }
  Napi::Value Result(Napi::Env env) override { return result_(env); }

 private:
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
};

}  // namespace

Napi::Function ProcessGroupWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeProcessGroup",
                     {
                         InstanceAccessor<&ProcessGroupWrap::Rank>("rank"),
                         InstanceAccessor<&ProcessGroupWrap::WorldSize>("worldSize"),
                         InstanceMethod<&ProcessGroupWrap::Allreduce>("allreduce"),
                         InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
                         InstanceMethod<&ProcessGroupWrap::Dispose>("dispose"),
                     });
}

ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeProcessGroup is created by createProcessGroup, not with new");
  }
  group_ = *info[0].As<Napi::External<std::shared_ptr<dist::Group>>>().Data();
}

std::shared_ptr<dist::Group> ProcessGroupWrap::From(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(AddonData::Get(value.Env()).process_group_constructor.Value())) {
    fail(ErrorCode::Input, "expected a native process group handle");
  }
  auto* wrap = Unwrap(value.As<Napi::Object>());
  if (!wrap->group_) fail(ErrorCode::Disposed, "the process group was disposed");
  return wrap->group_;
}

Napi::Value ProcessGroupWrap::Rank(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(From(Value())->rank())); });
}

Napi::Value ProcessGroupWrap::WorldSize(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(From(Value())->world_size())); });
}

Napi::Value ProcessGroupWrap::Allreduce(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto group = From(Value());
    if (info.Length() < 1 || !info[0].IsArray()) fail(ErrorCode::Input, "allreduce(values, op): values must be an array of numbers");
    const std::string op = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "sum";
    if (op != "sum" && op != "max") fail(ErrorCode::Input, "allreduce: op must be 'sum' or 'max', got '" + op + "'");
    auto arr = info[0].As<Napi::Array>();
    auto values = std::make_shared<std::vector<double>>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsNumber()) fail(ErrorCode::Input, "allreduce: values must be numbers");
      values->push_back(v.As<Napi::Number>().DoubleValue());
    }
    const bool max = op == "max";
    auto* worker = new GroupWorker(
        info.Env(), [group, values, max] { group->allreduce(*values, max); },
        [values](Napi::Env env) -> Napi::Value {
          auto out = Napi::Array::New(env, values->size());
          for (size_t i = 0; i < values->size(); ++i) out.Set(static_cast<uint32_t>(i), (*values)[i]);
          return out;
        });
    return worker->QueueAndPromise();
  });
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto group = From(Value());
    auto* worker = new GroupWorker(info.Env(), [group] { group->barrier(); }, [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
    return worker->QueueAndPromise();
  });
}

Napi::Value ProcessGroupWrap::Dispose(const Napi::CallbackInfo& info) {
  group_.reset();
  return info.Env().Undefined();
}

Napi::Value CreateProcessGroup(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsObject()) fail(ErrorCode::Input, "createProcessGroup({rank, worldSize, masterAddr, masterPort, timeoutMs})");
    auto o = info[0].As<Napi::Object>();
    dist::GroupOptions options;
    options.rank = get_int(o, "rank");
    options.world_size = get_int(o, "worldSize");
    options.master_addr = get_string(o, "masterAddr");
    options.master_port = get_int(o, "masterPort");
    options.timeout_ms = get_int(o, "timeoutMs");
    auto group = std::make_shared<std::shared_ptr<dist::Group>>();
    auto* worker = new GroupWorker(
        info.Env(), [group, options] { *group = std::make_shared<dist::Group>(options); },
        [group](Napi::Env env) -> Napi::Value {
          auto holder = Napi::External<std::shared_ptr<dist::Group>>::New(env, group.get());
          return AddonData::Get(env).process_group_constructor.New({holder});
        });
    return worker->QueueAndPromise();
  });
}

Napi::Value DistributedAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), dist::available()); }

}  // namespace sbert::js
