#include "ops/context.h"

#include <exception>

#include "runtime/team.h"

namespace sbert::ops {

void Context::run_parts(const std::function<void(int part, int parts)>& fn) const {
  if (team != nullptr) return team->run(parts, fn);
  for (int part = 0; part < parts; ++part) fn(part, parts);
}

}  // namespace sbert::ops
