// auto.offset.reset: where a consumer starts a partition that has no committed offset.
#pragma once

#include <string>
#include <string_view>

#include "kstreams/common/status.h"

namespace kstreams::runtime {

enum class OffsetReset { kEarliest, kLatest };

// earliest/smallest/beginning, latest/largest/end (librdkafka's names); kFailedPrecondition for
// error/none (no offset to start from), kInvalidArgument for anything else.
[[nodiscard]] inline absl::StatusOr<OffsetReset> parse_offset_reset(std::string_view policy) {
  if (policy == "earliest" || policy == "smallest" || policy == "beginning") return OffsetReset::kEarliest;
  if (policy == "latest" || policy == "largest" || policy == "end") return OffsetReset::kLatest;
  if (policy == "error" || policy == "none") {
    return absl::FailedPreconditionError("auto.offset.reset is '" + std::string(policy) + "'");
  }
  return absl::InvalidArgumentError("unknown auto.offset.reset '" + std::string(policy) + "'");
}

}  // namespace kstreams::runtime
