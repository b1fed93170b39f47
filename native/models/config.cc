#include "models/config.h"

#include <cmath>
#include <sstream>

#include "errors.h"

namespace sbert {

namespace {

std::string describe(const Json* v) {
  if (v == nullptr) return "nothing";
  switch (v->kind) {
    case Json::Kind::Null: return "null";
    case Json::Kind::Bool: return v->boolean ? "true" : "false";
    case Json::Kind::Number: {
      std::ostringstream out;
      out.precision(17);
      out << v->number;
      return out.str();
    }
    case Json::Kind::String: return "\"" + v->string + "\"";
    case Json::Kind::Array: return "an array";
    case Json::Kind::Object: return "an object";
  }
  return "?";
}

}  // namespace

const Json* ConfigReader::find(const std::string& field) const {
  auto it = json_.fields.find(field);
  if (it == json_.fields.end() || it->second.kind == Json::Kind::Null) return nullptr;
  return &it->second;
}

bool ConfigReader::has(const std::string& field) const { return find(field) != nullptr; }

void ConfigReader::fail(const std::string& field, const std::string& message) const {
  sbert::fail(ErrorCode::Config, file_ + ": field '" + prefix_ + field + "' " + message);
}

std::vector<std::string> ConfigReader::strings(const std::string& field) const {
  const Json* v = find(field);
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (v->kind != Json::Kind::Array) fail(field, "must be an array of strings, got " + describe(v));
  for (const auto& item : v->items) {
    if (item.kind != Json::Kind::String) fail(field, "must be an array of strings, got an item " + describe(&item));
    out.push_back(item.string);
  }
  return out;
}

ConfigReader ConfigReader::object(const std::string& field) const {
  const Json* v = find(field);
  if (v == nullptr) return ConfigReader(Json{Json::Kind::Object}, file_, prefix_ + field + ".");
  if (v->kind != Json::Kind::Object) fail(field, "must be an object, got " + describe(v));
  return ConfigReader(*v, file_, prefix_ + field + ".");
}

int64_t ConfigReader::integer(const std::string& field) const {
  const Json* v = find(field);
  if (v == nullptr || v->kind != Json::Kind::Number || v->number != std::floor(v->number) || std::fabs(v->number) > 9.007199254740991e15) {
    fail(field, "must be an integer, got " + describe(v));
  }
  return static_cast<int64_t>(v->number);
}

int64_t ConfigReader::integer(const std::string& field, int64_t fallback) const { return has(field) ? integer(field) : fallback; }

int64_t ConfigReader::size(const std::string& field, int64_t max) const {
  const int64_t v = integer(field);
  if (v <= 0 || v > max) fail(field, "must be a positive integer of at most " + std::to_string(max) + ", got " + std::to_string(v));
  return v;
}

int64_t ConfigReader::size(const std::string& field, int64_t max, int64_t fallback) const { return has(field) ? size(field, max) : fallback; }

double ConfigReader::number(const std::string& field) const {
  const Json* v = find(field);
  if (v == nullptr || v->kind != Json::Kind::Number || !std::isfinite(v->number)) fail(field, "must be a number, got " + describe(v));
  return v->number;
}

double ConfigReader::number(const std::string& field, double fallback) const { return has(field) ? number(field) : fallback; }

std::string ConfigReader::string(const std::string& field) const {
  const Json* v = find(field);
  if (v == nullptr || v->kind != Json::Kind::String) fail(field, "must be a string, got " + describe(v));
  return v->string;
}

std::string ConfigReader::string(const std::string& field, const std::string& fallback) const { return has(field) ? string(field) : fallback; }

bool ConfigReader::boolean(const std::string& field, bool fallback) const {
  const Json* v = find(field);
  if (v == nullptr) return fallback;
  if (v->kind != Json::Kind::Bool) fail(field, "must be true or false, got " + describe(v));
  return v->boolean;
}

}  // namespace sbert
