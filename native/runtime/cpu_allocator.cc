#include "runtime/cpu_allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>

#include "runtime/settings.h"

namespace sbert {

namespace {

constexpr size_t kMinCached = size_t(256) << 10;

// Each block of 256 KiB and more has a mapping of its own (size classes are whole pages): unmapped, its pages go
// back to the system at once. From malloc, blocks under glibc's mmap threshold (which rises to 32 MiB once a large
// block is freed) came from the heap of whichever thread asked (each encode call may run on another pool thread),
// and freed pages stayed there: measured on BERT-base over 8 x 512 tokens, those heaps grew by 220 MiB while the
// cache (blocks in use plus kept) grew by about 100.
void* map_block(size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// Size classes: 1, 1.25, 1.5, 1.75 times a power of two (from 256 KiB), so a reused block wastes at most a fifth
// (up to half when, at the peak, a kept block of up to twice the class serves a request as it is).
size_t size_class(size_t n) {
  size_t p = kMinCached;
  while (p * 2 <= n) p *= 2;
  for (size_t step = 0; step <= 4; ++step) {
    const size_t c = p + step * (p / 4);
    if (c >= n) return c;
  }
  return p * 2;
}

// Training-step memory (why: set_cpu_cache_training in the header). A freed block is first kept by its exact size:
// a step asks for the same sizes layer after layer, and the block just freed is still in cache. When a request
// finds nothing there, those blocks merge with their free neighbours, and the smallest free range that fits
// serves it. Every block of a page and more comes from here, not only those of 256 KiB and more: on a small
// model's steps that took a third off the page faults that were left. Regions are mapped 256 MiB at a time (or
// the request's size) and stay mapped until trim(). Not thread-safe: the allocator's mutex guards it.
class Arena {
 public:
  static constexpr size_t kPage = 4096;

  // n: a multiple of kPage. Null when the system has no memory to map.
  void* take(size_t n) {
    auto again = recent_.find(n);
    if (again != recent_.end() && !again->second.empty()) {
      char* addr = again->second.back();
      again->second.pop_back();
      recent_bytes_ -= n;
      return addr;
    }
    auto it = by_size_.lower_bound({n, nullptr});
    if (it == by_size_.end()) {
      merge_recent();
      it = by_size_.lower_bound({n, nullptr});
    }
    if (it == by_size_.end()) {
      const size_t region = std::max(n, kRegion);
      void* p = mmap(nullptr, region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      ++regions_;
      merge(static_cast<char*>(p), region);
      it = by_size_.lower_bound({n, nullptr});
    }
    const auto [size, addr] = *it;
    remove(addr, size);
    if (size > n) insert(addr + n, size - n);
    return addr;
  }

  void give(void* ptr, size_t n) {
    recent_[n].push_back(static_cast<char*>(ptr));
    recent_bytes_ += n;
  }

  // Unmaps every free range (blocks in use stay where they are; the next request maps a new region).
  void trim() {
    merge_recent();
    for (const auto& [addr, size] : by_addr_) munmap(addr, size);
    by_addr_.clear();
    by_size_.clear();
    free_ = 0;
  }

  size_t regions_mapped() const { return regions_; }

  size_t free_bytes() const { return free_ + recent_bytes_; }

 private:
  static constexpr size_t kRegion = size_t(256) << 20;

  void merge_recent() {
    for (auto& [size, blocks] : recent_) {
      for (char* addr : blocks) merge(addr, size);
    }
    recent_.clear();
    recent_bytes_ = 0;
  }

  // Returns a range to the free ranges, joined with the free ranges on either side.
  void merge(char* addr, size_t n) {
    auto next = by_addr_.find(addr + n);
    if (next != by_addr_.end()) {
      const size_t size = next->second;
      remove(next->first, size);
      n += size;
    }
    auto prev = by_addr_.lower_bound(addr);
    if (prev != by_addr_.begin()) {
      --prev;
      if (prev->first + prev->second == addr) {
        const auto [start, size] = *prev;
        remove(start, size);
        addr = start;
        n += size;
      }
    }
    insert(addr, n);
  }

  void insert(char* addr, size_t n) {
    by_addr_.emplace(addr, n);
    by_size_.emplace(n, addr);
    free_ += n;
  }
  void remove(char* addr, size_t n) {
    by_addr_.erase(addr);
    by_size_.erase({n, addr});
    free_ -= n;
  }

  std::map<char*, size_t> by_addr_;
  std::set<std::pair<size_t, char*>> by_size_;
  size_t free_ = 0, regions_ = 0;
  // Blocks freed since the last merge, by exact size, most recent last.
  std::unordered_map<size_t, std::vector<char*>> recent_;
  size_t recent_bytes_ = 0;
};

class CachingCpuAllocator;
CachingCpuAllocator* g_allocator = nullptr;
std::atomic<bool> g_training{false};

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(c10::Allocator* base, size_t max_cached) : base_(base), base_deleter_(base->raw_deleter()), max_cached_(max_cached) {}
  // A new limit; blocks kept beyond it are handed back now. With 0 nothing is kept, nor is the training arena used.
  void set_limit(size_t bytes) {
    max_cached_.store(bytes, std::memory_order_relaxed);
    if (bytes == 0) empty();
    else {
      std::lock_guard<std::mutex> lock(mutex_);
      while (cached_ > bytes) evict_largest();
    }
  }

  // libtorch 1.x declares allocate() const and 2.x not, so both are defined (neither marked override) and each
  // version overrides its own; copy_data() is pure in 2.x and unused by 1.x.
  c10::DataPtr allocate(size_t n) { return allocate_block(n); }
  c10::DataPtr allocate(size_t n) const { return allocate_block(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  // The context is the pointer itself, so libtorch's raw_allocate/raw_deallocate paths work too.
  c10::DataPtr allocate_block(size_t n) const {
    if (n >= Arena::kPage && g_training.load(std::memory_order_relaxed) && max_cached_.load(std::memory_order_relaxed) > 0) {
      const size_t size = (n + Arena::kPage - 1) / Arena::kPage * Arena::kPage;
      std::lock_guard<std::mutex> lock(mutex_);
      const size_t regions = arena_.regions_mapped();
      void* ptr = arena_.take(size);
      if (ptr == nullptr) throw std::bad_alloc();
      ++(arena_.regions_mapped() == regions ? hits_ : misses_);
      arena_live_[ptr] = size;
      in_use_ += size;
      high_water_ = std::max(high_water_, in_use_);
      return {ptr, ptr, &CachingCpuAllocator::release, c10::Device(c10::DeviceType::CPU)};
    }
    if (n < kMinCached) return base_->allocate(n);
    size_t cls = size_class(n);
    void* ptr = nullptr;
    std::pair<void*, size_t> other{nullptr, 0};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        ptr = it->second.back();
        it->second.pop_back();
        cached_ -= cls;
        ++hits_;
      } else {
        ++misses_;
        // Memory in use plus cached never exceeds the most ever in use, so the cache saves page faults without
        // raising encode's peak. Over that, a cached block of another class becomes this one (its pages are
        // reused), and only then are cached blocks unmapped.
        const size_t budget = std::max(high_water_, in_use_ + cls);
        if (cached_ > 0 && in_use_ + cached_ + cls > budget) other = take_nearest(cls);
        while (cached_ > 0 && in_use_ + cached_ + cls > budget) evict_largest();
      }
    }
    if (other.first != nullptr && other.second >= cls && other.second <= 2 * cls) {
      ptr = other.first;  // at most twice the class, used as it is: nothing to fault in
      cls = other.second;
    } else if (other.first != nullptr) {
      // Resized, the block keeps its pages up to the smaller size: only what it grows by is faulted in. Unmapping
      // it and mapping anew instead measured 9x the page faults on sentences of mixed lengths (BERT-base, batch
      // 32) and 9-17% less throughput; turning a cached block into another class on every miss (not only over
      // the budget) 1.8x the faults and 14% less int8 throughput.
      ptr = mremap(other.first, other.second, cls, MREMAP_MAYMOVE);
      if (ptr == MAP_FAILED) {
        munmap(other.first, other.second);
        ptr = nullptr;
      }
    }
    if (ptr == nullptr && (ptr = map_block(cls)) == nullptr) throw std::bad_alloc();
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
    return {cached_ + arena_.free_bytes(), in_use_, hits_, misses_};
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [cls, blocks] : free_) {
      for (void* p : blocks) munmap(p, cls);
      blocks.clear();
    }
    cached_ = 0;
    arena_.trim();
  }

 private:
  static void release(void* ptr) {
    CachingCpuAllocator* self = g_allocator;
    bool ours = false, keep = false;
    size_t cls = 0;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      auto in_arena = self->arena_live_.find(ptr);
      if (in_arena != self->arena_live_.end()) {
        self->in_use_ -= in_arena->second;
        self->arena_.give(ptr, in_arena->second);
        self->arena_live_.erase(in_arena);
        return;
      }
      auto it = self->live_.find(ptr);
      if (it != self->live_.end()) {
        ours = true;
        cls = it->second;
        self->live_.erase(it);
        self->in_use_ -= cls;
        if (self->cached_ + cls <= self->max_cached_.load(std::memory_order_relaxed)) {
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
    if (!keep) munmap(ptr, cls);
  }

  // The cached block to turn into a block for a request of class n (mutex held), taken out of the cache: the
  // smallest from n to 2n (used as it is), else the largest below n (grown), else the smallest above 2n (shrunk).
  std::pair<void*, size_t> take_nearest(size_t n) const {
    auto above = free_.end(), below = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second.empty()) continue;
      if (it->first < n) {
        below = it;
      } else if (above == free_.end()) {
        above = it;
      }
    }
    const auto pick = above != free_.end() && (above->first <= 2 * n || below == free_.end()) ? above : below;
    if (pick == free_.end()) return {nullptr, 0};
    void* p = pick->second.back();
    pick->second.pop_back();
    cached_ -= pick->first;
    return {p, pick->first};
  }

  // Frees one cached block of the largest size class (mutex held).
  void evict_largest() const {
    for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
      if (it->second.empty()) continue;
      munmap(it->second.back(), it->first);
      it->second.pop_back();
      cached_ -= it->first;
      return;
    }
  }

