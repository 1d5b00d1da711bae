// build() validation, subtopologies, internal topics and describe()/DOT/Mermaid output.
#include <gtest/gtest.h>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

struct NoSerde {
  int x = 0;
};

TEST(TopologyBuildTest, DescribePrintsSubtopologiesSourcesProcessorsStoresAndSinksLikeKafkaStreams) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("words", Consumed::as("words-source"))
      .filter([](const std::string& v) { return !v.empty(); }, Named::as("non-empty"))
      .group_by([](const std::string&, const std::string& v) { return v; }, Grouped::as("by-word"))
      .count(Materialized::as("word-counts"))
      .to_stream(Named::as("counts-stream"))
      .to("counts", Produced::as("counts-sink"));
  Topology t = b.build();
  const std::string expected =
      "Topologies:\n"
      "   Sub-topology: 0\n"
      "    Source: words-source (topics: [words])\n"
      "      --> non-empty\n"
      "    Processor: non-empty (stores: [])\n"
      "      --> by-word-key-select\n"
      "      <-- words-source\n"
      "    Processor: by-word-key-select (stores: [])\n"
      "      --> by-word-repartition-sink\n"
      "      <-- non-empty\n"
      "    Sink: by-word-repartition-sink (topic: by-word-repartition)\n"
      "      <-- by-word-key-select\n"
      "\n"
      "   Sub-topology: 1\n"
      "    Source: by-word-repartition-source (topics: [by-word-repartition])\n"
      "      --> KSTREAM-AGGREGATE-0000000000\n"
      "    Processor: KSTREAM-AGGREGATE-0000000000 (stores: [word-counts])\n"
      "      --> counts-stream\n"
      "      <-- by-word-repartition-source\n"
      "    Processor: counts-stream (stores: [])\n"
      "      --> counts-sink\n"
      "      <-- KSTREAM-AGGREGATE-0000000000\n"
      "    Sink: counts-sink (topic: counts)\n"
      "      <-- counts-stream\n"
      "\n";
  EXPECT_EQ(t.describe(), expected);
  ASSERT_EQ(t.subtopologies().size(), 2u);
  EXPECT_EQ(t.subtopologies()[1].source_topics, (std::vector<TopicName>{{"by-word-repartition", true}}));
  EXPECT_EQ(t.subtopologies()[1].stores.at(0).name, "word-counts");
  ASSERT_EQ(t.repartition_topics().size(), 1u);
  EXPECT_EQ(t.repartition_topics()[0].topic.full_name("wc"), "wc-by-word-repartition");
  EXPECT_EQ(t.repartition_topics()[0].producer_subtopology, 0);
  EXPECT_EQ(t.repartition_topics()[0].consumer_subtopology, 1);
  EXPECT_EQ(t.changelog_topics("wc"), (std::map<std::string, int32_t>{{"wc-word-counts-changelog", 1}}));
  auto parts = t.resolve_partitions("wc", {{"words", 6}});
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->at("wc-by-word-repartition"), 6);  // derived from the upstream source
  EXPECT_EQ(parts->at("wc-word-counts-changelog"), 6);
}

TEST(TopologyBuildTest, DotAndMermaidOutputsNameEveryNodeTopicAndStore) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").group_by_key().count(Materialized::as("c")).to_stream().to("out");
  Topology t = b.build();
  const std::string dot = t.to_dot();
  EXPECT_EQ(dot.rfind("digraph topology {", 0), 0u);
  EXPECT_NE(dot.find("\"topic:in\" -> \"KSTREAM-SOURCE-0000000000\""), std::string::npos);
  EXPECT_NE(dot.find("store:c"), std::string::npos);
  EXPECT_NE(dot.find("topic:out"), std::string::npos);
  const std::string mermaid = t.to_mermaid();
  EXPECT_EQ(mermaid.rfind("flowchart LR", 0), 0u);
  EXPECT_NE(mermaid.find("Sub-topology 0"), std::string::npos);
  EXPECT_NE(mermaid.find("(\"c\")"), std::string::npos);
}

