// The sentence-transformers pipeline: modules that read and write a Features record in turn
// (Transformer -> token_embeddings, Pooling -> sentence_embedding, Dense, Normalize).
#pragma once

#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lora.h"
#include "models/encoder.h"
#include "nn/layers.h"
#include "ops/context.h"
#include "ops/pointwise.h"
#include "pooling.h"

namespace sbert {

struct Features {
  at::Tensor input_ids;       // [B, L] int64
  at::Tensor attention_mask;  // [B, L] int64
  at::Tensor token_type_ids;  // [B, L] int64
  at::Tensor token_embeddings;
  std::vector<at::Tensor> all_layer_embeddings;  // the encoder's hidden states, when its config asks for them
  at::Tensor sentence_embedding;
  // [B]: each text's sum of word weights over its real tokens (WordWeights), which mean pooling divides by
  at::Tensor token_weights_sum;
  int64_t prompt_length = -1;  // tokens of the prompt (with [CLS]), -1 without a prompt
  std::string route;  // the Router route the batch takes (resolved from its task by TypeScript); empty: the default
  // The most latents a SparseAutoEncoder keeps for this batch (sentence-transformers' max_active_dims forward
  // argument); -1: its own k.
  int64_t max_active_dims = -1;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// A checkpoint tensor known by name and shape, its values produced on demand (read from the file just before
// they are copied, so a load never holds the whole checkpoint beside the model).
struct LazyTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::function<at::Tensor()> read;
  // The type `read` returns (floating types come back as float32).
  at::ScalarType dtype = at::kFloat;
};
using LazyTensors = std::vector<LazyTensor>;
// Tensors already in memory, as lazy ones.
LazyTensors as_lazy(NamedTensors tensors);

// Token ids of one text column, row-major [batch_size, seq_length], as TypeScript sends them.
struct TokenBatch {
  std::vector<int32_t> input_ids, attention_mask, token_type_ids;
  int64_t batch_size = 0;
  int64_t seq_length = 0;
  int64_t prompt_length = -1;
  std::string route;
  int64_t max_active_dims = -1;
};

// The batch (or rows [row, row + count) of it) as int64 tensors on `device`, in a Features record.
Features to_features(TokenBatch& batch, const at::Device& device, int64_t row = 0, int64_t count = -1);

class SentenceModule : public torch::nn::Module {
 public:
  virtual const char* kind() const = 0;
  virtual void forward(const ops::Context& ctx, Features& features) = 0;
  // Replaces the weights with a checkpoint's. `source` names the file(s) for messages. Returns the keys that were
  // present but deliberately not used (e.g. a masked-LM head).
  virtual std::vector<std::string> load_weights(LazyTensors tensors, const std::string& source);
  // Checkpoint keys and float32 CPU copies of the weights, as they are saved.
  virtual NamedTensors state_dict() const;
  // Fresh weights for a module built without a checkpoint.
  virtual void init_weights(uint64_t /*seed*/) {}
  // Inference precision of the module's linear layers (no-op for modules without any).
  virtual void set_precision(ops::Precision /*precision*/) {}
  // Virtual for modules that hold other modules (Router), which move them along.
  virtual void move_to(const at::Device& device);
  const at::Device& device() const { return device_; }
  // The module whose named_parameters() spell the checkpoint keys.
  virtual const torch::nn::Module& weights_root() const { return *this; }

 protected:
  NamedTensors extras_;  // read from a checkpoint only to be written back on save
  at::Device device_ = at::kCPU;
};

using ModuleList = std::vector<std::shared_ptr<SentenceModule>>;

// Runs the modules in order on `features`.
void run_pipeline(const ops::Context& ctx, const ModuleList& modules, Features& features);

// The encoder of any registered architecture (models/encoder.h), built from its config.json.
class TransformerModule : public SentenceModule {
 public:
  explicit TransformerModule(const ConfigReader& config);
  const char* kind() const override { return "transformer"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // Accepts keys with or without one of the architecture's prefixes (`bert.`, ...); in a prefixed checkpoint
  // ignores head weights outside the prefix; drops buffers older checkpoints carry; keeps the pooler for saving.
  std::vector<std::string> load_weights(LazyTensors tensors, const std::string& source) override;
  void init_weights(uint64_t seed) override { encoder->init_weights(seed); }
  void set_precision(ops::Precision precision) override { nn::set_precision(*encoder, precision); }
  // LoRA (lora.h). add_adapter freezes the encoder's own weights (the adapter alone trains) and returns the
  // adapted layers' paths; the adapter's weights are keyed `<module path>.lora_A.weight` (peft's keys without
  // its `base_model.model.` prefix); load_adapter replaces every one of them from a checkpoint (all checked
  // first); merge_adapter folds the adapter into the base weights, removes it and unfreezes them.
  std::vector<std::string> add_adapter(const LoraConfig& config);
  NamedTensors adapter_state_dict() const;
  void load_adapter(LazyTensors tensors, const std::string& source);
  void merge_adapter();
  const Architecture& architecture;
  std::shared_ptr<Encoder> encoder;
  // config.json's output_hidden_states: the encoder's hidden states go to all_layer_embeddings too.
  const bool output_hidden_states;

 protected:
  const torch::nn::Module& weights_root() const override { return *encoder; }

 private:
  std::vector<at::Tensor> frozen_by_adapter_;
  double adapter_scaling_ = 0;
  // An adapter's weights on layers kept only for saving (peft adapts BERT's pooler.dense when told "dense"):
  // written back with the adapter, folded into them on merge.
  NamedTensors adapter_extras_;
};

class PoolingModule : public SentenceModule {
 public:
  explicit PoolingModule(PoolingConfig config) : config(std::move(config)) {}
  const char* kind() const override { return "pooling"; }
  void forward(const ops::Context& ctx, Features& features) override;
  const PoolingConfig config;
};

class DenseModule : public SentenceModule {
 public:
  DenseModule(int64_t in_features, int64_t out_features, bool bias, ops::Activation activation);
  const char* kind() const override { return "dense"; }
  void forward(const ops::Context& ctx, Features& features) override;
  // torch.nn.Linear's default initialisation (uniform in ±1/sqrt(in_features)).
  void init_weights(uint64_t seed) override;
  void set_precision(ops::Precision precision) override { linear->precision = precision; }
  std::shared_ptr<nn::Linear> linear;
  const ops::Activation activation;
};

class NormalizeModule : public SentenceModule {
 public:
  const char* kind() const override { return "normalize"; }
  void forward(const ops::Context& ctx, Features& features) override;
};

// Parses "cpu", "cuda", "cuda:N"; a CUDA device on a libtorch without CUDA, or past the device count, is a Device error.
at::Device parse_device(const std::string& spec);

}  // namespace sbert
