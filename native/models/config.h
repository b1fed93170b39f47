// config.json as native code reads it: the JSON values TypeScript parsed, and a reader whose every error names the
// file and the field.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sbert {

struct Json {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
};

class ConfigReader {
 public:
  ConfigReader(Json json, std::string file, std::string prefix = "") : json_(std::move(json)), file_(std::move(file)), prefix_(std::move(prefix)) {}

  // Present and not null.
  bool has(const std::string& field) const;
  int64_t integer(const std::string& field) const;
  int64_t integer(const std::string& field, int64_t fallback) const;
  // A positive integer of at most `max` (sizes are bounded before anything is allocated from them).
  int64_t size(const std::string& field, int64_t max) const;
  int64_t size(const std::string& field, int64_t max, int64_t fallback) const;
  double number(const std::string& field) const;
  double number(const std::string& field, double fallback) const;
  std::string string(const std::string& field) const;
  std::string string(const std::string& field, const std::string& fallback) const;
  bool boolean(const std::string& field, bool fallback) const;
  // An array of strings (empty when absent).
  std::vector<std::string> strings(const std::string& field) const;
  // A nested object's reader (its errors name "field.key"); absent or null: an empty object.
  ConfigReader object(const std::string& field) const;

  // A Config error: "<file>: field '<field>' <message>".
  [[noreturn]] void fail(const std::string& field, const std::string& message) const;
  const std::string& file() const { return file_; }
  const Json& json() const { return json_; }

 private:
  const Json* find(const std::string& field) const;
  Json json_;
  std::string file_;
  std::string prefix_;  // a nested object's field and a dot
};

}  // namespace sbert
