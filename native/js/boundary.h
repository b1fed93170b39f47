// The one place where C++ exceptions become JavaScript errors, plus the AsyncWorker base every long call uses
// and small readers for the option objects TypeScript has already validated.
#pragma once

#include <ATen/core/Tensor.h>
#include <napi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "models/config.h"

namespace sbert::js {

struct ErrorInfo {
  ErrorCode code = ErrorCode::Native;
  std::string message;
};

// Describes the exception being handled (call inside a catch block).
ErrorInfo describe_current_exception();

// An Error whose `sbertCode` property the TypeScript side turns into an SbertError.
Napi::Error make_error(Napi::Env env, const ErrorInfo& info);

// Runs `fn` on the JS thread, rethrowing any C++ exception as a JS error.
template <typename F>
Napi::Value guarded(Napi::Env env, F&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw make_error(env, describe_current_exception());
  }
}

// One AsyncWorker per long call, each owning its Promise. Subclasses copy their inputs in the constructor,
// do the work in Run() on a libuv thread and build the result in Result() back on the JS thread.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise QueueAndPromise() {
    Queue();
    return deferred_.Promise();
  }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& e) final;
  Napi::Promise::Deferred deferred_;
  ErrorInfo error_;
};

// Readers for plain option objects; a missing or mistyped field is an Input error naming it.
int64_t get_int(const Napi::Object& obj, const char* key);
double get_number(const Napi::Object& obj, const char* key);
bool get_bool(const Napi::Object& obj, const char* key);
std::string get_string(const Napi::Object& obj, const char* key);
std::vector<int64_t> get_int_array(const Napi::Object& obj, const char* key);
std::vector<std::string> get_string_array(const Napi::Object& obj, const char* key);
Napi::Object get_object(const Napi::Object& obj, const char* key);
// A JSON value (a parsed config.json), copied.
Json get_json(const Napi::Object& obj, const char* key);
// Copies an Int32Array field.
std::vector<int32_t> get_int32s(const Napi::Object& obj, const char* key);

// A Float32Array that owns a copy of `count` floats.
Napi::Float32Array float32_array(Napi::Env env, const float* data, size_t count);
// Named tensors as [{name, shape, data: Float32Array}], each copied to the CPU as float32.
Napi::Array named_tensors_to_js(Napi::Env env, const std::vector<std::pair<std::string, at::Tensor>>& tensors);

}  // namespace sbert::js
