// Windowed aggregations through the TopologyTestDriver.
#include <algorithm>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using std::chrono::milliseconds;
using WKey = Windowed<std::string>;

std::vector<std::tuple<std::string, TimestampMs, TimestampMs, int64_t>> read_windows(TopologyTestDriver& d,
                                                                                     const std::string& topic) {
  std::vector<std::tuple<std::string, TimestampMs, TimestampMs, int64_t>> out;
  for (auto& r : d.create_output_topic<WKey, int64_t>(topic).read_records_to_list()) {
    out.emplace_back(r.key.key, r.key.start, r.key.end, r.value.value_or(-1));
  }
  return out;
}

TEST(TimeWindowsTest, WindowStartsAreEpochAlignedForTumblingAndHoppingWindows) {
  // Kafka Streams' TimeWindows.windowsFor: windows start at multiples of `advance`, and a record
  // belongs to every window [start, start + size) that contains its timestamp.
  auto tumbling = TimeWindows::of_size_with_no_grace(milliseconds(10));
  EXPECT_EQ(tumbling.window_starts_for(0), (std::vector<TimestampMs>{0}));
  EXPECT_EQ(tumbling.window_starts_for(9), (std::vector<TimestampMs>{0}));
  EXPECT_EQ(tumbling.window_starts_for(10), (std::vector<TimestampMs>{10}));
  auto hopping = TimeWindows::of_size_with_no_grace(milliseconds(10)).advance_by(milliseconds(5));
  EXPECT_EQ(hopping.window_starts_for(3), (std::vector<TimestampMs>{0}));
  EXPECT_EQ(hopping.window_starts_for(7), (std::vector<TimestampMs>{0, 5}));
  EXPECT_EQ(hopping.window_starts_for(10), (std::vector<TimestampMs>{5, 10}));
  auto hop3 = TimeWindows::of_size_with_no_grace(milliseconds(10)).advance_by(milliseconds(3));
  EXPECT_EQ(hop3.window_starts_for(10), (std::vector<TimestampMs>{3, 6, 9}));
}

// Every window start for `ts` by brute force in 128-bit arithmetic: aligned starts k * advance >= 0
// with start <= ts < start + size.
std::vector<TimestampMs> reference_starts(const TimeWindows& w, TimestampMs ts) {
  std::vector<TimestampMs> out;
  if (ts < 0) return out;
  const __int128 t = ts;
  __int128 k = t / w.advance_ms;
  for (; k >= 0 && k * w.advance_ms + w.size_ms > t; --k) out.push_back(static_cast<TimestampMs>(k * w.advance_ms));
  std::reverse(out.begin(), out.end());
  return out;
}

// window_starts_for() that cannot hang the suite: stops (and fails) after `limit` calls.
std::vector<TimestampMs> bounded_starts(const TimeWindows& w, TimestampMs ts, size_t limit = 1000) {
  struct TooMany {};
  std::vector<TimestampMs> out;
  try {
    w.for_each_window_start(ts, [&](TimestampMs s) {
      out.push_back(s);
      if (out.size() > limit) throw TooMany{};
    });
  } catch (const TooMany&) {
    ADD_FAILURE() << "for_each_window_start(" << ts << ") called back more than " << limit << " times (size "
                  << w.size_ms << ", advance " << w.advance_ms << ")";
  }
  return out;
}

constexpr TimestampMs kMax = std::numeric_limits<TimestampMs>::max();
constexpr TimestampMs kMin = std::numeric_limits<TimestampMs>::min();

