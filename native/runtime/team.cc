#include "runtime/team.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/settings.h"
#include "runtime/threading.h"

namespace sbert {

namespace {

// A helper's life: Free (asleep in the pool) -> Idle (lent, spinning) -> Posted -> Done -> Idle ... and, when its
// batch ends, Released -> Free. From Idle it may also go to Left (asleep until its batch releases it).
enum State : int { kFree, kIdle, kPosted, kDone, kLeft, kReleased };

}  // namespace

struct Helper {
  std::atomic<int> state{kFree};
  const std::function<void(int, int)>* fn = nullptr;
  int part = 0;
  int parts = 0;
  std::exception_ptr error;
  std::mutex mutex;
  std::condition_variable wake;
};

namespace {

std::atomic<int> g_batches{0};
std::atomic<int> g_lent{0};  // helpers lent and not left

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// More threads want cores than there are lanes: helpers give theirs back.
bool oversubscribed() { return g_batches.load(std::memory_order_relaxed) + g_lent.load(std::memory_order_relaxed) > encode_lanes(); }

void serve(Helper& h) {
  uint32_t idle = 0;
  for (;;) {
    const int s = h.state.load(std::memory_order_acquire);
    if (s == kPosted) {
      try {
        (*h.fn)(h.part, h.parts);
      } catch (...) {
        h.error = std::current_exception();
      }
      h.state.store(kDone, std::memory_order_release);
      idle = 0;
      continue;
    }
    if (s == kReleased) return;
    if (s == kIdle && oversubscribed()) {
      int expected = kIdle;
      if (h.state.compare_exchange_strong(expected, kLeft, std::memory_order_acq_rel)) {
        g_lent.fetch_sub(1, std::memory_order_relaxed);
        std::unique_lock<std::mutex> lock(h.mutex);
        h.wake.wait(lock, [&] { return h.state.load(std::memory_order_acquire) == kReleased; });
        return;
      }
      continue;
    }
    cpu_relax();
    // A batch hands out work every few hundred microseconds; past ~1 ms without any, let others run between checks.
    if (++idle > 20000) std::this_thread::yield();
  }
}

void helper_main(Helper* h) {
  at::init_num_threads();
  c10::InferenceMode inference;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(h->mutex);
      // Any state but Free: the batch may already have posted work by the time this thread wakes.
      h->wake.wait(lock, [&] { return h->state.load(std::memory_order_acquire) != kFree; });
    }
    serve(*h);
    std::lock_guard<std::mutex> lock(h->mutex);
    h->state.store(kFree, std::memory_order_release);
  }
}

// Created on first use and never destroyed: helpers may still be asleep in it when the process exits.
struct Pool {
  std::mutex mutex;
  std::vector<Helper*> helpers;
};

Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void batch_started() { g_batches.fetch_add(1, std::memory_order_relaxed); }
void batch_finished() { g_batches.fetch_sub(1, std::memory_order_relaxed); }

int split_parts() { return split_batches() && threads_per_lane() == 1 ? std::max(1, encode_lanes()) : 1; }

Team::Team(bool cpu) {
  // Only where products are split at all (split_parts).
  if (!cpu || split_parts() < 2) return;
  active_ = true;
  recruit();
}

Team::~Team() {
  if (!active_) return;
  for (Helper* h : helpers_) {
    int previous;
    {
      std::lock_guard<std::mutex> lock(h->mutex);
      previous = h->state.exchange(kReleased, std::memory_order_acq_rel);
    }
    h->wake.notify_one();
    if (previous != kLeft) g_lent.fetch_sub(1, std::memory_order_relaxed);
  }
}

// Lends free helpers to this team for the idle cores there are now.
void Team::recruit() {
  if (g_batches.load() + g_lent.load() >= encode_lanes()) return;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  int wanted = encode_lanes() - g_batches.load() - g_lent.load();
  if (wanted <= 0) return;
  while (p.helpers.size() < static_cast<size_t>(encode_lanes() - 1)) {
    auto* h = new Helper();
    std::thread(helper_main, h).detach();
    p.helpers.push_back(h);
  }
  for (Helper* h : p.helpers) {
    if (wanted == 0) break;
    std::lock_guard<std::mutex> hl(h->mutex);
    if (h->state.load(std::memory_order_acquire) != kFree) continue;
    g_lent.fetch_add(1, std::memory_order_relaxed);
    h->state.store(kIdle, std::memory_order_release);
    h->wake.notify_one();
    helpers_.push_back(h);
    --wanted;
  }
}

void Team::run(int parts, const std::function<void(int part, int parts)>& fn) {
  // A core that was busy when the batch started (another batch beside it) may have come free since.
  if (active_ && parts > 1) {
    const auto idle = std::count_if(helpers_.begin(), helpers_.end(), [](Helper* h) { return h->state.load(std::memory_order_acquire) == kIdle; });
    if (idle < parts - 1) recruit();
  }
  std::vector<Helper*> posted;
  std::vector<int> mine{0};
  auto next = helpers_.begin();
  for (int part = 1; part < parts; ++part) {
    bool handed_over = false;
    for (; next != helpers_.end() && !handed_over; ++next) {
      Helper* h = *next;
      h->fn = &fn;
      h->part = part;
      h->parts = parts;
      h->error = nullptr;
      int expected = kIdle;
      handed_over = h->state.compare_exchange_strong(expected, kPosted, std::memory_order_acq_rel);
      if (handed_over) posted.push_back(h);
    }
    if (!handed_over) mine.push_back(part);  // no helper for it (none free, or they have left)
  }
  std::exception_ptr error;
  for (int part : mine) {
    try {
      fn(part, parts);
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  for (Helper* h : posted) {
    // A helper shares its core with another batch when one started since it was lent: past ~50 us of waiting,
    // let that thread run between checks instead of spinning on the core it may need.
    for (uint32_t spins = 0; h->state.load(std::memory_order_acquire) != kDone;) {
      cpu_relax();
      if (++spins > 1000) std::this_thread::yield();
    }
    if (h->error && !error) error = h->error;
    h->error = nullptr;
    h->state.store(kIdle, std::memory_order_release);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace sbert
