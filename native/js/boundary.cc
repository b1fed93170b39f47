#include "js/boundary.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <new>

namespace sbert::js {


ErrorInfo describe_current_exception() {
  try {
    throw;
  } catch (const SbertException& e) {
    return {e.code(), e.what()};
  } catch (const c10::Error& e) {
    // libtorch's message without its C++ backtrace
    return {ErrorCode::Native, e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {ErrorCode::Native, "out of memory"};
  } catch (const std::exception& e) {
    return {ErrorCode::Native, e.what()};
  } catch (...) {
    return {ErrorCode::Native, "unknown native error"};
  }
}

Napi::Error make_error(Napi::Env env, const ErrorInfo& info) {
  auto error = Napi::Error::New(env, info.message);
  error.Value().Set("sbertCode", Napi::String::New(env, error_code_name(info.code)));
  return error;
}

void PromiseWorker::Execute() {
  try {
    Run();
  } catch (...) {
    error_ = describe_current_exception();
    SetError(error_.message);
  }
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  try {
    deferred_.Resolve(Result(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (...) {
    deferred_.Reject(make_error(env, describe_current_exception()).Value());
  }
}

void PromiseWorker::OnError(const Napi::Error&) {
  Napi::HandleScope scope(Env());
  deferred_.Reject(make_error(Env(), error_).Value());
}

namespace {

Napi::Value field(const Napi::Object& obj, const char* key) {
  if (!obj.Has(key)) fail(ErrorCode::Input, std::string("missing field '") + key + "'");
  return obj.Get(key);
}

[[noreturn]] void wrong_type(const char* key, const char* expected) {
  fail(ErrorCode::Input, std::string("field '") + key + "' must be " + expected);
}

}  // namespace

int64_t get_int(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsNumber()) wrong_type(key, "a number");
  return v.As<Napi::Number>().Int64Value();
}

double get_number(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsNumber()) wrong_type(key, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool get_bool(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsBoolean()) wrong_type(key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string get_string(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsString()) wrong_type(key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object get_object(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsObject()) wrong_type(key, "an object");
  return v.As<Napi::Object>();
}

std::vector<int64_t> get_int_array(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsArray()) wrong_type(key, "an array of numbers");
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsNumber()) wrong_type(key, "an array of numbers");
    out[i] = item.As<Napi::Number>().Int64Value();
  }
  return out;
}

std::vector<std::string> get_string_array(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsArray()) wrong_type(key, "an array of strings");
  auto arr = v.As<Napi::Array>();
  std::vector<std::string> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsString()) wrong_type(key, "an array of strings");
    out[i] = item.As<Napi::String>().Utf8Value();
  }
  return out;
}

std::vector<int32_t> get_int32s(const Napi::Object& obj, const char* key) {
  auto v = field(obj, key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) wrong_type(key, "an Int32Array");
  auto arr = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(arr.Data(), arr.Data() + arr.ElementLength());
}

namespace {

Json json_of(const Napi::Value& v, const char* key, int depth) {
  // config.json files nest a few levels; anything deeper is not a configuration.
  if (depth > 32) fail(ErrorCode::Input, std::string("field '") + key + "' nests more than 32 levels");
  Json out;
  if (v.IsBoolean()) {
    out.kind = Json::Kind::Bool;
    out.boolean = v.As<Napi::Boolean>().Value();
  } else if (v.IsNumber()) {
    out.kind = Json::Kind::Number;
    out.number = v.As<Napi::Number>().DoubleValue();
  } else if (v.IsString()) {
    out.kind = Json::Kind::String;
    out.string = v.As<Napi::String>().Utf8Value();
  } else if (v.IsArray()) {
    out.kind = Json::Kind::Array;
    auto arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) out.items.push_back(json_of(arr.Get(i), key, depth + 1));
  } else if (v.IsObject()) {
    out.kind = Json::Kind::Object;
    auto obj = v.As<Napi::Object>();
    auto names = obj.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
      out.fields.emplace(name, json_of(obj.Get(name), key, depth + 1));
    }
  }
  return out;
}

}  // namespace

Json get_json(const Napi::Object& obj, const char* key) { return json_of(field(obj, key), key, 0); }

Napi::Float32Array float32_array(Napi::Env env, const float* data, size_t count) {
  auto out = Napi::Float32Array::New(env, count);
  if (count) std::memcpy(out.Data(), data, count * sizeof(float));
  return out;
}

Napi::Array named_tensors_to_js(Napi::Env env, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  auto out = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t0] = tensors[i];
    auto t = t0.to(at::kCPU, at::kFloat).contiguous();
    auto entry = Napi::Object::New(env);
    entry.Set("name", name);
    auto shape = Napi::Array::New(env, t.dim());
    for (int64_t d = 0; d < t.dim(); ++d) shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(t.size(d))));
    entry.Set("shape", shape);
    entry.Set("data", float32_array(env, t.data_ptr<float>(), static_cast<size_t>(t.numel())));
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

}  // namespace sbert::js
