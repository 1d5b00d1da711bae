#include "offset_reset.h"

#include <gtest/gtest.h>

namespace kstreams::runtime {
namespace {

TEST(OffsetResetTest, ParsesLibrdkafkasNamesAndRefusesTheRest) {
  for (const char* p : {"earliest", "smallest", "beginning"})
    EXPECT_EQ(*parse_offset_reset(p), OffsetReset::kEarliest) << p;
  for (const char* p : {"latest", "largest", "end"}) EXPECT_EQ(*parse_offset_reset(p), OffsetReset::kLatest) << p;
  EXPECT_EQ(parse_offset_reset("error").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(parse_offset_reset("none").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(parse_offset_reset("sometimes").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kstreams::runtime
