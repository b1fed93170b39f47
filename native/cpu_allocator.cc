#include "cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace sbert {

namespace {

constexpr size_t kMinCached = size_t(256) << 10;
constexpr size_t kAlignment = 64;

// Size classes: 1, 1.25, 1.5, 1.75 times a power of two (from 256 KiB), so a reused block wastes at most a fifth.
size_t size_class(size_t n) {
  size_t p = kMinCached;
  while (p * 2 <= n) p *= 2;
  for (size_t step = 0; step <= 4; ++step) {
    const size_t c = p + step * (p / 4);
    if (c >= n) return c;
  }
  return p * 2;
}

class CachingCpuAllocator;
CachingCpuAllocator* g_allocator = nullptr;
std::atomic<bool> g_training{false};

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(c10::Allocator* base, size_t max_cached) : base_(base), base_deleter_(base->raw_deleter()), max_cached_(max_cached) {}

  // The context is the pointer itself, so libtorch's raw_allocate/raw_deallocate paths work too.
  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached) return base_->allocate(n);
    size_t cls = size_class(n);
    void* ptr = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const bool training = g_training.load(std::memory_order_relaxed);
      const size_t largest = training ? 2 * cls : cls;
      auto it = free_.lower_bound(cls);
      while (it != free_.end() && it->second.empty() && it->first <= largest) ++it;
      if (it != free_.end() && !it->second.empty() && it->first <= largest) {
        cls = it->first;
        ptr = it->second.back();
        it->second.pop_back();
        cached_ -= cls;
        ++hits_;
      } else {
        ++misses_;
        // Cached blocks of other sizes give way before new memory is taken, so memory in use plus cached never
        // exceeds the most ever in use (half as much again in training): the cache saves page faults without
        // raising encode's peak.
        const size_t most = training ? high_water_ + high_water_ / 2 : high_water_;
        const size_t budget = std::max(most, in_use_ + cls);
        while (cached_ > 0 && in_use_ + cached_ + cls > budget) evict_largest();
      }
    }
    if (ptr == nullptr && posix_memalign(&ptr, kAlignment, cls) != 0) throw std::bad_alloc();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_[ptr] = cls;
      in_use_ += cls;
      high_water_ = std::max(high_water_, in_use_);
    }
    return {ptr, ptr, &CachingCpuAllocator::release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::release; }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_, in_use_, hits_, misses_};
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [cls, blocks] : free_) {
      for (void* p : blocks) std::free(p);
      blocks.clear();
    }
    cached_ = 0;
  }

 private:
  static void release(void* ptr) {
    CachingCpuAllocator* self = g_allocator;
    bool ours = false, keep = false;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      auto it = self->live_.find(ptr);
      if (it != self->live_.end()) {
        ours = true;
        const size_t cls = it->second;
        self->live_.erase(it);
        self->in_use_ -= cls;
        if (self->cached_ + cls <= self->max_cached_) {
          self->free_[cls].push_back(ptr);
          self->cached_ += cls;
          keep = true;
        }
      }
    }
    if (!ours) {
      // A small block from the default allocator, released through raw_deallocate.
      if (self->base_deleter_) self->base_deleter_(ptr);
      return;
    }
    if (!keep) std::free(ptr);
  }

  // Frees one cached block of the largest size class (mutex held).
  void evict_largest() const {
    for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
      if (it->second.empty()) continue;
      std::free(it->second.back());
      it->second.pop_back();
      cached_ -= it->first;
      return;
    }
  }

  c10::Allocator* base_;
  c10::DeleterFnPtr base_deleter_;
  size_t max_cached_;
  mutable std::mutex mutex_;
  mutable std::map<size_t, std::vector<void*>> free_;
  mutable std::unordered_map<void*, size_t> live_;
  mutable size_t cached_ = 0;
  mutable size_t in_use_ = 0;
  mutable size_t high_water_ = 0;
  mutable size_t hits_ = 0;
  mutable size_t misses_ = 0;
};



}  // namespace

void install_caching_cpu_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    size_t max_cached = size_t(2) << 30;
    if (const char* mb = std::getenv("SBERT_NODE_CPU_CACHE_MB")) max_cached = static_cast<size_t>(std::strtoull(mb, nullptr, 10)) << 20;
    if (max_cached == 0) return;
    // Never freed: tensors made through it may outlive any teardown order.
    g_allocator = new CachingCpuAllocator(c10::GetCPUAllocator(), max_cached);
    c10::SetCPUAllocator(g_allocator, /*priority=*/1);
  });
}

void set_cpu_cache_training(bool training) { g_training.store(training, std::memory_order_relaxed); }

CpuCacheStats cpu_cache_stats() { return g_allocator ? g_allocator->stats() : CpuCacheStats{0, 0, 0, 0}; }

void empty_cpu_cache() {
  if (g_allocator) g_allocator->empty();
}

}  // namespace sbert
