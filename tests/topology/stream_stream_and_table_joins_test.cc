// Windowed stream-stream joins and table-table joins through the TopologyTestDriver.
#include <gtest/gtest.h>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using std::chrono::milliseconds;
using Out = std::vector<std::pair<std::string, TimestampMs>>;

Out read_with_ts(TopologyTestDriver& d, const std::string& topic) {
  Out out;
  for (auto& r : d.create_output_topic<std::string, std::string>(topic).read_records_to_list()) {
    out.emplace_back(r.value.value_or("<null>"), r.timestamp);
  }
  return out;
}

std::string opt(const std::optional<std::string>& v) { return v.value_or("null"); }

TEST(StreamStreamJoinTest, InnerJoinMatchesRecordsWithinTheWindowWithTheLaterTimestamp) {
  // Kafka Streams' JoinWindows.ofTimeDifference(10): records join when |t1 - t2| <= 10; the result
  // carries max(t1, t2).
  StreamsBuilder b;
  auto left = b.stream<std::string, std::string>("left");
  auto right = b.stream<std::string, std::string>("right");
  left.join(
          right, [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_and_grace(milliseconds(10), milliseconds(100)), Joined::as("lr"))
      .to("out");
  TopologyTestDriver d(b.build());
  auto l = d.create_input_topic<std::string, std::string>("left");
  auto r = d.create_input_topic<std::string, std::string>("right");
  l.pipe_input("k", "a", 0);
  r.pipe_input("k", "x", 5);
  r.pipe_input("k", "y", 20);
  r.pipe_input("other", "z", 5);
  l.pipe_input("k", "b", 15);
  EXPECT_EQ(read_with_ts(d, "out"), (Out{{"a+x", 5}, {"b+x", 15}, {"b+y", 20}}));
}

TEST(StreamStreamJoinTest, AsymmetricWindowsUseBeforeAndAfterFromTheLeftSide) {
  // JoinWindows.before(b).after(a): a left record at t joins right records in [t - b, t + a].
  StreamsBuilder b;
  b.stream<std::string, std::string>("left")
      .join(
          b.stream<std::string, std::string>("right"),
          [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_and_grace(milliseconds(0), milliseconds(100))
              .before(milliseconds(0))
              .after(milliseconds(10)),
          Joined::as("asym"))
      .to("out");
  TopologyTestDriver d(b.build());
  auto l = d.create_input_topic<std::string, std::string>("left");
  auto r = d.create_input_topic<std::string, std::string>("right");
  r.pipe_input("k", "early", 45);
  l.pipe_input("k", "a", 50);  // right records must be in [50, 60]: "early" (45) does not join
  r.pipe_input("k", "late", 58);
  EXPECT_EQ(read_with_ts(d, "out"), (Out{{"a+late", 58}}));
}

TEST(StreamStreamJoinTest, LeftJoinEmitsUnmatchedLeftRecordsOnlyAfterTheirWindowCloses) {
  // Kafka Streams 3.x: a left record without a match is emitted with null once stream time passes
  // t + after + grace, and not at all if a match arrives before (no spurious results).
  StreamsBuilder b;
  b.stream<std::string, std::string>("left")
      .left_join(
          b.stream<std::string, std::string>("right"),
          [](const std::string& l, const std::optional<std::string>& r) { return l + "+" + opt(r); },
          JoinWindows::of_time_difference_with_no_grace(milliseconds(10)), Joined::as("lj"))
      .to("out");
  TopologyTestDriver d(b.build());
  auto l = d.create_input_topic<std::string, std::string>("left");
  auto r = d.create_input_topic<std::string, std::string>("right");
  l.pipe_input("k1", "a", 0);
  l.pipe_input("k2", "b", 2);
  r.pipe_input("k2", "x", 8);  // b matches before its window closes
  EXPECT_EQ(read_with_ts(d, "out"), (Out{{"b+x", 8}}));
  r.pipe_input("k3", "y", 10);  // stream time 10: a's window [.., 10] not closed yet
  EXPECT_EQ(read_with_ts(d, "out"), (Out{}));
  r.pipe_input("k3", "z", 11);  // 11 > 0 + 10: a is emitted with null
  EXPECT_EQ(read_with_ts(d, "out"), (Out{{"a+null", 0}}));
}

TEST(StreamStreamJoinTest, OuterJoinEmitsUnmatchedRecordsOfBothSidesAfterTheWindowCloses) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("left")
      .outer_join(
          b.stream<std::string, std::string>("right"),
          [](const std::optional<std::string>& l, const std::optional<std::string>& r) {
            return opt(l) + "+" + opt(r);
          },
          JoinWindows::of_time_difference_with_no_grace(milliseconds(5)), Joined::as("oj"))
      .to("out");
  TopologyTestDriver d(b.build());
  auto l = d.create_input_topic<std::string, std::string>("left");
  auto r = d.create_input_topic<std::string, std::string>("right");
  l.pipe_input("k1", "a", 0);
  r.pipe_input("k2", "x", 1);
  l.pipe_input("k3", "b", 3);
  r.pipe_input("k3", "y", 4);
  EXPECT_EQ(read_with_ts(d, "out"), (Out{{"b+y", 4}}));
  l.pipe_input("k9", "late-trigger", 20);
  EXPECT_EQ(read_with_ts(d, "out"), (Out{{"a+null", 0}, {"null+x", 1}}));
}

TEST(StreamStreamJoinTest, RecordsOutsideTheGracePeriodAreDroppedAndCounted) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("left")
      .join(
          b.stream<std::string, std::string>("right"),
          [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_with_no_grace(milliseconds(5)), Joined::as("g"))
      .to("out");
  TopologyTestDriver d(b.build());
  auto l = d.create_input_topic<std::string, std::string>("left");
  auto r = d.create_input_topic<std::string, std::string>("right");
  l.pipe_input("k", "a", 100);
  r.pipe_input("k", "old", 10);  // 10 + 5 < 100: late
  EXPECT_TRUE(read_with_ts(d, "out").empty());
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 1);
}

