// Stateless operators through the TopologyTestDriver.
#include <gtest/gtest.h>

#include "kstreams/common/partitioner.h"
#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using KV = std::pair<std::string, std::string>;

TEST(StatelessOperatorsTest, FilterKeepsMatchingRecordsAndFilterNotTheOthers) {
  StreamsBuilder b;
  auto s = b.stream<std::string, int64_t>("in");
  s.filter([](const std::string&, int64_t v) { return v % 2 == 0; }).to("even");
  s.filter_not([](int64_t v) { return v % 2 == 0; }).to("odd");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("in");
  for (int64_t i = 1; i <= 5; ++i) in.pipe_input("k", i, i);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("even").read_values()), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("odd").read_values()), (std::vector<int64_t>{1, 3, 5}));
}

TEST(StatelessOperatorsTest, MapChangesKeyAndValueTypesAndKeepsTimestampAndHeaders) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .map([](const std::string& k, const std::string& v) {
        return KeyValue{static_cast<int64_t>(v.size()), k + v};
      })
      .to("out");
  TopologyTestDriver d(b.build());
  Headers h;
  h.add("trace", "t1");
  d.create_input_topic<std::string, std::string>("in").pipe_input("a", "xyz", 42, h);
  auto r = d.create_output_topic<int64_t, std::string>("out").read_record();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->key, 3);
  EXPECT_EQ(r->value, "axyz");
  EXPECT_EQ(r->timestamp, 42);
  EXPECT_EQ(r->headers.last("trace"), std::optional<std::string_view>("t1"));
}

TEST(StatelessOperatorsTest, MapValuesAcceptsValueOnlyAndKeyValueMappers) {
  StreamsBuilder b;
  auto s = b.stream<std::string, std::string>("in");
  s.map_values([](const std::string& v) { return static_cast<int64_t>(v.size()); }).to("len");
  s.map_values([](const std::string& k, const std::string& v) { return k + ":" + v; }).to("joined");
  TopologyTestDriver d(b.build());
  d.create_input_topic<std::string, std::string>("in").pipe_input("k", "abcd", 1);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("len").read_values()), (std::vector<int64_t>{4}));
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("joined").read_values()),
            (std::vector<std::string>{"k:abcd"}));
}

TEST(StatelessOperatorsTest, FlatMapAndFlatMapValuesEmitZeroOrMoreRecordsPerInput) {
  StreamsBuilder b;
  auto s = b.stream<std::string, std::string>("in");
  s.flat_map_values([](const std::string& v) {
     std::vector<std::string> words;
     size_t start = 0;
     while (start < v.size()) {
       size_t end = v.find(' ', start);
       if (end == std::string::npos) end = v.size();
       if (end > start) words.push_back(v.substr(start, end - start));
       start = end + 1;
     }
     return words;
   }).to("words");
  s.flat_map([](const std::string& k, const std::string& v) {
     return std::vector<std::pair<std::string, std::string>>{{k + "1", v}, {k + "2", v}};
   }).to("doubled");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k", "a bb c", 1);
  in.pipe_input("k", "", 2);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("words").read_values()),
            (std::vector<std::string>{"a", "bb", "c"}));
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("doubled").read_key_values()),
            (std::vector<KV>{{"k1", "a bb c"}, {"k2", "a bb c"}, {"k1", ""}, {"k2", ""}}));
}

TEST(StatelessOperatorsTest, SelectKeyReplacesTheKeyAndPeekAndForeachSeeEveryRecord) {
  StreamsBuilder b;
  std::vector<std::string> peeked, seen;
  auto s = b.stream<std::string, std::string>("in");
  s.peek([&](const std::string& k, const std::string&) { peeked.push_back(k); })
      .select_key([](const std::string&, const std::string& v) { return v; })
      .to("out");
  s.foreach ([&](const std::string&, const std::string& v) { seen.push_back(v); });
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 1);
  in.pipe_input("b", "y", 2);
  EXPECT_EQ(peeked, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(seen, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_key_values()),
            (std::vector<KV>{{"x", "x"}, {"y", "y"}}));
}

TEST(StatelessOperatorsTest, SplitRoutesEachRecordToTheFirstMatchingBranchOrTheDefault) {
  StreamsBuilder b;
  auto branches = b.stream<std::string, int64_t>("in")
                      .split(Named::as("size-"))
                      .branch([](int64_t v) { return v < 10; }, "small")
                      .branch([](int64_t v) { return v < 100; }, "medium")
                      .default_branch("large");
  ASSERT_EQ(branches.size(), 3u);
  branches.at("size-small").to("small");
  branches.at("size-medium").to("medium");
  branches.at("size-large").to("large");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("in");
  for (int64_t v : {5, 50, 500, 9, 10}) in.pipe_input("k", v, 1);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("small").read_values()), (std::vector<int64_t>{5, 9}));
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("medium").read_values()), (std::vector<int64_t>{50, 10}));
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("large").read_values()), (std::vector<int64_t>{500}));
}

TEST(StatelessOperatorsTest, SplitWithoutDefaultBranchDropsUnmatchedRecords) {
  StreamsBuilder b;
  auto branches =
      b.stream<std::string, int64_t>("in").split().branch([](int64_t v) { return v > 0; }, "pos").no_default_branch();
  branches.at("pos").to("pos");
  TopologyTestDriver d(b.build());
  auto in = d.create_input_topic<std::string, int64_t>("in");
  in.pipe_input("k", -1, 1);
  in.pipe_input("k", 1, 2);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("pos").read_values()), (std::vector<int64_t>{1}));
}

TEST(StatelessOperatorsTest, MergeInterleavesBothInputsLowestTimestampFirst) {
  StreamsBuilder b;
  auto a = b.stream<std::string, std::string>("a");
  auto c = b.stream<std::string, std::string>("c");
  a.merge(c).to("out");
  TopologyTestDriver d(b.build(), {{"commit.every.records", "100"}});
  auto ia = d.create_input_topic<std::string, std::string>("a");
  auto ic = d.create_input_topic<std::string, std::string>("c");
  ia.pipe_input("k", "a1", 1);
  ic.pipe_input("k", "c1", 2);
  ia.pipe_input("k", "a2", 3);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()),
            (std::vector<std::string>{"a1", "c1", "a2"}));
}

TEST(StatelessOperatorsTest, RepartitionWritesToTheInternalTopicPartitionedByKey) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .select_key([](const std::string&, const std::string& v) { return v; })
      .repartition(Repartitioned::as("by-value").with_partitions(4))
      .to("out");
  TopologyTestDriver d(b.build(), {{"application.id", "app"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  for (std::string v : {"x", "y", "z", "w"}) in.pipe_input("k", v, 1);
  auto internal = d.read_raw("app-by-value-repartition");
  ASSERT_EQ(internal.size(), 4u);
  EXPECT_EQ(d.partitions("app-by-value-repartition"), 4);
  for (const auto& r : internal) EXPECT_EQ(r.partition.value(), partition_for_key(*r.key, 4)) << *r.key;
  auto out = d.create_output_topic<std::string, std::string>("out").read_key_values();
  EXPECT_EQ(out.size(), 4u);
}

}  // namespace
}  // namespace kstreams
