// Process-wide settings: the one list of them (name, environment variable, kind, allowed values), their values
// and where each came from. The API sets them (setSetting, and typed wrappers in TypeScript); an environment
// variable only gives a setting's default, read once. A call (an encode batch, a training step) reads them once,
// when it starts, into the ops::Context it passes to its layers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/context.h"

namespace sbert {

class Team;

struct SettingSpec {
  enum class Kind { Bool, Int, Choice };
  std::string name;  // as the API spells it, e.g. "linearBackend"
  std::string env;   // the environment variable that gives its default
  Kind kind;
  int64_t min = 0, max = 0;          // Int: the range
  std::vector<std::string> choices;  // Choice: the values
  std::string doc;
};

struct SettingValue {
  SettingSpec::Kind kind = SettingSpec::Kind::Int;
  bool boolean = false;
  int64_t integer = 0;
  std::string choice;
};

// Every setting, in a fixed order.
const std::vector<SettingSpec>& setting_specs();
SettingValue get_setting(const std::string& name);
// Where the value came from: "default", "environment" or "api".
std::string setting_source(const std::string& name);
// Checks the value against the spec (an Input error naming the setting and what it takes) and applies it.
void set_setting(const std::string& name, const SettingValue& value);

// Typed reads for native code.
ops::LinearBackend linear_backend();
void set_linear_backend(ops::LinearBackend backend);
kernels::Isa kernel_isa();
bool split_batches();
int64_t cpu_cache_limit_bytes();
bool malloc_tuning();
int64_t blas_threads_setting();  // 0: sbert-node decides
int64_t encode_concurrency();

// The context of a call starting now: a training step (`train`) or inference, with the helpers of `team` (may be
// null) and the current settings.
ops::Context call_context(bool train, Team* team);

}  // namespace sbert
