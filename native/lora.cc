#include "lora.h"

#include <cmath>
#include <regex>

#include "errors.h"
#include "nn/layers.h"

namespace sbert {

namespace {

// peft's check_target_module_exists for a list: the whole path, or the path ending in "." + target.
bool targeted(const std::string& path, const LoraConfig& config) {
  if (!config.target_regex.empty()) return std::regex_match(path, std::regex(config.target_regex));
  for (const auto& t : config.target_modules) {
    if (path == t) return true;
    if (path.size() > t.size() && path.compare(path.size() - t.size(), t.size(), t) == 0 && path[path.size() - t.size() - 1] == '.') return true;
  }
  return false;
}

bool all_linear(const LoraConfig& config) {
  return config.target_regex.empty() && config.target_modules.size() == 1 && config.target_modules[0] == "all-linear";
}

}  // namespace

double lora_scaling(const LoraConfig& config) {
  const double r = static_cast<double>(config.r);
  return config.use_rslora ? config.lora_alpha / std::sqrt(r) : config.lora_alpha / r;
}

std::vector<std::string> add_lora(torch::nn::Module& root, const LoraConfig& config) {
  if (config.r <= 0) fail(ErrorCode::Config, "LoRA rank r must be a positive integer, got " + std::to_string(config.r));
  if (!(config.lora_dropout >= 0 && config.lora_dropout < 1)) fail(ErrorCode::Config, "lora_dropout must be in [0, 1)");
  std::vector<std::pair<std::string, nn::Linear*>> layers;
  for (const auto& m : root.named_modules("", /*include_self=*/false)) {
    if (dynamic_cast<nn::LoraFactor*>(m.value().get()) != nullptr) continue;
    auto* linear = dynamic_cast<nn::Linear*>(m.value().get());
    if (all_linear(config) ? linear == nullptr : !targeted(m.key(), config)) continue;
    if (linear == nullptr) {
      fail(ErrorCode::Config, "target module '" + m.key() + "' is not a linear layer (LoRA here adapts linear layers only)");
    }
    if (linear->has_lora()) fail(ErrorCode::Input, "the model already has a LoRA adapter on '" + m.key() + "'");
    layers.emplace_back(m.key(), linear);
  }
  if (layers.empty()) {
    std::string names = config.target_regex;
    for (const auto& t : config.target_modules) names += (names.empty() ? "" : ", ") + t;
    fail(ErrorCode::Config, "target_modules (" + names + ") match no module of the model");
  }
  // The base model learns nothing while the adapter trains (peft marks only adapters trainable).
  for (auto& p : root.parameters(/*recurse=*/true)) p.requires_grad_(false);
  std::vector<std::string> paths;
  uint64_t i = 0;
  for (auto& [path, linear] : layers) {
    linear->add_lora(config.r, lora_scaling(config), config.lora_dropout, config.seed + i++);
    paths.push_back(path);
  }
  return paths;
}

void merge_lora(torch::nn::Module& root) {
  for (const auto& m : root.modules(/*include_self=*/true)) {
    if (auto* linear = dynamic_cast<nn::Linear*>(m.get())) linear->merge_lora();
  }
}

}  // namespace sbert