  c10::Allocator* base_;
  c10::DeleterFnPtr base_deleter_;
  std::atomic<size_t> max_cached_;
  mutable std::mutex mutex_;
  mutable std::map<size_t, std::vector<void*>> free_;
  mutable std::unordered_map<void*, size_t> live_;
  mutable Arena arena_;
  mutable std::unordered_map<void*, size_t> arena_live_;  // arena blocks in use, with their sizes
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
    // Installed whatever the limit (a limit of 0 keeps nothing), so that the limit can change later. Never freed:
    // tensors made through it may outlive any teardown order.
    g_allocator = new CachingCpuAllocator(c10::GetCPUAllocator(), static_cast<size_t>(cpu_cache_limit_bytes()));
    c10::SetCPUAllocator(g_allocator, /*priority=*/1);
  });
}

void set_cpu_cache_limit(size_t bytes) {
  if (g_allocator) g_allocator->set_limit(bytes);
}

void set_malloc_tuning(bool on) {
#if defined(__GLIBC__)
  // glibc hands every block above its mmap threshold (at most 32 MiB) back to the kernel when freed, so each
  // batch's attention scores and activations come back as fresh zero-filled pages: measured, half of a
  // long-document encode went to page faults. Keeping freed memory for reuse doubles that throughput. Off: glibc's
  // own defaults (its threshold then adapts again only after the next large free).
  mallopt(M_MMAP_THRESHOLD, on ? 256 << 20 : 128 << 10);
  mallopt(M_TRIM_THRESHOLD, on ? 1 << 30 : 128 << 10);
  mallopt(M_TOP_PAD, on ? 64 << 20 : 0);
#endif
}

void set_cpu_cache_training(bool training) { g_training.store(training, std::memory_order_relaxed); }

CpuCacheStats cpu_cache_stats() { return g_allocator ? g_allocator->stats() : CpuCacheStats{0, 0, 0, 0}; }

void empty_cpu_cache() {
  if (g_allocator) g_allocator->empty();
}

}  // namespace sbert
