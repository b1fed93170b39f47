// EncodeWorker: one batch of token ids through the module pipeline on a libuv thread, one Float32Array back.
#pragma once

#include <cstdint>
#include <vector>

#include "js/boundary.h"
#include "modules.h"

namespace sbert::js {

// Reads `{inputIds, attentionMask, tokenTypeIds: Int32Array, batchSize, seqLength, promptLength?}` and checks the sizes agree.
TokenBatch read_token_batch(const Napi::Object& obj);

class EncodeWorker : public PromiseWorker {
 public:
  enum class Output { SentenceEmbedding, TokenEmbeddings };
  EncodeWorker(Napi::Env env, ModuleList modules, TokenBatch batch, Output output, bool normalize, int64_t truncate_dim);

 protected:
  void Run() override;
  Napi::Value Result(Napi::Env env) override;

 private:
  ModuleList modules_;
  TokenBatch batch_;
  Output output_;
  bool normalize_;
  int64_t truncate_dim_;
  at::Tensor result_;
};

// Hands a contiguous float32 CPU tensor to JS without copying; the ArrayBuffer keeps the tensor alive.
Napi::Object tensor_to_js(Napi::Env env, const at::Tensor& t);

}  // namespace sbert::js
