#include "kstreams/common/partitioner.h"

#include <gtest/gtest.h>

#include "kstreams/common/record.h"
#include "kstreams/common/types.h"

namespace kstreams {
namespace {

// Reference values from Kafka's UtilsTest.testMurmur2 (Java), which the Java producer uses.
TEST(PartitionerTest, Murmur2MatchesKafkaJavaReferenceValues) {
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2(std::string_view("abc", 3)), 479470107);
}

TEST(PartitionerTest, PartitionIsPositiveModuloCount) {
  for (const char* key : {"a", "order-1", "sku-0007", "", "zzzzzzzzzz"}) {
    const int32_t p = partition_for_key(key, 7);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 7);
    EXPECT_EQ(p, static_cast<int32_t>((static_cast<uint32_t>(murmur2(key)) & 0x7fffffff) % 7));
  }
}

TEST(TaskIdTest, PrintsAndParsesLikeKafkaStreams) {
  TaskId id{2, 13};
  EXPECT_EQ(id.to_string(), "2_13");
  TaskId parsed;
  ASSERT_TRUE(TaskId::parse("2_13", &parsed));
  EXPECT_EQ(parsed, id);
  for (const char* bad : {"", "_1", "1_", "a_1", "1_b", "1-2", "1_2_3", "-1_2"}) {
    EXPECT_FALSE(TaskId::parse(bad, &parsed)) << bad;
  }
}

TEST(HeadersTest, LastReturnsLatestAndSetReplacesAll) {
  Headers h;
  h.add("a", "1");
  h.add("a", "2");
  EXPECT_EQ(*h.last("a"), "2");
  h.set("a", "3");
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(*h.last("a"), "3");
  EXPECT_FALSE(h.last("b").has_value());
}

}  // namespace
}  // namespace kstreams