TEST(TableTableJoinTest, InnerJoinFollowsUpdatesOfBothSidesAndDeletesWhenOneSideIsDeleted) {
  // Kafka Streams' KTableKTableJoin: the join result is defined while both sides have a value; a
  // deletion on either side deletes the result.
  StreamsBuilder b;
  auto users = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  auto emails = b.table<std::string, std::string>("emails", Materialized::as("emails-store"));
  users
      .join(
          emails, [](const std::string& u, const std::string& e) { return u + "<" + e + ">"; },
          Materialized::as("contacts"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto u = d.create_input_topic<std::string, std::string>("users");
  auto e = d.create_input_topic<std::string, std::string>("emails");
  u.pipe_input("1", "ann", 1);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "1")), std::nullopt);
  e.pipe_input("1", "a@x", 2);
  u.pipe_input("1", "anna", 3);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "1")), std::optional<std::string>("anna<a@x>"));
  e.pipe_tombstone("1", 4);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "1")), std::nullopt);
  EXPECT_EQ(read_with_ts(d, "out"), (Out{{"ann<a@x>", 2}, {"anna<a@x>", 3}}));
}

TEST(TableTableJoinTest, LeftJoinKeepsLeftRowsWithoutARightValue) {
  StreamsBuilder b;
  auto users = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  auto emails = b.table<std::string, std::string>("emails", Materialized::as("emails-store"));
  users.left_join(
      emails, [](const std::string& u, const std::optional<std::string>& e) { return u + "<" + opt(e) + ">"; },
      Materialized::as("contacts"));
  TopologyTestDriver d(b.build());
  auto u = d.create_input_topic<std::string, std::string>("users");
  auto e = d.create_input_topic<std::string, std::string>("emails");
  e.pipe_input("2", "b@x", 1);  // no left row: no result
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "2")), std::nullopt);
  u.pipe_input("1", "ann", 2);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "1")), std::optional<std::string>("ann<null>"));
  e.pipe_input("1", "a@x", 3);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "1")), std::optional<std::string>("ann<a@x>"));
  u.pipe_tombstone("1", 4);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "1")), std::nullopt);
}

TEST(TableTableJoinTest, OuterJoinKeepsRowsPresentOnEitherSide) {
  StreamsBuilder b;
  auto users = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  auto emails = b.table<std::string, std::string>("emails", Materialized::as("emails-store"));
  users.outer_join(
      emails,
      [](const std::optional<std::string>& u, const std::optional<std::string>& e) {
        return opt(u) + "<" + opt(e) + ">";
      },
      Materialized::as("contacts"));
  TopologyTestDriver d(b.build());
  auto u = d.create_input_topic<std::string, std::string>("users");
  auto e = d.create_input_topic<std::string, std::string>("emails");
  e.pipe_input("2", "b@x", 1);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "2")), std::optional<std::string>("null<b@x>"));
  u.pipe_input("2", "bob", 2);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "2")), std::optional<std::string>("bob<b@x>"));
  e.pipe_tombstone("2", 3);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "2")), std::optional<std::string>("bob<null>"));
  u.pipe_tombstone("2", 4);
  EXPECT_EQ((d.get<std::string, std::string>("contacts", "2")), std::nullopt);
}

}  // namespace
}  // namespace kstreams
