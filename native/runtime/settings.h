// Process-wide settings, set through the API (environment variables give only their defaults). A call (an encode
// batch, a training step) reads them once, when it starts, into the ops::Context it passes to its layers.
#pragma once

#include "ops/context.h"

namespace sbert {

class Team;

void set_linear_backend(ops::LinearBackend backend);
ops::LinearBackend linear_backend();

// The context of a call starting now: a training step (`train`) or inference, with the helpers of `team` (may be
// null) and the current settings.
ops::Context call_context(bool train, Team* team);

}  // namespace sbert
