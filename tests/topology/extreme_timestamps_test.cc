// Timestamps are input: a record stamped near INT64_MAX (a producer's bug, or a hostile one) must
// be handled by every windowed node with well-defined arithmetic, neither dropped as "late" by an
// overflowed comparison nor hanging a loop. (UBSan flags any overflow left.)
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using std::chrono::milliseconds;
constexpr TimestampMs kMax = std::numeric_limits<TimestampMs>::max();

TEST(ExtremeTimestampsTest, ASlidingWindowRecordNearTheEndOfTimeIsCountedNotDroppedAsLate) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SlidingWindows::with_time_difference_and_grace(milliseconds(10), milliseconds(5)))
      .count(Materialized::as("sliding"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", kMax - 3);
  in.pipe_input("a", "x", kMax - 1);
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 0);
  auto out = d.create_output_topic<Windowed<std::string>, int64_t>("out").read_records_to_list();
  // The window ending at the second record, [kMax - 11, kMax - 1], holds both.
  const bool both = std::any_of(out.begin(), out.end(), [](const auto& r) {
    return r.key.start == kMax - 11 && r.value == std::optional<int64_t>(2);
  });
  EXPECT_TRUE(both) << out.size() << " results";
}

TEST(ExtremeTimestampsTest, AStreamStreamJoinNearTheEndOfTimeJoinsInsteadOfDroppingAsLate) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("left")
      .join(
          b.stream<std::string, std::string>("right"),
          [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_and_grace(milliseconds(10), milliseconds(5)), Joined::as("end-of-time"))
      .to("out");
  TopologyTestDriver d(b.build());
  d.create_input_topic<std::string, std::string>("left").pipe_input("k", "a", kMax - 4);
  d.create_input_topic<std::string, std::string>("right").pipe_input("k", "x", kMax - 2);
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 0);
  auto out = d.create_output_topic<std::string, std::string>("out");
  EXPECT_EQ(out.read_values(), (std::vector<std::string>{"a+x"}));
}

TEST(ExtremeTimestampsTest, SessionAndTumblingWindowsNearTheEndOfTimeAreOpenAndMerge) {
  StreamsBuilder b;
  auto in = b.stream<std::string, std::string>("in");
  in.group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap_and_grace(milliseconds(5), milliseconds(5)))
      .count(Materialized::as("sessions"))
      .to_stream()
      .to("sessions-out");
  in.group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(10), milliseconds(5)))
      .emit_strategy(EmitStrategy::kOnWindowClose)
      .count(Materialized::as("tumbling"))
      .to_stream()
      .to("tumbling-out");
  TopologyTestDriver d(b.build());
  auto input = d.create_input_topic<std::string, std::string>("in");
  input.pipe_input("a", "x", kMax - 6);
  input.pipe_input("a", "x", kMax - 2);  // within the gap: one session of two records
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 0);
  auto sessions = d.create_output_topic<Windowed<std::string>, int64_t>("sessions-out").read_records_to_list();
  ASSERT_FALSE(sessions.empty());
  EXPECT_EQ(sessions.back().value, std::optional<int64_t>(2));
  EXPECT_EQ(sessions.back().key.start, kMax - 6);
  // The tumbling window holding them can never close (its end is past INT64_MAX): nothing emitted.
  auto tumbling = d.create_output_topic<Windowed<std::string>, int64_t>("tumbling-out");
  EXPECT_TRUE(tumbling.is_empty());
}

}  // namespace
}  // namespace kstreams
