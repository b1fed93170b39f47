// LoRA adapters (peft's LoraConfig, peft_type "LORA") on an encoder's linear layers: which layers a config
// targets, adding and freezing, the adapter's weights under peft's keys, merging.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sbert {

struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 8;
  double lora_dropout = 0;
  bool use_rslora = false;
  // peft's target_modules: names matched as the whole module path or its last dot-separated components (a list),
  // or a regular expression over the whole path (target_regex, used when not empty); "all-linear" in the list
  // takes every linear layer.
  std::vector<std::string> target_modules;
  std::string target_regex;
  uint64_t seed = 0;
};

// lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA.
double lora_scaling(const LoraConfig& config);

// Adds an adapter to every linear layer under root that the config targets, in module order (layer i's A drawn
// from seed + i). Returns their module paths; a Config error when none matches (as peft) or when a target names
// a module that is not a linear layer.
std::vector<std::string> add_lora(torch::nn::Module& root, const LoraConfig& config);

// W += scaling * B A for every adapted layer, whose adapter is then removed.
void merge_lora(torch::nn::Module& root);

}  // namespace sbert
