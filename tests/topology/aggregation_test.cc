// Groupings, aggregations and tables through the TopologyTestDriver.
#include <gtest/gtest.h>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using Counts = std::vector<std::pair<std::string, int64_t>>;

TEST(AggregationTest, CountPerKeyEmitsEveryUpdateAndKeepsItInTheStore) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").group_by_key().count(Materialized::as("counts")).to_stream().to("out");
  TopologyTestDriver d(b.build(), {{"application.id", "app"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 1);
  in.pipe_input("b", "x", 2);
  in.pipe_input("a", "x", 3);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("out").read_key_values()),
            (Counts{{"a", 1}, {"b", 1}, {"a", 2}}));
  EXPECT_EQ((d.get<std::string, int64_t>("counts", "a")), std::optional<int64_t>(2));
  EXPECT_EQ((d.get<std::string, int64_t>("counts", "zzz")), std::nullopt);
  // Every store write went to the changelog `<application.id>-<store>-changelog`.
  EXPECT_EQ(d.changelog("counts").size(), 3u);
  EXPECT_EQ(d.read_raw("app-counts-changelog").size(), 3u);
}

TEST(AggregationTest, ChangelogCarriesTheLastValuePerKeyOfEachCommitDownstreamSeesEveryUpdate) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").group_by_key().count(Materialized::as("counts")).to_stream().to("out");
  const Topology topology = b.build();
  // Three inputs per commit: the changelog cache keeps the last count per key until the commit.
  TopologyTestDriver d(topology, {{"application.id", "app"}, {"commit.every.records", "3"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  for (int i = 0; i < 6; ++i) in.pipe_input(i % 3 == 1 ? "b" : "a", "x", i);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("out").read_key_values()),
            (Counts{{"a", 1}, {"b", 1}, {"a", 2}, {"a", 3}, {"b", 2}, {"a", 4}}));
  const auto log = d.read_raw("app-counts-changelog");
  ASSERT_EQ(log.size(), 4u);  // commit 1: a=2, b=1; commit 2: a=4, b=2
  std::vector<std::pair<std::string, int64_t>> records;
  for (const auto& r : log) {
    records.emplace_back(*r.key, *serdes::Int64()->from_bytes(*r.value));
  }
  EXPECT_EQ(records, (Counts{{"a", 2}, {"b", 1}, {"a", 4}, {"b", 2}}));
  EXPECT_EQ(log[0].timestamp, 2) << "the timestamp of the key's last write in the commit";

  // statestore.cache.max.bytes=0: every write is sent.
  TopologyTestDriver uncached(
      topology, {{"application.id", "app"}, {"commit.every.records", "3"}, {"statestore.cache.max.bytes", "0"}});
  auto in2 = uncached.create_input_topic<std::string, std::string>("in");
  for (int i = 0; i < 6; ++i) in2.pipe_input(i % 3 == 1 ? "b" : "a", "x", i);
  EXPECT_EQ(uncached.read_raw("app-counts-changelog").size(), 6u);
}

TEST(AggregationTest, GroupByRepartitionsThroughTheNamedTopicBeforeCounting) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("words")
      .group_by([](const std::string&, const std::string& w) { return w; }, Grouped::as("by-word"))
      .count(Materialized::as("word-counts"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build(), {{"application.id", "wc"}, {"default.topic.partitions", "3"}});
  auto in = d.create_input_topic<std::string, std::string>("words");
  in.pipe_input("line1", "cat", 1);
  in.pipe_input("line2", "dog", 2);
  in.pipe_input("line3", "cat", 3);
  EXPECT_EQ(d.read_raw("wc-by-word-repartition").size(), 3u);
  auto out = d.create_output_topic<std::string, int64_t>("out").read_key_values();
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (Counts{{"cat", 1}, {"cat", 2}, {"dog", 1}}));
  EXPECT_EQ((d.get<std::string, int64_t>("word-counts", "cat")), std::optional<int64_t>(2));
}

TEST(AggregationTest, GroupByKeyAfterAKeyChangeWithoutANameFailsTheBuild) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .select_key([](const std::string&, const std::string& v) { return v; })
      .group_by_key()
      .count(Materialized::as("c"));
  EXPECT_THROW(b.build(), TopologyException);
}

TEST(AggregationTest, ReduceCombinesValuesAndTheFirstValueIsTheInitialAggregate) {
  StreamsBuilder b;
  b.stream<std::string, int64_t>("in")
      .group_by_key()
      .reduce([](int64_t agg, int64_t v) { return std::max(agg, v); }, Materialized::as("max"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("in");
  for (int64_t v : {3, 1, 7, 5}) in.pipe_input("k", v, v);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("out").read_values()), (std::vector<int64_t>{3, 3, 7, 7}));
}

TEST(AggregationTest, AggregateStartsFromTheInitializerAndMayChangeTheValueType) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .aggregate([] { return std::string("["); },
                 [](const std::string&, const std::string& v, std::string agg) { return agg + v; },
                 Materialized::as("concat"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k", "a", 1);
  in.pipe_input("k", "b", 2);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()),
            (std::vector<std::string>{"[a", "[ab"}));
}

TEST(AggregationTest, StoresCanBePrefilledBeforeProcessing) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").group_by_key().count(Materialized::as("counts")).to_stream().to("out");
  TopologyTestDriver d(b.build());
  d.put<std::string, int64_t>("counts", "a", 41);
  d.create_input_topic<std::string, std::string>("in").pipe_input("a", "x", 1);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("out").read_values()), (std::vector<int64_t>{42}));
}

