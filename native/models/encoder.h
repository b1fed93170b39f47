// What every architecture provides, and the registry that finds one by config.json's model_type. An architecture
// is one file under models/ (its config, its modules named after the Hugging Face submodules, their forward math)
// plus one line in registry.cc.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "ops/context.h"

namespace sbert {

// A batch of token ids, [B, L] int64 on the model's device; token_type_ids may be undefined.
struct EncoderInput {
  at::Tensor input_ids;
  at::Tensor attention_mask;
  at::Tensor token_type_ids;
};

// Facts about a built encoder that callers need (TypeScript sizes its inputs and writes config.json with them).
struct EncoderInfo {
  std::string model_type;
  std::string model_class;  // `architectures` on save, e.g. "XLMRobertaModel"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t max_tokens = 0;       // the longest input its positions allow
  int64_t type_vocab_size = 0;  // token types it reads; 0: it reads none
  int64_t layers = 0;
  int64_t heads = 0;
};

class Encoder : public torch::nn::Module {
 public:
  // Contextual token embeddings [B, L, H]; zero at padded positions when the batch ran packed (ops::Tokens). With
  // `hidden_states`, also every layer's input and the last output there, each [B, L, H] (Hugging Face's
  // output_hidden_states: the embeddings' output first).
  virtual at::Tensor forward(const ops::Context& ctx, const EncoderInput& input, std::vector<at::Tensor>* hidden_states = nullptr) = 0;
  // Fresh weights, as Hugging Face initialises the architecture.
  virtual void init_weights(uint64_t seed) = 0;
  virtual EncoderInfo info() const = 0;
};

struct Architecture {
  std::string model_type;
  // Prefixes of the encoder's keys in checkpoints of task models built on it ("bert." in BertForMaskedLM): when a
  // checkpoint has keys under one, only those are the encoder's. The first names the encoder's module in training
  // state (optimizer moments are saved under it).
  std::vector<std::string> prefixes;
  std::function<std::shared_ptr<Encoder>(const ConfigReader&)> build;
  // Checkpoint keys that are not weights (buffers older checkpoints carry): dropped on load.
  std::vector<std::string> buffers = {"embeddings.position_ids", "embeddings.token_type_ids"};
  // Prefixes of weights read only to be written back on save (the pooler, which sentence embeddings never use).
  std::vector<std::string> kept = {"pooler."};
  // Where the layers' keys start (`encoder.layer.` + index) and the config.json field that counts them.
  std::string layers_key = "encoder.layer.";
  std::string layers_field = "num_hidden_layers";
};

// Every architecture, in registration order.
const std::vector<Architecture>& architectures();
// The architecture of a config.json; a Config error naming the file and listing the supported ones otherwise.
const Architecture& architecture_of(const ConfigReader& config);
// Before anything is allocated: config.json gives no more layers than the checkpoint holds (keys as the checkpoint
// spells them); a Config error naming the field otherwise.
void check_layer_count(const ConfigReader& config, const std::vector<std::string>& checkpoint_keys);

}  // namespace sbert