TEST(TimeWindowsTest, WindowStartsNearInt64MaxTerminateAndHoldTheTimestamp) {
  // A created_at within a window of INT64_MAX made `start += advance` overflow: the loop never ended.
  const auto tumbling = TimeWindows::of_size_with_no_grace(milliseconds(60'000));
  const auto hopping = TimeWindows::of_size_with_no_grace(milliseconds(300'000)).advance_by(milliseconds(60'000));
  for (TimestampMs ts : {kMax, kMax - 1, kMax - 1000, kMax - 59'999, kMax - 60'000, kMax - 120'000}) {
    EXPECT_EQ(bounded_starts(tumbling, ts), reference_starts(tumbling, ts)) << ts;
    EXPECT_EQ(bounded_starts(hopping, ts), reference_starts(hopping, ts)) << ts;
    EXPECT_EQ(bounded_starts(hopping, ts).size(), 5u) << ts;
  }
}

TEST(TimeWindowsTest, NegativeTimestampsBelongToNoWindow) {
  const auto tumbling = TimeWindows::of_size_with_no_grace(milliseconds(10));
  const auto hopping = TimeWindows::of_size_with_no_grace(milliseconds(10)).advance_by(milliseconds(3));
  for (TimestampMs ts : {TimestampMs{-1}, TimestampMs{-5}, TimestampMs{-10}, kMin + 1, kMin}) {
    EXPECT_TRUE(bounded_starts(tumbling, ts).empty()) << ts;
    EXPECT_TRUE(bounded_starts(hopping, ts).empty()) << ts;
  }
}

TEST(TimeWindowsTest, SizesAndAdvancesNearInt64MaxMatchTheReference) {
  const std::vector<TimeWindows> shapes = {{kMax, kMax, 0},
                                           {kMax, kMax / 2, 0},
                                           {kMax / 2, kMax / 2, 0},
                                           {kMax - 1, kMax / 3, 0},
                                           {kMax, kMax / 4 + 1, 0},
                                           {1, 1, 0},
                                           {7, 3, 0},
                                           {5, 10, 0},  // advance > size: gaps
                                           {300'000, 60'000, kMax / 4}};
  const std::vector<TimestampMs> times = {0,        1,        2,        6,    7,      kMax / 4,     kMax / 3,
                                          kMax / 2, kMax - 2, kMax - 1, kMax, 59'999, 1764288000000};
  for (const auto& w : shapes) {
    for (TimestampMs ts : times) {
      EXPECT_EQ(bounded_starts(w, ts), reference_starts(w, ts))
          << "size " << w.size_ms << " advance " << w.advance_ms << " ts " << ts;
    }
  }
}

TEST(TimeWindowsTest, WindowStartsMatchTheReferenceAcrossTheInt64Range) {
  std::mt19937_64 rng(24);
  const std::vector<TimeWindows> shapes = {
      TimeWindows::of_size_with_no_grace(milliseconds(60'000)),
      TimeWindows::of_size_with_no_grace(milliseconds(300'000)).advance_by(milliseconds(60'000)),
      TimeWindows::of_size_with_no_grace(milliseconds(10)).advance_by(milliseconds(3))};
  for (int i = 0; i < 2000; ++i) {
    // Uniform over int64, then the same value pulled close to INT64_MAX.
    const auto ts = static_cast<TimestampMs>(rng());
    for (TimestampMs t : {ts, ts < 0 ? ts : kMax - ts % 1'000'000}) {
      for (const auto& w : shapes) ASSERT_EQ(bounded_starts(w, t), reference_starts(w, t)) << t;
    }
  }
}

TEST(TimeWindowsTest, WindowEndsAndCloseTimesSaturateInsteadOfOverflowing) {
  // For the window aggregation: end = start + size, close time = stream time - grace, and the last
  // closed start = stream time - grace - size, each representable for any int64 input.
  const auto hopping =
      TimeWindows::of_size_and_grace(milliseconds(300'000), milliseconds(30'000)).advance_by(milliseconds(60'000));
  EXPECT_EQ(hopping.window_end(60'000), 360'000);
  EXPECT_EQ(hopping.window_end(kMax - 1000), kMax);
  EXPECT_EQ(hopping.close_time(100'000), 70'000);
  EXPECT_EQ(hopping.close_time(kMin + 5), kMin);
  EXPECT_EQ(hopping.last_closed_start(330'000), 0);  // [0, 300000) + 30000 grace
  EXPECT_EQ(hopping.last_closed_start(329'999), -1);
  EXPECT_EQ(hopping.last_closed_start(450'000), 120'000);  // 450000 - 330000 = 120000, aligned
  EXPECT_EQ(hopping.last_closed_start(kMin), -1);
  EXPECT_EQ(hopping.last_closed_start(-1), -1);
  EXPECT_EQ(hopping.last_closed_start(kMax), (kMax - 330'000) - (kMax - 330'000) % 60'000);
  const TimeWindows huge_grace{10, 10, kMax};
  EXPECT_EQ(huge_grace.close_time(5), 5 - kMax);
  EXPECT_EQ(huge_grace.close_time(-5), kMin);
  EXPECT_EQ(huge_grace.last_closed_start(kMax), -1);
  const TimeWindows negative_grace{10, 10, -kMax};  // not validated by the struct: still no overflow
  EXPECT_EQ(negative_grace.close_time(kMax), kMax);
}

TEST(TimeWindowsTest, TumblingCountEmitsOnEveryUpdateWithWindowBoundaries) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(10), milliseconds(0)))
      .count(Materialized::as("tumbling").with_retention(milliseconds(1000)))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 1);
  in.pipe_input("a", "x", 9);
  in.pipe_input("a", "x", 10);
  using W = std::tuple<std::string, TimestampMs, TimestampMs, int64_t>;
  EXPECT_EQ(read_windows(d, "out"), (std::vector<W>{{"a", 0, 10, 1}, {"a", 0, 10, 2}, {"a", 10, 20, 1}}));
  EXPECT_EQ((d.fetch_window<std::string, int64_t>("tumbling", "a", 0)), std::optional<int64_t>(2));
}

TEST(TimeWindowsTest, HoppingWindowCountsARecordInEveryWindowContainingIt) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(10), milliseconds(100)).advance_by(milliseconds(5)))
      .count(Materialized::as("hopping"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  d.create_input_topic<std::string, std::string>("in").pipe_input("a", "x", 7);
  using W = std::tuple<std::string, TimestampMs, TimestampMs, int64_t>;
  EXPECT_EQ(read_windows(d, "out"), (std::vector<W>{{"a", 0, 10, 1}, {"a", 5, 15, 1}}));
}

TEST(TimeWindowsTest, RecordsLaterThanWindowEndPlusGraceAreDroppedAndCounted) {
  // Kafka Streams: a window accepts records while stream time < window end + grace.
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(10), milliseconds(5)))
      .count(Materialized::as("graced"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 2);   // window [0,10)
  in.pipe_input("a", "x", 14);  // stream time 14 < 10 + 5: [0,10) still open
  in.pipe_input("a", "x", 3);   // accepted into [0,10)
  in.pipe_input("a", "x", 15);  // stream time 15 = 10 + 5: [0,10) closes
  in.pipe_input("a", "x", 4);   // late: dropped
  using W = std::tuple<std::string, TimestampMs, TimestampMs, int64_t>;
  EXPECT_EQ(read_windows(d, "out"),
            (std::vector<W>{{"a", 0, 10, 1}, {"a", 10, 20, 1}, {"a", 0, 10, 2}, {"a", 10, 20, 2}}));
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 1);
}

TEST(TimeWindowsTest, EmitOnWindowCloseEmitsEachWindowOnceWhenStreamTimePassesEndPlusGrace) {
  // Kafka Streams' EmitStrategy.onWindowClose (and suppress(untilWindowCloses)): one final result
  // per window, when stream time reaches window end + grace.
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(10), milliseconds(2)))
      .emit_strategy(EmitStrategy::kOnWindowClose)
      .count(Materialized::as("final"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 1);
  in.pipe_input("b", "x", 5);
  in.pipe_input("a", "x", 8);
  in.pipe_input("a", "x", 11);  // stream time 11 < 10 + 2: nothing final yet
  auto out = d.create_output_topic<WKey, int64_t>("out");
  EXPECT_TRUE(out.is_empty());
  in.pipe_input("a", "x", 12);  // 12 >= 12: [0,10) is final
  using W = std::tuple<std::string, TimestampMs, TimestampMs, int64_t>;
  EXPECT_EQ(read_windows(d, "out"), (std::vector<W>{{"a", 0, 10, 2}, {"b", 0, 10, 1}}));
  in.pipe_input("a", "x", 13);
  EXPECT_TRUE(out.is_empty());
  in.pipe_input("c", "x", 30);  // closes [10,20)
  EXPECT_EQ(read_windows(d, "out"), (std::vector<W>{{"a", 10, 20, 3}}));
}

TEST(TimeWindowsTest, WindowedAggregateAndReduceKeepPerWindowState) {
  // Retention defaults to window size + grace (as in Kafka Streams); keep windows longer to read them.
  StreamsBuilder b;
  auto windowed = b.stream<std::string, int64_t>("in").group_by_key().windowed_by(
      TimeWindows::of_size_with_no_grace(milliseconds(100)));
  windowed
      .reduce([](int64_t a, int64_t v) { return a + v; }, Materialized::as("sum").with_retention(milliseconds(1000)))
      .to_stream()
      .to("sum");
  windowed
      .aggregate([] { return int64_t{1}; }, [](const std::string&, int64_t v, int64_t agg) { return agg * v; },
                 Materialized::as("product").with_retention(milliseconds(1000)))
      .to_stream()
      .to("product");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("in");
  in.pipe_input("k", 2, 10);
  in.pipe_input("k", 3, 20);
  in.pipe_input("k", 4, 110);
  EXPECT_EQ((d.fetch_window<std::string, int64_t>("sum", "k", 0)), std::optional<int64_t>(5));
  EXPECT_EQ((d.fetch_window<std::string, int64_t>("product", "k", 0)), std::optional<int64_t>(6));
  EXPECT_EQ((d.fetch_window<std::string, int64_t>("product", "k", 100)), std::optional<int64_t>(4));
}

}  // namespace
}  // namespace kstreams

namespace kstreams {
namespace {

using Session = std::tuple<std::string, TimestampMs, TimestampMs, int64_t>;

TEST(SessionWindowsTest, RecordsWithinTheInactivityGapMergeIntoOneSessionAndBridgingRecordsMergeSessions) {
  // Kafka Streams' SessionWindows: a record joins every session of its key ending at most `gap`
  // before it or starting at most `gap` after it; session [start, end] bounds are record timestamps.
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap_and_grace(milliseconds(5), milliseconds(100)))
      .count(Materialized::as("sessions"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  for (TimestampMs t : {0, 3, 20, 12, 16}) in.pipe_input("a", "x", t);
  in.pipe_input("b", "x", 2);
  EXPECT_EQ(read_windows(d, "out"),
            (std::vector<Session>{
                {"a", 0, 0, 1}, {"a", 0, 3, 2}, {"a", 20, 20, 1}, {"a", 12, 12, 1}, {"a", 12, 20, 3}, {"b", 2, 2, 1}}));
}

TEST(SessionWindowsTest, ASessionThatClosedBeforeStreamTimeMinusGraceDropsTheRecord) {
  StreamsBuilder b;
  b.stream<std::string, int64_t>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap_and_no_grace(milliseconds(5)))
      .reduce([](int64_t a, int64_t v) { return a + v; }, Materialized::as("sums"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("in");
  in.pipe_input("a", 1, 0);
  in.pipe_input("a", 2, 3);
  in.pipe_input("z", 1, 50);  // stream time 50
  in.pipe_input("a", 4, 1);   // would merge into [0,3], which ended before 50: late
  EXPECT_EQ(read_windows(d, "out"), (std::vector<Session>{{"a", 0, 0, 1}, {"a", 0, 3, 3}, {"z", 50, 50, 1}}));
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 1);
}

TEST(SessionWindowsTest, AggregateUsesTheMergerWhenARecordBridgesTwoSessions) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap_and_grace(milliseconds(16), milliseconds(100)))
      .aggregate([] { return std::string(); },
                 [](const std::string&, const std::string& v, const std::string& agg) { return agg + v; },
                 [](const std::string&, const std::string& a, const std::string& c) { return a + "|" + c; },
                 Materialized::as("concat"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k", "a", 0);
  in.pipe_input("k", "c", 30);  // 30 > 0 + 16: a second session
  in.pipe_input("k", "b", 15);  // within 16 of both: merges them
  auto out = d.create_output_topic<Windowed<std::string>, std::string>("out").read_records_to_list();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].key, (Windowed<std::string>{"k", 0, 30}));
  EXPECT_EQ(out[2].value, std::optional<std::string>("a|cb"));
}

}  // namespace
}  // namespace kstreams

namespace kstreams {
namespace {

using Win = std::tuple<std::string, TimestampMs, TimestampMs, int64_t>;

TEST(SlidingWindowsTest, EachRecordDefinesAWindowEndingAtItAndOneStartingRightAfterIt) {
  // Kafka Streams' SlidingWindows (KIP-450), difference 10: records at 100 and 105 give the windows
  // [90,100] = {100}, [95,105] = {100,105} and [101,111] = {105}; an out-of-order record updates
  // every window containing it and creates its own left and right windows.
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SlidingWindows::with_time_difference_and_grace(milliseconds(10), milliseconds(100)))
      .count(Materialized::as("sliding"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 100);
  in.pipe_input("a", "x", 105);
  EXPECT_EQ(read_windows(d, "out"), (std::vector<Win>{{"a", 90, 100, 1}, {"a", 95, 105, 2}, {"a", 101, 111, 1}}));
  in.pipe_input("a", "x", 120);
  EXPECT_EQ(read_windows(d, "out"), (std::vector<Win>{{"a", 110, 120, 1}}));
  in.pipe_input("a", "x", 112);
  EXPECT_EQ(read_windows(d, "out"),
            (std::vector<Win>{{"a", 102, 112, 2}, {"a", 106, 116, 1}, {"a", 110, 120, 2}, {"a", 113, 123, 1}}));
}

TEST(SlidingWindowsTest, RecordsOlderThanDifferencePlusGraceAreDroppedAndCounted) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SlidingWindows::with_time_difference_and_no_grace(milliseconds(10)))
      .count(Materialized::as("sliding"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 120);
  (void)read_windows(d, "out");
  in.pipe_input("a", "x", 105);  // 105 + 10 < 120: every window it could join has closed
  EXPECT_TRUE(read_windows(d, "out").empty());
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 1);
}

}  // namespace
}  // namespace kstreams
