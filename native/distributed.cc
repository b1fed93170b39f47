#include "distributed.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <utility>

#include "errors.h"

#ifdef SBERT_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace sbert::dist {

#ifdef SBERT_WITH_GLOO

bool available() { return true; }

struct Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

// One step's gradient averaging: the buckets (reverse parameter order), each one flat float buffer of the gradients
// followed by one presence flag per tensor, and the reductions started so far.
struct Group::Reducer {
  using Work = decltype(std::declval<c10d::ProcessGroupGloo&>().barrier());
  struct Bucket {
    std::vector<size_t> members;
    std::vector<int64_t> offsets;
    std::vector<bool> filled;
    int64_t numel = 0;
    size_t ready = 0;
    at::Tensor flat;
    std::vector<at::Tensor> input;
    Work work;
  };
  std::vector<at::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<std::pair<size_t, size_t>> where;  // parameter → (bucket, slot)
  std::vector<unsigned> hooks;                    // per parameter, while armed
  size_t next = 0;                                // the first bucket not started

  Reducer(const std::vector<at::Tensor>& ps, int64_t bucket_bytes) : params(ps), where(ps.size()) {
    buckets.emplace_back();
    for (size_t k = params.size(); k-- > 0;) {
      const int64_t bytes = params[k].numel() * static_cast<int64_t>(sizeof(float));
      if (!buckets.back().members.empty() && (buckets.back().numel * static_cast<int64_t>(sizeof(float)) + bytes) > bucket_bytes) buckets.emplace_back();
      Bucket& b = buckets.back();
      where[k] = {buckets.size() - 1, b.members.size()};
      b.members.push_back(k);
      b.offsets.push_back(b.numel);
      b.numel += params[k].numel();
    }
    for (auto& b : buckets) {
      b.flat = at::zeros({b.numel + static_cast<int64_t>(b.members.size())}, at::kFloat);
      b.filled.assign(b.members.size(), false);
    }
  }

  // Slot `k` of its bucket: the parameter's gradient so far plus `incoming` (this backward's, when given).
  void fill(size_t k, const at::Tensor& incoming) {
    auto [bi, slot] = where[k];
    Bucket& b = buckets[bi];
    if (b.filled[slot]) return;
    b.filled[slot] = true;
    ++b.ready;
    const at::Tensor& p = params[k];
    const at::Tensor& before = p.grad();
    if (!incoming.defined() && !before.defined()) return;  // zeros, flag 0
    auto view = b.flat.narrow(0, b.offsets[slot], p.numel());
    if (incoming.defined() && before.defined()) at::add_out(view, before.reshape({-1}), incoming.reshape({-1}));
    else view.copy_((incoming.defined() ? incoming : before).reshape({-1}));
    b.flat[b.numel + static_cast<int64_t>(slot)] = 1.0f;
  }

  // Starts, in order, every bucket whose gradients are all in.
  void launch_ready(c10d::ProcessGroupGloo& pg) {
    while (next < buckets.size() && buckets[next].ready == buckets[next].members.size()) {
      Bucket& b = buckets[next++];
      b.input = {b.flat};
      b.work = pg.allreduce(b.input);
    }
  }

  // Fills what backward left out, starts the rest, waits, and writes the means back.
  void finish(c10d::ProcessGroupGloo& pg, int64_t world) {
    for (auto& b : buckets) {
      for (size_t j = 0; j < b.members.size(); ++j) fill(b.members[j], at::Tensor());
    }
    launch_ready(pg);
    for (auto& b : buckets) {
      b.work->wait();
      const float* flags = b.flat.data_ptr<float>() + b.numel;
      for (size_t j = 0; j < b.members.size(); ++j) {
        const at::Tensor& p = params[b.members[j]];
        if (flags[j] <= 0) continue;
        auto mean = b.flat.narrow(0, b.offsets[j], p.numel()).view(p.sizes()).div(static_cast<double>(world));
        at::Tensor& grad = const_cast<at::Tensor&>(p).mutable_grad();
        if (grad.defined()) grad.copy_(mean);
        else grad = mean.to(p.options());
      }
    }
  }
};

