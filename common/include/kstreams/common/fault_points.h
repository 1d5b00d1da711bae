// Named fault points for crash-consistency tests (the idea of RocksDB's TEST_SYNC_POINT).
//
// Production code marks a boundary of a protocol with `KSTREAMS_FAULT_POINT("state.commit.before_write")`
// inside a function returning absl::Status. Tests arm a point by name so that passing it either
// returns an error from that function or throws `SimulatedCrash` (a process crash at that boundary:
// the test then destroys the component without a clean close and checks what survives).
//
// The macro expands to nothing unless KSTREAMS_FAULT_POINTS is defined (the default build defines
// it; release packaging can turn it off). When nothing is armed a point costs one relaxed atomic load.
//
// Thread-safety: arm/disarm/hit may be called from any thread. The registry is process-wide.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "kstreams/common/status.h"

namespace kstreams::fault {

// Thrown by a point armed with FaultAction::kCrash. The only exception the I/O paths ever throw;
// nothing in kstreams catches it, so it unwinds to the test.
class SimulatedCrash : public std::exception {
 public:
  explicit SimulatedCrash(std::string point) : what_("simulated crash at fault point " + point) {}
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

enum class FaultAction {
  kReturnError,  // the point returns the armed status from the enclosing function
  kCrash,        // the point throws SimulatedCrash
};

struct FaultSpec {
  FaultAction action = FaultAction::kReturnError;
  absl::Status error = absl::InternalError("injected fault");
  int skip = 0;   // let this many hits pass first
  int times = 1;  // then fire this many times (< 0: every hit until disarmed)
};

// Arms `point` (replacing an earlier arming of the same name).
void arm(std::string_view point, FaultSpec spec = {});
void disarm(std::string_view point);
void disarm_all();
// How often `point` was passed since it was last armed (counted only while armed).
[[nodiscard]] int64_t hits(std::string_view point);

// Called by the macro: ok, the armed error, or throws SimulatedCrash.
[[nodiscard]] absl::Status hit(std::string_view point);

// Arms a point for the lifetime of the object (tests).
class ScopedFault {
 public:
  ScopedFault(std::string_view point, FaultSpec spec) : point_(point) { arm(point_, std::move(spec)); }
  ~ScopedFault() { disarm(point_); }
  ScopedFault(const ScopedFault&) = delete;
  ScopedFault& operator=(const ScopedFault&) = delete;

 private:
  std::string point_;
};

}  // namespace kstreams::fault

#ifdef KSTREAMS_FAULT_POINTS
#define KSTREAMS_FAULT_POINT(name) KSTREAMS_RETURN_IF_ERROR(::kstreams::fault::hit(name))
#else
#define KSTREAMS_FAULT_POINT(name) \
  do {                             \
  } while (0)
#endif
