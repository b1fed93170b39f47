#include <cstdlib>
#include <set>

#include "errors.h"
#include "models/encoder.h"

namespace sbert {

// One per file under models/.
Architecture bert_architecture();
Architecture roberta_architecture();
Architecture xlm_roberta_architecture();
Architecture distilbert_architecture();
Architecture mpnet_architecture();
Architecture qwen3_architecture();
Architecture gemma3_text_architecture();
Architecture modernbert_architecture();

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> all = {bert_architecture(), roberta_architecture(), xlm_roberta_architecture(), distilbert_architecture(),
                                                mpnet_architecture(), qwen3_architecture(), gemma3_text_architecture(), modernbert_architecture()};
  return all;
}

const Architecture& architecture_of(const ConfigReader& config) {
  const std::string model_type = config.string("model_type", "bert");
  std::string known;
  for (const auto& a : architectures()) {
    if (a.model_type == model_type) return a;
    known += (known.empty() ? "" : ", ") + a.model_type;
  }
  fail(ErrorCode::Config, config.file() + ": model_type '" + model_type + "' is not supported (supported: " + known + ")");
}

void check_layer_count(const ConfigReader& config, const std::vector<std::string>& keys) {
  const Architecture& a = architecture_of(config);
  std::set<int64_t> layers;
  for (const auto& full : keys) {
    std::string key = full;
    for (const auto& p : a.prefixes) {
      if (key.compare(0, p.size(), p) == 0) key = key.substr(p.size());
    }
    if (key.compare(0, a.layers_key.size(), a.layers_key) != 0) continue;
    const char* digits = key.c_str() + a.layers_key.size();
    char* end = nullptr;
    const long long index = std::strtoll(digits, &end, 10);
    if (end != digits && *end == '.' && index >= 0) layers.insert(index);
  }
  const int64_t configured = config.integer(a.layers_field);
  // More layers than the checkpoint has would be allocated for nothing (and a huge count would exhaust memory
  // before any key is compared); fewer leave unexpected keys, which loading reports by name.
  if (layers.empty() || configured <= static_cast<int64_t>(layers.size())) return;
  config.fail(a.layers_field, "is " + std::to_string(configured) + " but the checkpoint holds " + std::to_string(layers.size()) + " layers (" +
                                  a.layers_key + std::to_string(*layers.begin()) + " to " + a.layers_key + std::to_string(*layers.rbegin()) + ")");
}

}  // namespace sbert
