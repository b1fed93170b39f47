// A caching CPU allocator for libtorch. Activations of one batch are large (a long document's attention scores
// are ~100 MiB) and die at the end of each layer; from the system allocator every such block comes back as fresh
// zero-filled pages, and measured, a third to a half of encode and training time went to those page faults.
// Blocks of 256 KiB and more are kept after use and handed out again for a request of the same size class;
// smaller ones go to libtorch's default allocator.
#pragma once

#include <cstddef>

namespace sbert {

// Installs the allocator for every CPU tensor created afterwards (once per process). Free blocks are kept while
// blocks in use plus cached stay under the most ever in use (1.5x that during training steps, see
// set_cpu_cache_training), and under 2 GiB of cache (SBERT_NODE_CPU_CACHE_MB overrides that; 0 turns the cache
// off).
void install_caching_cpu_allocator();

struct CpuCacheStats {
  size_t cached_bytes;
  size_t in_use_bytes;
  size_t hits;
  size_t misses;
};
CpuCacheStats cpu_cache_stats();
// While a training step runs (TrainScope), the cache may hold up to half as much again as the most ever in use,
// and a request may take a cached block of up to twice its size class: a step's tensors come in many sizes, and
// without this the blocks kept gave way to new ones at every step, most of a step's memory came back as fresh
// zero-filled pages, and 46% of its CPU time went to the kernel (MiniLM, MultipleNegativesRankingLoss, batch 64;
// 22% with it, 1.5x the pairs per second). Encode keeps the tighter rule, which leaves its peak RSS unchanged.
void set_cpu_cache_training(bool training);
// Frees every cached block (e.g. after a large job).
void empty_cpu_cache();

}  // namespace sbert
