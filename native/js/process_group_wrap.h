// ProcessGroupWrap: the JS handle of one rank's membership in a distributed training group (native/distributed.h).
// Joining and every collective run on a worker thread, so a rank waiting for its peers never blocks the event loop.
#pragma once

#include <napi.h>

#include <memory>

#include "distributed.h"

namespace sbert::js {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The group behind a JS value; an Input error if it is not a ProcessGroupWrap, Disposed if it was disposed.
  static std::shared_ptr<dist::Group> From(const Napi::Value& value);
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info);
  Napi::Value WorldSize(const Napi::CallbackInfo& info);
  Napi::Value Allreduce(const Napi::CallbackInfo& info);
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  std::shared_ptr<dist::Group> group_;
};

// createProcessGroup({rank, worldSize, masterAddr, masterPort, timeoutMs}) -> Promise<ProcessGroupWrap>
Napi::Value CreateProcessGroup(const Napi::CallbackInfo& info);
// Whether this build can create one (it was built with Gloo).
Napi::Value DistributedAvailable(const Napi::CallbackInfo& info);

}  // namespace sbert::js
