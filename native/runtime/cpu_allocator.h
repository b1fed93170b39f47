// A caching CPU allocator for libtorch. Activations of one batch are large (a long document's attention scores
// are ~100 MiB) and die at the end of each layer; from the system allocator every such block comes back as fresh
// zero-filled pages, and measured, a third to a half of encode and training time went to those page faults.
// In encode, blocks of 256 KiB and more, each in a mapping of its own, are kept after use by size class and handed
// out again for a request of the same class; a request of another class resizes the nearest kept block (its pages
// stay) rather than taking new ones. In training steps, blocks of a page (4 KiB) and more come from an arena whose
// free ranges merge and serve any size (see set_cpu_cache_training). The rest go to libtorch's default allocator.
#pragma once

#include <cstddef>

namespace sbert {

// Installs the allocator for every CPU tensor created afterwards (once per process). Free encode blocks are kept
// while blocks in use plus cached stay under the most ever in use, and under the cpuCacheMb setting (2 GiB by
// default; 0 turns the cache off, the training arena included).
void install_caching_cpu_allocator();
// The cache's limit (the cpuCacheMb setting puts it into effect).
void set_cpu_cache_limit(size_t bytes);
// glibc malloc's thresholds for keeping freed memory (the mallocTuning setting).
void set_malloc_tuning(bool on);

struct CpuCacheStats {
  size_t cached_bytes;  // free blocks kept, and the training arena's free ranges
  size_t in_use_bytes;
  size_t hits;    // requests served from what was kept
  size_t misses;  // requests that took new memory from the system (in training: mapped a new arena region)
};
CpuCacheStats cpu_cache_stats();
// While a training step runs (TrainScope), blocks of a page and more come from an arena: freed blocks are reused
// at their exact size first, then merged with free neighbours so that any free range serves any request that
// fits. A step's tensor sizes change with every batch's sequence length; kept by size class they mostly missed
// the next step, which then took fresh pages (BERT-base, batch 16: 5,000-8,000 page faults per pair and 11% of
// CPU time clearing pages; with the arena 3-15 faults per pair once it has grown). The arena keeps its pages
// after training, for the next fit, until empty_cpu_cache() unmaps them.
void set_cpu_cache_training(bool training);
// Frees every cached block and hands the training arena's free pages back to the system (e.g. after a large job).
void empty_cpu_cache();

}  // namespace sbert