TEST(TableTest, TableSourceMaterializesLatestValueAndTombstonesDelete) {
  StreamsBuilder b;
  b.table<std::string, std::string>("users", Materialized::as("users-store")).to_stream().to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("users");
  in.pipe_input("u1", "alice", 1);
  in.pipe_input("u1", "alicia", 2);
  EXPECT_EQ((d.get<std::string, std::string>("users-store", "u1")), std::optional<std::string>("alicia"));
  in.pipe_tombstone("u1", 3);
  EXPECT_EQ((d.get<std::string, std::string>("users-store", "u1")), std::nullopt);
  // to_stream forwards updates; deletions are not forwarded as stream records.
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()),
            (std::vector<std::string>{"alice", "alicia"}));
}

TEST(TableTest, FilterTurnsValuesThatNoLongerPassIntoDeletionsInTheMaterializedResult) {
  // Kafka Streams' KTableFilter: an update whose new value fails the predicate deletes the key
  // downstream; an update where neither old nor new value passes is not forwarded.
  StreamsBuilder b;
  b.table<std::string, int64_t>("t", Materialized::as("t-store"))
      .filter([](int64_t v) { return v > 10; }, Materialized::as("big"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("t");
  in.pipe_input("k", 20, 1);
  EXPECT_EQ((d.get<std::string, int64_t>("big", "k")), std::optional<int64_t>(20));
  in.pipe_input("k", 5, 2);
  EXPECT_EQ((d.get<std::string, int64_t>("big", "k")), std::nullopt);
  in.pipe_input("k", 3, 3);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("out").read_values()), (std::vector<int64_t>{20}));
  EXPECT_EQ(d.changelog("big").size(), 2u);  // put 20, then delete; the 5 -> 3 update is not forwarded
}

TEST(TableTest, MapValuesAppliesToEveryUpdate) {
  StreamsBuilder b;
  b.table<std::string, int64_t>("t", Materialized::as("t-store"))
      .map_values([](int64_t v) { return v * 2; })
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("t");
  in.pipe_input("k", 1, 1);
  in.pipe_input("k", 4, 2);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("out").read_values()), (std::vector<int64_t>{2, 8}));
}

TEST(TableTest, ToTableKeepsTheLatestValuePerKey) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").to_table(Materialized::as("latest"));
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k", "v1", 1);
  in.pipe_input("k", "v2", 2);
  EXPECT_EQ((d.get<std::string, std::string>("latest", "k")), std::optional<std::string>("v2"));
}

}  // namespace
}  // namespace kstreams

namespace kstreams {
namespace {

TEST(GroupedTableTest, CountMovesARowFromItsOldGroupToItsNewGroupOnUpdateAndSubtractsOnDelete) {
  // Kafka Streams' KTable.groupBy(...).count(): an update subtracts the old value from its old group
  // and adds the new value to its new group; a deletion only subtracts.
  StreamsBuilder b;
  b.table<std::string, std::string>("users", Materialized::as("users-store"))
      .group_by(
          [](const std::string& user, const std::string& region) {
            return KeyValue{region, user};
          },
          Grouped::as("users-by-region"))
      .count(Materialized::as("users-per-region"));
  TopologyTestDriver d(b.build(), {{"application.id", "app"}});
  auto in = d.create_input_topic<std::string, std::string>("users");
  in.pipe_input("u1", "EU", 1);
  in.pipe_input("u2", "EU", 2);
  EXPECT_EQ((d.get<std::string, int64_t>("users-per-region", "EU")), std::optional<int64_t>(2));
  in.pipe_input("u1", "US", 3);
  EXPECT_EQ((d.get<std::string, int64_t>("users-per-region", "EU")), std::optional<int64_t>(1));
  EXPECT_EQ((d.get<std::string, int64_t>("users-per-region", "US")), std::optional<int64_t>(1));
  in.pipe_tombstone("u2", 4);
  EXPECT_EQ((d.get<std::string, int64_t>("users-per-region", "EU")), std::optional<int64_t>(0));
  EXPECT_EQ(d.read_raw("app-users-by-region-repartition").size(), 5u);  // 2 adds, subtract+add, subtract
}

TEST(GroupedTableTest, AggregateWithAdderAndSubtractorKeepsASumPerGroup) {
  StreamsBuilder b;
  b.table<std::string, int64_t>("balances", Materialized::as("balances-store"))
      .group_by(
          [](const std::string& account, int64_t v) {
            return KeyValue{account.substr(0, 1), v};
          },
          Grouped::as("by-branch"))
      .aggregate([] { return int64_t{0}; }, [](const std::string&, int64_t v, int64_t agg) { return agg + v; },
                 [](const std::string&, int64_t v, int64_t agg) { return agg - v; }, Materialized::as("branch-sums"))
      .to_stream()
      .to("out");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("balances");
  in.pipe_input("a1", 10, 1);
  in.pipe_input("a2", 5, 2);
  in.pipe_input("a1", 7, 3);
  // The update travels as two records (subtract 10, then add 7), so the intermediate sum 5 is
  // emitted before 12, as in Kafka Streams when old and new values are repartitioned separately.
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("out").read_values()), (std::vector<int64_t>{10, 15, 5, 12}));
}

}  // namespace
}  // namespace kstreams