namespace {

// c10d and Gloo report a peer that left or never answered as exceptions of their own; they reach JS as one error
// naming this rank, what it was doing and the likely cause.
template <typename F>
auto collective(const GroupOptions& o, const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SbertException&) {
    throw;
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (const auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
    fail(ErrorCode::Native, "distributed training, rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + ": " + what +
                                " failed (another rank stopped, or did not answer within the timeout of " + std::to_string(o.timeout_ms / 1000) +
                                " s): " + message);
  }
}

bool loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

}  // namespace

Group::Group(const GroupOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  const auto& o = options_;
  if (o.world_size < 1) fail(ErrorCode::Input, "the world size must be at least 1");
  if (o.rank < 0 || o.rank >= o.world_size) fail(ErrorCode::Input, "the rank must be in [0, world size), got " + std::to_string(o.rank));
  if (o.master_port < 1 || o.master_port > 65535) fail(ErrorCode::Input, "the master port must be in [1, 65535]");
  if (o.timeout_ms < 1) fail(ErrorCode::Input, "the timeout must be positive");
  const std::chrono::milliseconds timeout(o.timeout_ms);
  collective(o, "joining the group at " + o.master_addr + ":" + std::to_string(o.master_port), [&] {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.master_port);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<std::size_t>(o.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    auto pg_options = c10d::ProcessGroupGloo::Options::create(timeout);
    // As torch.distributed: GLOO_SOCKET_IFNAME names the interface; otherwise a loopback master keeps every rank on
    // loopback, and any other takes the address this host's name resolves to.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0') pg_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (loopback(o.master_addr)) pg_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else pg_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(o.rank), static_cast<int>(o.world_size), pg_options);
  });
}

Group::~Group() { disarm(); }

void Group::allreduce(std::vector<double>& values, bool max) {
  if (values.empty()) return;
  collective(options_, "a reduction", [&] {
    std::vector<at::Tensor> t{at::tensor(values, at::kDouble)};
    c10d::AllreduceOptions opts;
    opts.reduceOp = max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
    impl_->pg->allreduce(t, opts)->wait();
    const double* p = t[0].data_ptr<double>();
    values.assign(p, p + values.size());
  });
}

void Group::barrier() {
  collective(options_, "a barrier", [&] { impl_->pg->barrier()->wait(); });
}

void Group::average_gradients(const std::vector<at::Tensor>& params, int64_t bucket_bytes) {
  if (options_.world_size == 1) return;
  arm(params, bucket_bytes, /*overlap=*/false);
  finish();
}

void Group::arm(const std::vector<at::Tensor>& params, int64_t bucket_bytes, bool overlap) {
  if (reducer_) fail(ErrorCode::Native, "gradient averaging is already under way");
  reducer_ = std::make_unique<Reducer>(params, bucket_bytes);
  if (overlap) hook(true);
}

void Group::hook(bool on) {
  Reducer& r = *reducer_;
  if (!on) {
    for (size_t k = 0; k < r.hooks.size(); ++k) const_cast<at::Tensor&>(r.params[k]).remove_hook(r.hooks[k]);
    r.hooks.clear();
    return;
  }
  for (size_t k = 0; k < r.params.size(); ++k) {
    // Called with this backward's gradient of the parameter, before it is added to .grad.
    r.hooks.push_back(const_cast<at::Tensor&>(r.params[k]).register_hook([this, k](const at::Tensor& grad) {
      at::NoGradGuard no_grad;
      reducer_->fill(k, grad);
      collective(options_, "the gradient reduction", [&] { reducer_->launch_ready(*impl_->pg); });
    }));
  }
}

void Group::disarm() {
  if (reducer_ && !reducer_->hooks.empty()) hook(false);
}

bool Group::armed() const { return reducer_ != nullptr; }

void Group::abandon() {
  disarm();
  reducer_.reset();
}

