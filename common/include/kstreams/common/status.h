// The one error model: absl::Status / absl::StatusOr<T>, with Abseil's code vocabulary.
//
//   kUnavailable        transient: retry the same call (with backoff)
//   kAborted            retry the enclosing transaction (abort, rewind, reprocess)
//   kFailedPrecondition do not retry: the caller must change something first
//   kDataLoss           input that cannot be decoded (a dead-letter candidate)
//   kNotFound           absent, not an I/O failure
//
// Functions returning these are marked [[nodiscard]] (Abseil 20220623 does not enforce it).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the calling function if it is not ok.
#define KSTREAMS_RETURN_IF_ERROR(expr)       \
  do {                                       \
    ::absl::Status _ks_status = (expr);      \
    if (!_ks_status.ok()) return _ks_status; \
  } while (0)

#define KSTREAMS_CONCAT_INNER_(a, b) a##b
#define KSTREAMS_CONCAT_(a, b) KSTREAMS_CONCAT_INNER_(a, b)

// `KSTREAMS_ASSIGN_OR_RETURN(auto x, f())`: unwraps a StatusOr or returns its error.
#define KSTREAMS_ASSIGN_OR_RETURN(lhs, expr)                                                          \
  auto KSTREAMS_CONCAT_(_ks_or_, __LINE__) = (expr);                                                  \
  if (!KSTREAMS_CONCAT_(_ks_or_, __LINE__).ok()) return KSTREAMS_CONCAT_(_ks_or_, __LINE__).status(); \
  lhs = std::move(*KSTREAMS_CONCAT_(_ks_or_, __LINE__))

namespace kstreams {

// Always-on invariant check (never compiled out): aborts with a message when `cond` is false.
[[noreturn]] void invariant_failed(const char* cond, const char* file, int line, const char* msg);

}  // namespace kstreams

#define KSTREAMS_CHECK(cond, msg)                                                \
  do {                                                                           \
    if (!(cond)) ::kstreams::invariant_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
