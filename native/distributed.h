// Data-parallel training across processes on c10d's process groups (Gloo over TCP on CPU): a TCPStore at rank 0
// for the rendezvous, then collectives among the ranks. Every collective a rank makes, the others make in the same
// order; one that a peer does not join within the group's timeout fails with an error instead of waiting forever.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sbert::dist {

struct GroupOptions {
  int64_t rank = 0;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  int64_t timeout_ms = 1800 * 1000;  // transformers' ddp_timeout default, 1800 s
};

// Whether this build has a CPU process group (Gloo); without it create_group fails saying so.
bool available();

class Group {
 public:
  // Joins the group: rank 0 serves the store at master_addr:master_port, the others connect to it. Blocks until
  // every rank has joined (or the timeout).
  explicit Group(const GroupOptions& options);
  ~Group();  // removes any hooks arm() left
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int64_t rank() const { return options_.rank; }
  int64_t world_size() const { return options_.world_size; }

  // Sums (or, with `max`, takes the largest of) `values` elementwise over the ranks, in place.
  void allreduce(std::vector<double>& values, bool max = false);
  void barrier();

  // Every rank's gradients replaced by their mean over the ranks, in buckets of at most `bucket_bytes` taken in
  // reverse order (the order backward produces them); the buckets' reductions run concurrently. A tensor's
  // undefined gradient counts as zeros, and stays undefined only if it is undefined on every rank.
  void average_gradients(const std::vector<at::Tensor>& params, int64_t bucket_bytes);

  // The same, overlapping the backward pass that completes the gradients: arm() (with `overlap`) hooks every
  // parameter, so that a bucket's reduction starts as soon as backward has produced all of its gradients (buckets
  // start in order, on every rank alike); disarm() removes the hooks once backward is done; finish() starts the
  // buckets backward left incomplete (parameters it did not reach), waits for all and writes the means. Between
  // arm() and finish() the gradients must change only through that one backward pass.
  void arm(const std::vector<at::Tensor>& params, int64_t bucket_bytes, bool overlap);
  void disarm();
  bool armed() const;
  void finish();
  // Drops an armed averaging (a step refused on this rank; the run ends with the error).
  void abandon();

  // Seconds spent in gradient averaging since the group was made (waiting for the other ranks included).
  double communication_seconds() const { return communication_seconds_; }

  // Every rank's rows of `local` [B_r, ...], this rank's first, then the others' in rank order, with gradients:
  // backward sums each row's gradient over the ranks and hands it to the rank that made it (an in-batch loss over
  // the gathered rows sees every rank's candidates; the softmax losses do not depend on their order).
  at::Tensor gather_local_first(const at::Tensor& local);

 private:
  struct Impl;
  struct Reducer;
  GroupOptions options_;
  double communication_seconds_ = 0;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Reducer> reducer_;
  void hook(bool on);
};

}  // namespace sbert::dist
