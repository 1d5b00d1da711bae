// JSON-lines recordings and replay against a golden recording.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "kstreams/kstreams.h"
#include "kstreams/runtime/recording.h"

namespace kstreams::recording {
namespace {

RawRecord rec(std::string topic, int32_t partition, int64_t offset, TimestampMs ts, std::optional<std::string> key,
              std::optional<std::string> value) {
  RawRecord r;
  r.topic = std::move(topic);
  r.partition = Partition(partition);
  r.offset = Offset(offset);
  r.timestamp = ts;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

TEST(RecordingTest, JsonLinesRoundTripTextBinaryNullsAndHeaders) {
  RawRecord r = rec("orders", 2, 17, 1700000000000, std::string("c1"), std::string("\xff\x00\x01", 3));
  r.headers.add("trace", "t-1");
  r.headers.add("bin", std::string("\xc3\x28", 2));
  const std::string line = to_json_line(r);
  EXPECT_NE(line.find("\"key\":\"c1\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"value_encoding\":\"base64\""), std::string::npos) << line;
  auto back = from_json_line(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->topic, "orders");
  EXPECT_EQ(back->partition.value(), 2);
  EXPECT_EQ(back->offset.value(), 17);
  EXPECT_EQ(back->timestamp, 1700000000000);
  EXPECT_EQ(back->key, r.key);
  EXPECT_EQ(back->value, r.value);
  EXPECT_EQ(back->headers, r.headers);
  auto tombstone = from_json_line(to_json_line(rec("t", 0, 0, 1, std::nullopt, std::nullopt)));
  ASSERT_TRUE(tombstone.ok());
  EXPECT_FALSE(tombstone->key.has_value());
  EXPECT_FALSE(tombstone->value.has_value());
  auto empty = from_json_line(to_json_line(rec("t", 0, 0, 1, std::string(), std::string())));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->value, std::optional<std::string>(""));
}

// Found by fuzz_recording: a float where an integer belongs was cast to it (undefined behaviour for
// -9.2e18), a partition beyond int32 wrapped around.
TEST(RecordingTest, NumbersThatDoNotFitTheirFieldAreDataLoss) {
  for (const char* line : {R"({"topic":"a","timestamp":-9.2273320368547758e18})", R"({"topic":"a","offset":1e300})",
                           R"({"topic":"a","timestamp":1.5})", R"({"topic":"a","partition":2147483648})",
                           R"({"topic":"a","partition":-1})", R"({"topic":"a","partition":"0"})",
                           R"({"topic":"a","offset":18446744073709551615})"}) {
    auto r = from_json_line(line);
    EXPECT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << line;
  }
  auto edge = from_json_line(
      R"({"topic":"a","partition":2147483647,"offset":9223372036854775807,"timestamp":-9223372036854775808})");
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_EQ(edge->partition.value(), 2147483647);
  EXPECT_EQ(edge->offset.value(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(edge->timestamp, std::numeric_limits<int64_t>::min());
}

// Bytes that only look like UTF-8 (overlong forms, surrogates, beyond U+10FFFF) are written as base64:
// written as strings, the JSON writer threw on them.
TEST(RecordingTest, BytesThatAreNotStrictUtf8RoundTripAsBase64) {
  for (const std::string& bytes : {std::string("\xc0\x80", 2), std::string("\xed\xa0\x80", 3),
                                   std::string("\xf4\x90\x80\x80", 4), std::string("\xe0\x80\xaf", 3)}) {
    RawRecord r = rec("t", 0, 0, 1, bytes, bytes);
    r.headers.add("h", bytes);
    std::string line;
    ASSERT_NO_THROW(line = to_json_line(r));
    auto back = from_json_line(line);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->key, r.key);
    EXPECT_EQ(back->value, r.value);
    EXPECT_EQ(back->headers, r.headers);
  }
  RawRecord text = rec("t", 0, 0, 1, std::string("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80"), std::nullopt);
  EXPECT_EQ(to_json_line(text).find("key_encoding"), std::string::npos);  // valid UTF-8 stays text
}

TEST(RecordingTest, FilesAreWrittenAndReadBackAndBadLinesAreReportedWithTheirNumber) {
  const auto path =
      std::filesystem::temp_directory_path() / ("recording-test-" + std::to_string(::getpid()) + ".jsonl");
  std::vector<RawRecord> records{rec("a", 0, 0, 1, std::string("k"), std::string("v1")),
                                 rec("a", 0, 1, 2, std::string("k"), std::string("v2"))};
  ASSERT_TRUE(write_recording(path, records).ok());
  auto back = read_recording(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].value, std::optional<std::string>("v2"));
  {
    std::ofstream f(path, std::ios::app);
    f << "{broken\n";
  }
  auto bad = read_recording(path);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find(":3:"), std::string_view::npos) << bad.status();
  std::filesystem::remove(path);
}

Topology upper_case_topology() {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in")
      .map_values([](const std::string& v) {
        std::string u = v;
        for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return u;
      })
      .to("out");
  return b.build();
}

TEST(ReplayTest, ReplayMatchingTheGoldenRecordingHasNoDiff) {
  std::vector<RawRecord> input{rec("in", 0, 0, 10, std::string("k1"), std::string("abc")),
                               rec("in", 1, 0, 11, std::string("k2"), std::string("xy"))};
  std::vector<RawRecord> golden{rec("out", 0, 0, 10, std::string("k1"), std::string("ABC")),
                                rec("out", 0, 1, 11, std::string("k2"), std::string("XY"))};
  EXPECT_EQ(replay_and_diff(upper_case_topology(), {}, input, golden), "");
}

TEST(ReplayTest, ReplayThatDiffersFromTheGoldenRecordingReturnsAReadableDiff) {
  std::vector<RawRecord> input{rec("in", 0, 0, 10, std::string("k1"), std::string("abc"))};
  std::vector<RawRecord> golden{rec("out", 0, 0, 10, std::string("k1"), std::string("ABD")),
                                rec("out", 0, 1, 12, std::string("k2"), std::string("Q"))};
  const std::string diff = replay_and_diff(upper_case_topology(), {}, input, golden);
  EXPECT_NE(diff.find("topic out, record 0: value expected \"ABD\" but was \"ABC\""), std::string::npos) << diff;
  EXPECT_NE(diff.find("topic out: 2 records expected, 1 produced"), std::string::npos) << diff;
  EXPECT_NE(diff.find("missing: "), std::string::npos) << diff;
}

}  // namespace
}  // namespace kstreams::recording
