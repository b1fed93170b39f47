// Idle cores lent to an encode batch. Encode batches normally run side by side, one per core (see
// threading.h); when a core is idle (a single request, the last batch of a call, a batch that finished before
// the one beside it), the running batch borrows a helper thread for it, and splits its products over few rows
// (under 128) among them by output columns and its attention by (sentence, head). Measured on 2 cores: a [18 x 384] x [384 x 1536]
// product takes 0.54 ms on one thread and 0.30 ms split in two this way, while libtorch's OpenMP pool and
// OpenBLAS's own threads gain almost nothing at such sizes.
//
// Helpers spin while lent (the batch hands them work every few hundred microseconds) and sleep otherwise. A
// helper leaves its team as soon as more batches run than there are cores for them, so a batch that arrives
// later never competes with a spinning helper; a batch looks for helpers when it starts and again before each
// split product. The splitBatches setting turns lending off.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace sbert {

struct Helper;

// Idle helpers lent to one encode batch for the team's lifetime, now and as cores free up (when `cpu`: a batch on
// a GPU gains nothing from them). Create it inside an EncodeScope; pass it to the batch's ops in their context.
class Team {
 public:
  explicit Team(bool cpu);
  ~Team();
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  // Runs fn(part, parts) for every part in [0, parts): part 0 on the calling thread, the others on the team's
  // helpers, or on the calling thread for those it has none of (or that have left). Returns when all have run;
  // rethrows the first exception. Parts run under c10::InferenceMode.
  void run(int parts, const std::function<void(int part, int parts)>& fn);

 private:
  void recruit();
  bool active_ = false;
  std::vector<Helper*> helpers_;
};

// How many parts small products are cut into: one per lane when lanes have one thread each, else 1. Fixed for
// the process, so a batch computes the same blocks (and the same bits: BLAS rounds differently for different
// block shapes) whether or not helpers are free when it runs.
int split_parts();

// Counts the encode batches running now (EncodeScope maintains it).
void batch_started();
void batch_finished();

}  // namespace sbert
