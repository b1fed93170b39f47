#include "js/encode_worker.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include "runtime/settings.h"
#include "runtime/team.h"
#include "runtime/threading.h"

namespace sbert::js {

TokenBatch read_token_batch(const Napi::Object& obj) {
  TokenBatch b;
  b.input_ids = get_int32s(obj, "inputIds");
  b.attention_mask = get_int32s(obj, "attentionMask");
  b.token_type_ids = get_int32s(obj, "tokenTypeIds");
  b.batch_size = get_int(obj, "batchSize");
  b.seq_length = get_int(obj, "seqLength");
  if (obj.Has("promptLength") && obj.Get("promptLength").IsNumber()) b.prompt_length = get_int(obj, "promptLength");
  if (obj.Has("route") && !obj.Get("route").IsUndefined()) b.route = get_string(obj, "route");
  if (obj.Has("maxActiveDims") && !obj.Get("maxActiveDims").IsUndefined()) {
    b.max_active_dims = get_int(obj, "maxActiveDims");
    if (b.max_active_dims <= 0) fail(ErrorCode::Input, "maxActiveDims must be a positive integer, got " + std::to_string(b.max_active_dims));
  }
  const auto expected = static_cast<size_t>(b.batch_size * b.seq_length);
  if (b.batch_size <= 0 || b.seq_length <= 0) fail(ErrorCode::Input, "batchSize and seqLength must be positive");
  if (b.input_ids.size() != expected || b.attention_mask.size() != expected || b.token_type_ids.size() != expected) {
    fail(ErrorCode::Input, "inputIds, attentionMask and tokenTypeIds must each hold batchSize * seqLength = " + std::to_string(expected) +
                               " entries");
  }
  return b;
}

EncodeWorker::EncodeWorker(Napi::Env env, ModuleList modules, TokenBatch batch, Output output, bool normalize, int64_t truncate_dim)
    : PromiseWorker(env),
      modules_(std::move(modules)),
      batch_(std::move(batch)),
      output_(output),
      normalize_(normalize),
      truncate_dim_(truncate_dim) {}

void EncodeWorker::Run() {
  at::init_num_threads();
  EncodeScope gate;
  if (modules_.empty()) fail(ErrorCode::Input, "the model has no modules");
  Team team(modules_.front()->device().is_cpu());
  c10::InferenceMode inference;
  Features f = to_features(batch_, modules_.front()->device());
  run_pipeline(call_context(/*train=*/false, &team), modules_, f);
  at::Tensor out;
  if (output_ == Output::TokenEmbeddings) {
    if (!f.token_embeddings.defined()) fail(ErrorCode::Input, "the model's modules produce no token embeddings");
    out = f.token_embeddings;
  } else {
    if (!f.sentence_embedding.defined()) fail(ErrorCode::Input, "the model's modules produce no sentence embedding (is Pooling missing?)");
    out = f.sentence_embedding;
    if (truncate_dim_ > 0 && truncate_dim_ < out.size(1)) out = out.narrow(1, 0, truncate_dim_);
    if (normalize_) out = out / out.norm(2, {1}, true).clamp_min(1e-12);
  }
  result_ = out.to(at::kCPU, at::kFloat).contiguous();
}

Napi::Object tensor_to_js(Napi::Env env, const at::Tensor& t) {
  auto* owner = new at::Tensor(t);
  auto buffer = Napi::ArrayBuffer::New(
      env, owner->data_ptr(), owner->nbytes(), [](Napi::Env, void*, at::Tensor* hint) { delete hint; }, owner);
  auto out = Napi::Object::New(env);
  out.Set("data", Napi::Float32Array::New(env, static_cast<size_t>(t.numel()), buffer, 0));
  auto shape = Napi::Array::New(env, t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(t.size(d))));
  out.Set("shape", shape);
  return out;
}

Napi::Value EncodeWorker::Result(Napi::Env env) { return tensor_to_js(env, result_); }

}  // namespace sbert::js