void Group::finish() {
  if (!reducer_) return;
  disarm();
  const std::unique_ptr<Reducer> r = std::move(reducer_);
  at::NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  collective(options_, "the gradient reduction", [&] { r->finish(*impl_->pg, options_.world_size); });
  communication_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

at::Tensor Group::gather_local_first(const at::Tensor& local) {
  const int64_t world = options_.world_size;
  if (world == 1) return local;
  const int64_t rank = options_.rank;
  std::vector<double> counts(static_cast<size_t>(world), 0.0);
  counts[static_cast<size_t>(rank)] = static_cast<double>(local.size(0));
  allreduce(counts);
  int64_t most = 0, total = 0;
  for (double c : counts) {
    most = std::max(most, static_cast<int64_t>(c));
    total += static_cast<int64_t>(c);
  }
  std::vector<at::Tensor> rows;  // every rank's rows, in rank order
  collective(options_, "gathering embeddings", [&] {
    at::NoGradGuard no_grad;
    auto padded = at::zeros({most, local.numel() / std::max<int64_t>(local.size(0), 1)}, local.options().requires_grad(false));
    if (local.size(0) > 0) padded.narrow(0, 0, local.size(0)).copy_(local.detach().reshape({local.size(0), -1}));
    std::vector<at::Tensor> input{padded};
    std::vector<std::vector<at::Tensor>> output(1);
    for (int64_t r = 0; r < world; ++r) output[0].push_back(at::empty_like(padded));
    impl_->pg->allgather(output, input)->wait();
    for (int64_t r = 0; r < world; ++r) {
      auto shape = local.sizes().vec();
      shape[0] = static_cast<int64_t>(counts[static_cast<size_t>(r)]);
      rows.push_back(output[0][static_cast<size_t>(r)].narrow(0, 0, shape[0]).reshape(shape));
    }
  });
  std::vector<at::Tensor> ordered{local};
  for (int64_t r = 0; r < world; ++r) {
    if (r != rank) ordered.push_back(rows[static_cast<size_t>(r)]);
  }
  at::Tensor gathered = at::cat(ordered, 0);
  if (!gathered.requires_grad()) return gathered;
  // Backward: the gradient of every gathered row, put back in rank order and summed over the ranks; this rank's
  // rows of the sum go to `local` (the others' rows were detached copies).
  const int64_t mine = local.size(0);
  int64_t before = 0;
  for (int64_t r = 0; r < rank; ++r) before += static_cast<int64_t>(counts[static_cast<size_t>(r)]);
  gathered.register_hook([this, mine, before, total](const at::Tensor& grad) {
    at::NoGradGuard no_grad;
    // local-first → rank order: rows [0, mine) are this rank's, the rest the others' in rank order.
    auto in_order = at::cat({grad.narrow(0, mine, before), grad.narrow(0, 0, mine), grad.narrow(0, mine + before, total - mine - before)}, 0).contiguous();
    collective(options_, "reducing gathered gradients", [&] {
      std::vector<at::Tensor> t{in_order};
      impl_->pg->allreduce(t)->wait();
    });
    auto out = at::zeros_like(grad);
    out.narrow(0, 0, mine).copy_(in_order.narrow(0, before, mine));
    return out;
  });
  return gathered;
}

#else  // no Gloo in this build

bool available() { return false; }

struct Group::Impl {};
struct Group::Reducer {};

Group::Group(const GroupOptions& options) : options_(options) {
  fail(ErrorCode::Device,
       "distributed training needs c10d's Gloo process group, and this build of the addon has none: install Gloo's headers "
       "(Debian/Ubuntu: apt-get install libgloo-dev) and rebuild (npm run build:native)");
}
Group::~Group() = default;
void Group::allreduce(std::vector<double>&, bool) {}
void Group::barrier() {}
void Group::average_gradients(const std::vector<at::Tensor>&, int64_t) {}
void Group::arm(const std::vector<at::Tensor>&, int64_t, bool) {}
void Group::hook(bool) {}
void Group::disarm() {}
bool Group::armed() const { return false; }
void Group::abandon() {}
void Group::finish() {}
at::Tensor Group::gather_local_first(const at::Tensor& local) { return local; }

#endif

}  // namespace sbert::dist
