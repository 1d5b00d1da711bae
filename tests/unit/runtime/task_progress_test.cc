// TaskProgress travels in committed offset metadata, which any member of the group (or any tool)
// can write: decoding must accept exactly what encode wrote and refuse everything else.
#include "task_progress.h"

#include <gtest/gtest.h>

#include <limits>

namespace kstreams::runtime {
namespace {

TaskProgress sample() {
  TaskProgress p;
  p.sequence = 42;
  p.stream_time = 1764288000000;
  p.punctuations = {{0, 1764288010000}, {3, -1}};
  p.values = {{"KSTREAM-WINDOWED-COUNT-0000000002.observed", 1764288000000},
              {"KSTREAM-WINDOWED-COUNT-0000000002.emitted", 1764287940000}};
  return p;
}

TEST(TaskProgressTest, DecodesWhatItEncodes) {
  const TaskProgress p = sample();
  auto decoded = decode_task_progress(encode_task_progress(p));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, p);
}

TEST(TaskProgressTest, KeepsExtremeValuesExactly) {
  TaskProgress p;
  p.sequence = std::numeric_limits<int64_t>::max();
  p.stream_time = std::numeric_limits<int64_t>::max();
  p.values = {{"min", std::numeric_limits<int64_t>::min()}, {"max", std::numeric_limits<int64_t>::max()}};
  auto decoded = decode_task_progress(encode_task_progress(p));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, p);
}

TEST(TaskProgressTest, NodeNamesThatAreNotUtf8DoNotThrow) {
  TaskProgress p;
  p.values = {{std::string("bad\xff\xfe", 5), 1}};
  EXPECT_NO_THROW((void)encode_task_progress(p));
}

TEST(TaskProgressTest, RefusesMetadataThatIsNotProgress) {
  const std::string good = encode_task_progress(sample());
  for (const std::string& bad : std::vector<std::string>{
           "",
           "some tool's metadata",
           "[]",
           "{}",
           "null",
           R"({"v":"ks.progress.v2","seq":1,"st":0,"p":{},"n":{}})",
           R"({"v":"ks.progress.v1","seq":1,"st":0,"p":{}})",
           R"({"v":"ks.progress.v1","seq":"1","st":0,"p":{},"n":{}})",
           R"({"v":"ks.progress.v1","seq":1,"st":0.5,"p":{},"n":{}})",
           R"({"v":"ks.progress.v1","seq":-1,"st":0,"p":{},"n":{}})",
           R"({"v":"ks.progress.v1","seq":1,"st":-2,"p":{},"n":{}})",
           R"({"v":"ks.progress.v1","seq":18446744073709551615,"st":0,"p":{},"n":{}})",
           R"({"v":"ks.progress.v1","seq":1,"st":0,"p":{"x":1},"n":{}})",
           R"({"v":"ks.progress.v1","seq":1,"st":0,"p":{"1":"2"},"n":{}})",
           R"({"v":"ks.progress.v1","seq":1,"st":0,"p":{},"n":{"a":[1]}})",
           good.substr(0, good.size() - 1),
           good + std::string(kMaxCommitMetadataBytes, ' '),
       }) {
    auto decoded = decode_task_progress(bad);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(TaskProgressTest, FitsKafkasDefaultMetadataLimitForATypicalTask) {
  TaskProgress p = sample();
  for (int i = 0; i < 20; ++i)
    p.values["KSTREAM-WINDOWED-AGGREGATE-00000000" + std::to_string(10 + i) + ".observed"] = -1;
  EXPECT_LE(encode_task_progress(p).size(), kMaxCommitMetadataBytes);
}

}  // namespace
}  // namespace kstreams::runtime
