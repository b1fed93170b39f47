#include "runtime/settings.h"

#include <ATen/Context.h>

#include <cstdlib>
#include <mutex>

#include "errors.h"
#include "kernels/kernels.h"
#include "runtime/cpu_allocator.h"
#include "runtime/team.h"
#include "runtime/threading.h"

namespace sbert {

namespace {

using Kind = SettingSpec::Kind;

const std::vector<SettingSpec>& specs() {
  static const std::vector<SettingSpec> all = {
      {"linearBackend", "SBERT_NODE_LINEAR_BACKEND", Kind::Choice, 0, 0, {"auto", "blas", "onednn"},
       "how float32 inference runs its products: sbert-node's kernels where they pay and BLAS (oneDNN on AVX-512) elsewhere, libtorch's ops only, or oneDNN"},
      {"kernelIsa", "SBERT_NODE_KERNEL_ISA", Kind::Choice, 0, 0, {"auto", "generic", "avx2", "avx512"},
       "the instruction set sbert-node's kernels run on: the best this CPU has, or one named (generic: portable C++, for checks)"},
      {"splitBatches", "SBERT_NODE_SPLIT_BATCHES", Kind::Bool, 0, 0, {},
       "an encode batch borrows idle cores for its products over few rows and its attention"},
      {"cpuCacheMb", "SBERT_NODE_CPU_CACHE_MB", Kind::Int, 0, int64_t{1} << 22, {},
       "MiB of freed CPU blocks kept for reuse by the next batch; 0 keeps none (and no training arena)"},
      {"mallocTuning", "SBERT_NODE_MALLOC_TUNING", Kind::Bool, 0, 0, {},
       "glibc malloc keeps freed memory for reuse instead of handing each large block back"},
      {"blasThreads", "SBERT_NODE_BLAS_THREADS", Kind::Int, 0, 1024, {},
       "OpenBLAS threads; 0: one per encode lane, every core during training (unless OPENBLAS_NUM_THREADS is set)"},
      {"encodeConcurrency", "SBERT_NODE_ENCODE_CONCURRENCY", Kind::Int, 0, 1024, {},
       "encode batches run side by side; 0: one per core the libuv pool can use"},
  };
  return all;
}

const SettingSpec& spec_of(const std::string& name) {
  for (const auto& s : specs()) {
    if (s.name == name) return s;
  }
  std::string known;
  for (const auto& s : specs()) known += (known.empty() ? "" : ", ") + s.name;
  fail(ErrorCode::Input, "unknown setting '" + name + "' (settings: " + known + ")");
}

SettingValue default_of(const SettingSpec& s) {
  SettingValue v;
  v.kind = s.kind;
  if (s.name == "linearBackend" || s.name == "kernelIsa") v.choice = "auto";
  if (s.name == "splitBatches" || s.name == "mallocTuning") v.boolean = true;
  if (s.name == "cpuCacheMb") v.integer = 2048;
  return v;
}

// An environment variable's value as the setting's kind; false when it is not one.
bool parse_env(const SettingSpec& s, const std::string& text, SettingValue& out) {
  out.kind = s.kind;
  switch (s.kind) {
    case Kind::Bool:
      if (text == "0" || text == "false") return out.boolean = false, true;
      if (text == "1" || text == "true") return out.boolean = true, true;
      return false;
    case Kind::Int: {
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (end == text.c_str() || *end != '\0' || v < s.min || v > s.max) return false;
      out.integer = v;
      return true;
    }
    case Kind::Choice:
      for (const auto& c : s.choices) {
        if (c == text) return out.choice = c, true;
      }
      return false;
  }
  return false;
}

struct Store {
  std::mutex mutex;
  std::vector<SettingValue> values;
  std::vector<std::string> sources;
  Store() {
    for (const auto& s : specs()) {
      SettingValue v = default_of(s);
      std::string source = "default";
      const char* env = std::getenv(s.env.c_str());
      // An unparsable variable leaves the default (backendInfo shows where each value came from).
      if (env != nullptr && parse_env(s, env, v)) source = "environment";
      values.push_back(v);
      sources.push_back(source);
    }
  }
};

Store& store() {
  static Store* s = new Store();
  return *s;
}

size_t index_of(const std::string& name) {
  const auto& all = specs();
  const SettingSpec& s = spec_of(name);
  return static_cast<size_t>(&s - all.data());
}

void check(const SettingSpec& s, const SettingValue& v) {
  auto wrong = [&](const std::string& expected) { fail(ErrorCode::Input, "setting '" + s.name + "' takes " + expected); };
  if (v.kind != s.kind) {
    wrong(s.kind == Kind::Bool ? "true or false" : s.kind == Kind::Int ? "an integer" : "a string");
  }
  if (s.kind == Kind::Int && (v.integer < s.min || v.integer > s.max)) {
    wrong("an integer from " + std::to_string(s.min) + " to " + std::to_string(s.max) + ", got " + std::to_string(v.integer));
  }
  if (s.kind == Kind::Choice) {
    std::string list;
    bool ok = false;
    for (const auto& c : s.choices) {
      list += (list.empty() ? "\"" : ", \"") + c + "\"";
      ok = ok || c == v.choice;
    }
    if (!ok) wrong("one of " + list + ", got \"" + v.choice + "\"");
    if (s.name == "linearBackend" && v.choice == "onednn" && !at::hasMKLDNN()) {
      fail(ErrorCode::Input, "setting 'linearBackend': this libtorch was built without oneDNN (MKLDNN)");
    }
    if (s.name == "kernelIsa" && v.choice != "auto" && !kernels::supported(*kernels::parse_isa(v.choice))) {
      fail(ErrorCode::Input, "setting 'kernelIsa': this CPU cannot run \"" + v.choice + "\" (the best it has is \"" +
                                 kernels::isa_name(kernels::best_isa()) + "\")");
    }
  }
}

// Puts a value into effect where it is not simply read when needed.
void apply(const SettingSpec& s, const SettingValue& v) {
  if (s.name == "mallocTuning") set_malloc_tuning(v.boolean);
  else if (s.name == "cpuCacheMb") set_cpu_cache_limit(static_cast<size_t>(v.integer) << 20);
  else if (s.name == "blasThreads") refresh_blas_threads();
}

}  // namespace

const std::vector<SettingSpec>& setting_specs() { return specs(); }

SettingValue get_setting(const std::string& name) {
  const size_t i = index_of(name);
  std::lock_guard<std::mutex> lock(store().mutex);
  return store().values[i];
}

std::string setting_source(const std::string& name) {
  const size_t i = index_of(name);
  std::lock_guard<std::mutex> lock(store().mutex);
  return store().sources[i];
}

void set_setting(const std::string& name, const SettingValue& value) {
  const size_t i = index_of(name);
  const SettingSpec& s = specs()[i];
  check(s, value);
  {
    std::lock_guard<std::mutex> lock(store().mutex);
    store().values[i] = value;
    store().sources[i] = "api";
  }
  apply(s, value);
}

ops::LinearBackend linear_backend() {
  const std::string b = get_setting("linearBackend").choice;
  return b == "onednn" ? ops::LinearBackend::OneDnn : b == "blas" ? ops::LinearBackend::Blas : ops::LinearBackend::Auto;
}

void set_linear_backend(ops::LinearBackend backend) {
  SettingValue v;
  v.kind = Kind::Choice;
  v.choice = backend == ops::LinearBackend::OneDnn ? "onednn" : backend == ops::LinearBackend::Blas ? "blas" : "auto";
  set_setting("linearBackend", v);
}

kernels::Isa kernel_isa() {
  const std::string name = get_setting("kernelIsa").choice;
  if (name == "auto") return kernels::best_isa();
  const kernels::Isa isa = *kernels::parse_isa(name);
  // An environment default the CPU cannot run falls back to the best it has.
  return kernels::supported(isa) ? isa : kernels::best_isa();
}

bool split_batches() { return get_setting("splitBatches").boolean; }
int64_t cpu_cache_limit_bytes() { return get_setting("cpuCacheMb").integer << 20; }
bool malloc_tuning() { return get_setting("mallocTuning").boolean; }
int64_t blas_threads_setting() { return get_setting("blasThreads").integer; }

int64_t encode_concurrency() {
  const int64_t n = get_setting("encodeConcurrency").integer;
  return n > 0 ? n : encode_lanes();
}

ops::Context call_context(bool train, Team* team) {
  ops::Context ctx;
  ctx.train = train;
  ctx.backend = linear_backend();
  ctx.isa = kernel_isa();
  // The portable path is slower than libtorch's ops: it runs only when asked for by name.
  ctx.own_kernels = ctx.backend == ops::LinearBackend::Auto && (ctx.isa != kernels::Isa::Generic || get_setting("kernelIsa").choice == "generic");
  ctx.team = team;
  ctx.parts = split_parts();
  return ctx;
}

}  // namespace sbert