TEST(TopologyBuildTest, MissingSerdeFailsTheBuildNamingTheSink) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").map_values([](const std::string&) { return NoSerde{}; }).to("out");
  try {
    b.build();
    FAIL() << "expected TopologyException";
  } catch (const TopologyException& e) {
    EXPECT_NE(std::string(e.what()).find("missing serde"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("out"), std::string::npos) << e.what();
  }
}

TEST(TopologyBuildTest, SerdeOfTheWrongTypeFailsTheBuild) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in", Consumed::with(serdes::String(), serdes::Int64()));
  EXPECT_THROW(b.build(), TopologyException);
}

TEST(TopologyBuildTest, DuplicateStoreNamesFailTheBuild) {
  StreamsBuilder b;
  auto s = b.stream<std::string, std::string>("in");
  s.group_by_key().count(Materialized::as("same"));
  s.group_by_key().count(Materialized::as("same"));
  EXPECT_THROW(b.build(), TopologyException);
}

TEST(TopologyBuildTest, DuplicateProcessorNamesFailTheBuild) {
  StreamsBuilder b;
  auto s = b.stream<std::string, std::string>("in");
  s.filter([](const std::string&) { return true; }, Named::as("f"));
  s.filter([](const std::string&) { return true; }, Named::as("f"));
  EXPECT_THROW(b.build(), TopologyException);
}

TEST(TopologyBuildTest, UnnamedStoreFailsTheBuild) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").group_by_key().count(Materialized{});
  EXPECT_THROW(b.build(), TopologyException);
}

TEST(TopologyBuildTest, TopicReadByTwoSourcesFailsTheBuild) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in");
  b.stream<std::string, std::string>("in");
  EXPECT_THROW(b.build(), TopologyException);
}

TEST(TopologyBuildTest, JoinOfRepartitionTopicsWithDifferentPartitionCountsCannotBeCoPartitioned) {
  StreamsBuilder b;
  auto table = b.stream<std::string, std::string>("t")
                   .repartition(Repartitioned::as("t-by-key").with_partitions(3))
                   .to_table(Materialized::as("t-store"));
  b.stream<std::string, std::string>("s")
      .repartition(Repartitioned::as("s-by-key").with_partitions(5))
      .join(table, [](const std::string& a, const std::string& c) { return a + c; })
      .to("out");
  try {
    b.build();
    FAIL() << "expected TopologyException";
  } catch (const TopologyException& e) {
    EXPECT_NE(std::string(e.what()).find("co-partitioned"), std::string::npos) << e.what();
  }
}

TEST(TopologyBuildTest, DerivedRepartitionTopicsFollowTheirCoPartitionGroup) {
  StreamsBuilder b;
  auto table = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  b.stream<std::string, std::string>("orders")
      .select_key([](const std::string&, const std::string& v) { return v; })
      .join(
          table, [](const std::string& a, const std::string& c) { return a + c; }, Joined::as("o"))
      .to("out");
  Topology t = b.build();
  auto parts = t.resolve_partitions("app", {{"users", 8}, {"orders", 2}});
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->at("app-o-repartition"), 8);
}

TEST(TopologyBuildTest, GlobalStoresAreListedSeparatelyAndDescribedAsGlobal) {
  StreamsBuilder b;
  b.global_table<std::string, std::string>("products", Materialized::as("products-store"));
  b.stream<std::string, std::string>("in").to("out");
  Topology t = b.build();
  ASSERT_EQ(t.global_stores().size(), 1u);
  EXPECT_EQ(t.global_stores()[0].topic, "products");
  EXPECT_FALSE(t.global_stores()[0].spec.logging);
  EXPECT_NE(t.describe().find("Sub-topology: 1 for global store (will not generate tasks)"), std::string::npos);
  EXPECT_EQ(t.user_source_topics(), (std::vector<std::string>{"in", "products"}));
}

}  // namespace
}  // namespace kstreams
