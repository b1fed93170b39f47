#include "modules.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <set>
#include <unordered_map>

#include "errors.h"

namespace sbert {

namespace {

std::string list_keys(const std::vector<std::string>& keys, size_t max_shown = 8) {
  std::string out;
  for (size_t i = 0; i < keys.size() && i < max_shown; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > max_shown) out += " (and " + std::to_string(keys.size() - max_shown) + " more)";
  return out;
}

// The parameters of root a checkpoint holds: its own weights, or (adapter) those of its LoRA adapter.
std::vector<std::pair<std::string, at::Tensor>> checkpoint_parameters(const torch::nn::Module& root, bool adapter) {
  const auto lora = nn::lora_parameters(root);
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& p : root.named_parameters(/*recurse=*/true)) {
    if ((lora.count(p.key()) != 0) == adapter) out.emplace_back(p.key(), p.value());
  }
  return out;
}

// Copies checkpoint tensors into the parameters of `root` by exact key; every parameter must be covered.
// All keys and shapes are checked before anything is read or copied, so a bad checkpoint leaves the weights as
// they were; tensors are then read one at a time.
void assign_parameters(const torch::nn::Module& root, const LazyTensors& tensors, const std::string& source, bool adapter = false) {
  auto params = checkpoint_parameters(root, adapter);
  std::unordered_map<std::string, at::Tensor> by_name;
  for (auto& p : params) by_name.emplace(p.first, p.second);
  std::set<std::string> seen;
  std::vector<std::pair<at::Tensor, const LazyTensor*>> copies;
  for (const auto& tensor : tensors) {
    const std::string& key = tensor.name;
    auto it = by_name.find(key);
    if (it == by_name.end()) {
      fail(ErrorCode::Weights, "unexpected key '" + key + "' " + shape_str(tensor.shape) + " in " + source +
                                   ": the model has no such weight");
    }
    // copy_ would silently turn integers into floats.
    if (!at::isFloatingType(tensor.dtype)) {
      fail(ErrorCode::Weights, "key '" + key + "' in " + source + " holds " + c10::toString(tensor.dtype) +
                                   " values but the model expects floating-point weights");
    }
    if (!it->second.sizes().equals(tensor.shape)) {
      fail(ErrorCode::Weights, "key '" + key + "' has shape " + shape_str(tensor.shape) + " in " + source +
                                   " but the model expects " + shape_str(it->second.sizes()));
    }
    if (!seen.insert(key).second) fail(ErrorCode::Weights, "key '" + key + "' appears twice in " + source);
    copies.emplace_back(it->second, &tensor);
  }
  std::vector<std::string> missing;
  for (auto& p : params) {
    if (!seen.count(p.first)) missing.push_back(p.first);
  }
  if (!missing.empty()) fail(ErrorCode::Weights, "missing keys in " + source + ": " + list_keys(missing));
  c10::NoGradGuard no_grad;
  for (auto& [param, tensor] : copies) param.copy_(tensor->read());
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

LazyTensors as_lazy(NamedTensors tensors) {
  LazyTensors out;
  for (auto& [name, t] : tensors) out.push_back({name, t.sizes().vec(), [t]() { return t; }, t.scalar_type()});
  return out;
}

std::vector<std::string> SentenceModule::load_weights(LazyTensors tensors, const std::string& source) {
  assign_parameters(weights_root(), tensors, source);
  return {};
}

NamedTensors SentenceModule::state_dict() const {
  NamedTensors out;
  for (auto& [key, value] : checkpoint_parameters(weights_root(), /*adapter=*/false)) {
    out.emplace_back(key, value.detach().to(at::kCPU, at::kFloat).contiguous().clone());
  }
  for (auto& [key, t] : extras_) out.emplace_back(key, t.to(at::kFloat).contiguous().clone());
  return out;
}

void SentenceModule::move_to(const at::Device& device) {
  to(device);
  device_ = device;
}

Features to_features(TokenBatch& b, const at::Device& device, int64_t row, int64_t count) {
  if (count < 0) count = b.batch_size - row;
  auto as_tensor = [&](std::vector<int32_t>& v) {
    return at::from_blob(v.data() + row * b.seq_length, {count, b.seq_length}, at::kInt).to(device, at::kLong);
  };
  Features f;
  f.input_ids = as_tensor(b.input_ids);
  f.attention_mask = as_tensor(b.attention_mask);
  f.token_type_ids = as_tensor(b.token_type_ids);
  f.prompt_length = b.prompt_length;
  f.route = b.route;
  f.max_active_dims = b.max_active_dims;
  return f;
}

void run_pipeline(const ops::Context& ctx, const ModuleList& modules, Features& features) {
  for (auto& m : modules) m->forward(ctx, features);
}

TransformerModule::TransformerModule(const ConfigReader& config)
    : architecture(architecture_of(config)), output_hidden_states(config.boolean("output_hidden_states", false)) {
  // Registered under the architecture's own name ("bert", ...), as Hugging Face's task models hold it.
  const std::string& prefix = architecture.prefixes.front();
  encoder = register_module(prefix.substr(0, prefix.size() - 1), architecture.build(config));
}

void TransformerModule::forward(const ops::Context& ctx, Features& f) {
  f.all_layer_embeddings.clear();
  f.token_embeddings = encoder->forward(ctx, {f.input_ids, f.attention_mask, f.token_type_ids}, output_hidden_states ? &f.all_layer_embeddings : nullptr);
}

std::vector<std::string> TransformerModule::load_weights(LazyTensors tensors, const std::string& source) {
  std::string prefix;
  for (const auto& p : architecture.prefixes) {
    for (auto& t : tensors) {
      if (prefix.empty() && starts_with(t.name, p)) prefix = p;
    }
  }
  const bool prefixed = !prefix.empty();
  auto listed = [](const std::vector<std::string>& list, const std::string& key, bool as_prefix) {
    for (const auto& l : list) {
      if (as_prefix ? starts_with(key, l) : key == l) return true;
    }
    return false;
  };

  LazyTensors weights;
  NamedTensors extras;
  std::vector<std::string> ignored;
  for (auto& tensor : tensors) {
    const std::string full_key = tensor.name;
    std::string key = full_key;
    if (prefixed) {
      if (!starts_with(key, prefix)) {
        ignored.push_back(full_key);  // a task head beside the encoder, e.g. cls.predictions.*
        continue;
      }
      key = key.substr(prefix.size());
    }
    if (listed(architecture.buffers, key, false)) {
      ignored.push_back(full_key);  // a buffer older checkpoints carry; positions and types are recomputed
    } else if (listed(architecture.kept, key, true)) {
      extras.emplace_back(key, tensor.read().to(at::kFloat));
    } else {
      tensor.name = key;
      weights.push_back(std::move(tensor));
    }
  }
  assign_parameters(*encoder, weights, source);
  extras_ = std::move(extras);
  return ignored;
}

void PoolingModule::forward(const ops::Context& /*ctx*/, Features& f) {
  f.sentence_embedding = pool(config, f.token_embeddings, f.attention_mask, f.prompt_length, f.token_weights_sum);
}

DenseModule::DenseModule(int64_t in_features, int64_t out_features, bool bias, ops::Activation activation_)
    : activation(activation_) {
  if (in_features <= 0 || out_features <= 0) {
    fail(ErrorCode::Config, "Dense in_features and out_features must be positive, got " + std::to_string(in_features) + " and " +
                                std::to_string(out_features));
  }
  linear = register_module("linear", std::make_shared<nn::Linear>(in_features, out_features, bias));
}

void DenseModule::forward(const ops::Context& ctx, Features& f) {
  f.sentence_embedding = ops::activation(ctx, activation, linear->forward(ctx, f.sentence_embedding));
}

void DenseModule::init_weights(uint64_t seed) { linear->reset_uniform(seed); }

void NormalizeModule::forward(const ops::Context& /*ctx*/, Features& f) {
  auto& e = f.sentence_embedding;
  e = e / e.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
}

at::Device parse_device(const std::string& spec) {
  if (spec == "cpu") return at::kCPU;
  if (spec != "cuda" && !starts_with(spec, "cuda:")) {
    fail(ErrorCode::Device, "device '" + spec + "' is not one of \"cpu\", \"cuda\", \"cuda:N\"");
  }
  if (!at::hasCUDA()) {
    fail(ErrorCode::Device, "device '" + spec +
                                "' was requested but this libtorch has no CUDA support; rebuild sbert-node against a CUDA "
                                "libtorch (set LIBTORCH to its folder, or install a CUDA torch for python3) and run on a machine with an NVIDIA GPU");
  }
  at::Device device(at::kCPU);
  try {
    device = at::Device(spec);
  } catch (const std::exception&) {
    fail(ErrorCode::Device, "device '" + spec + "' is not a valid device string");
  }
  const int64_t count = static_cast<int64_t>(at::detail::getCUDAHooks().getNumGPUs());
  const int64_t index = device.has_index() ? device.index() : 0;
  if (index >= count) {
    fail(ErrorCode::Device, "device '" + spec + "' was requested but only " + std::to_string(count) + " CUDA device(s) are visible");
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::vector<std::string> TransformerModule::add_adapter(const LoraConfig& config) {
  std::vector<at::Tensor> trainable;
  for (auto& p : encoder->parameters(/*recurse=*/true)) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  auto paths = add_lora(*encoder, config);
  frozen_by_adapter_ = std::move(trainable);
  adapter_scaling_ = lora_scaling(config);
  adapter_extras_.clear();
  return paths;
}

NamedTensors TransformerModule::adapter_state_dict() const {
  NamedTensors out;
  for (auto& [key, value] : checkpoint_parameters(*encoder, /*adapter=*/true)) {
    out.emplace_back(key, value.detach().to(at::kCPU, at::kFloat).contiguous().clone());
  }
  for (auto& [key, t] : adapter_extras_) out.emplace_back(key, t.contiguous().clone());
  return out;
}

void TransformerModule::load_adapter(LazyTensors tensors, const std::string& source) {
  if (nn::lora_parameters(*encoder).empty()) fail(ErrorCode::Input, "the model has no adapter to load weights into");
  static const std::string peft_prefix = "base_model.model.";
  LazyTensors weights;
  NamedTensors extras;
  for (auto& t : tensors) {
    if (starts_with(t.name, peft_prefix)) t.name = t.name.substr(peft_prefix.size());
    bool kept = false;
    for (const auto& k : architecture.kept) kept = kept || starts_with(t.name, k);
    if (kept) extras.emplace_back(t.name, t.read().to(at::kFloat));
    else weights.push_back(std::move(t));
  }
  assign_parameters(*encoder, weights, source, /*adapter=*/true);
  adapter_extras_ = std::move(extras);
}

void TransformerModule::merge_adapter() {
  merge_lora(*encoder);
  for (auto& [key, a] : adapter_extras_) {
    static const std::string suffix = ".lora_A.weight";
    if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string layer = key.substr(0, key.size() - suffix.size());
    for (auto& [b_key, b] : adapter_extras_) {
      if (b_key != layer + ".lora_B.weight") continue;
      for (auto& [w_key, w] : extras_) {
        if (w_key == layer + ".weight") w = w + at::matmul(b, a) * adapter_scaling_;
      }
    }
  }
  adapter_extras_.clear();
  for (auto& p : frozen_by_adapter_) p.requires_grad_(true);
  frozen_by_adapter_.clear();
}

}  // namespace sbert
