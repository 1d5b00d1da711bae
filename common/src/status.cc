#include "kstreams/common/status.h"

#include <cstdio>
#include <cstdlib>

namespace kstreams {

void invariant_failed(const char* cond, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "kstreams invariant violated at %s:%d: %s (%s)\n", file, line, msg, cond);
  std::fflush(stderr);
  std::abort();
}

}  // namespace kstreams
