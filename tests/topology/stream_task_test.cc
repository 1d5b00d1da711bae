// StreamTask on its own, driven the way the Kafka runtime drives it.
#include <gtest/gtest.h>

#include <filesystem>

#include "../../runtime/src/stream_task.h"
#include "kstreams/kstreams.h"

namespace kstreams::runtime {
namespace {

class CapturingCollector final : public RecordCollector {
 public:
  void send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
            const Headers& headers, TimestampMs timestamp, int32_t partition) override {
    RawRecord r;
    r.topic = topic;
    r.key = std::move(key);
    r.value = std::move(value);
    r.headers = headers;
    r.timestamp = timestamp;
    r.partition = Partition(partition);
    sent.push_back(std::move(r));
  }
  void append(const std::string& store, std::string_view, std::optional<std::string_view>, TimestampMs) override {
    changelog.push_back(store);
  }
  std::vector<RawRecord> sent;
  std::vector<std::string> changelog;
};

RawRecord raw(const std::string& topic, int64_t offset, TimestampMs ts, const std::string& value) {
  RawRecord r;
  r.topic = topic;
  r.offset = Offset(offset);
  r.timestamp = ts;
  r.key = "k";
  r.value = value;
  return r;
}

class StreamTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StreamsBuilder b;
    b.stream<std::string, std::string>("a").merge(b.stream<std::string, std::string>("b")).to("out");
    topology_ = std::make_unique<Topology>(b.build());
    dir_ = std::filesystem::temp_directory_path() / ("stream-task-test-" + std::to_string(::getpid()));
    state::StateManagerOptions o;
    o.task = TaskId{0, 2};
    o.task_dir = dir_;
    o.changelog = &collector_;
    auto sm = state::ProcessorStateManager::open(o, {});
    ASSERT_TRUE(sm.ok()) << sm.status();
    TaskOptions options;
    options.application_id = "app";
    task_ = std::make_unique<StreamTask>(TaskId{0, 2}, *topology_, 0, std::move(*sm), &collector_, clock_, nullptr,
                                         options);
    ASSERT_TRUE(task_->initialize().ok());
  }
  void TearDown() override {
    if (task_) {
      EXPECT_TRUE(task_->close(true).ok());
    }
    std::filesystem::remove_all(dir_);
  }
  std::vector<std::string> sent_values() const {
    std::vector<std::string> out;
    for (const auto& r : collector_.sent) out.push_back(r.value.value_or("<null>"));
    return out;
  }

  ManualClock clock_{1000};
  CapturingCollector collector_;
  std::unique_ptr<Topology> topology_;
  std::filesystem::path dir_;
  std::unique_ptr<StreamTask> task_;
};

TEST_F(StreamTaskTest, PicksTheHeadRecordWithTheLowestTimestampAmongItsPartitions) {
  task_->add_records("a", 2, {raw("a", 0, 5, "a5"), raw("a", 1, 30, "a30")});
  task_->add_records("b", 2, {raw("b", 0, 10, "b10"), raw("b", 1, 20, "b20")});
  EXPECT_TRUE(task_->has_buffered());
  EXPECT_EQ(task_->buffered("a", 2), 2u);
  auto n = task_->process(3);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"a5", "b10", "b20"}));
  EXPECT_EQ(task_->current_stream_time(), 20);
  EXPECT_EQ(*task_->process(10), 1u);
  EXPECT_FALSE(task_->has_buffered());
  EXPECT_EQ(task_->current_stream_time(), 30);
}

TEST_F(StreamTaskTest, CommittableOffsetsAreTheNextOffsetToReadPerPartition) {
  task_->add_records("a", 2, {raw("a", 7, 1, "x"), raw("a", 8, 2, "y")});
  task_->add_records("b", 2, {raw("b", 41, 3, "z")});
  ASSERT_TRUE(task_->process(2).ok());
  auto offsets = task_->committable_offsets();
  EXPECT_EQ(offsets.size(), 1u);
  EXPECT_EQ((offsets[{"a", 2}]), 9);
  ASSERT_TRUE(task_->process(10).ok());
  EXPECT_EQ((task_->committable_offsets()[{"b", 2}]), 42);
  EXPECT_TRUE(task_->prepare_commit().ok());
  EXPECT_TRUE(task_->post_commit({}).ok());
}

TEST_F(StreamTaskTest, AbortDropsBufferedRecordsAndReturnsOffsetsToTheLastCommit) {
  task_->add_records("a", 2, {raw("a", 0, 1, "x")});
  ASSERT_TRUE(task_->process(10).ok());
  ASSERT_TRUE(task_->prepare_commit().ok());
  ASSERT_TRUE(task_->post_commit({}).ok());
  task_->add_records("a", 2, {raw("a", 1, 2, "y"), raw("a", 2, 3, "z")});
  ASSERT_TRUE(task_->process(1).ok());
  EXPECT_EQ((task_->committable_offsets()[{"a", 2}]), 2);
  task_->abort();
  EXPECT_FALSE(task_->has_buffered());
  EXPECT_EQ((task_->committable_offsets()[{"a", 2}]), 1);
}

TEST_F(StreamTaskTest, SinkRecordsGoToTheCollectorWithKeyPartitioningLeftToIt) {
  task_->add_records("a", 2, {raw("a", 0, 1, "x")});
  ASSERT_TRUE(task_->process(10).ok());
  ASSERT_EQ(collector_.sent.size(), 1u);
  EXPECT_EQ(collector_.sent[0].topic, "out");
  EXPECT_EQ(collector_.sent[0].partition.value(), -1);
  EXPECT_EQ(collector_.sent[0].timestamp, 1);
}

TEST(StreamTaskErrorTest, FailPolicyReturnsTheErrorAndDoesNotMarkTheRecordConsumed) {
  StreamsBuilder b;
  b.stream<std::string, int64_t>("in").to("out");
  Topology topology = b.build();
  CapturingCollector collector;
  ManualClock clock(0);
  const auto dir = std::filesystem::temp_directory_path() / ("stream-task-fail-" + std::to_string(::getpid()));
  state::StateManagerOptions o;
  o.task = TaskId{0, 0};
  o.task_dir = dir;
  auto sm = state::ProcessorStateManager::open(o, {});
  ASSERT_TRUE(sm.ok());
  TaskOptions options;
  options.application_id = "app";
  options.deserialization_policy = ErrorPolicy::kFail;
  StreamTask task(TaskId{0, 0}, topology, 0, std::move(*sm), &collector, clock, nullptr, options);
  ASSERT_TRUE(task.initialize().ok());
  RawRecord good = raw("in", 0, 1, std::string(8, '\0'));
  RawRecord bad = raw("in", 1, 2, "not eight bytes");
  task.add_records("in", 0, {good, bad});
  auto n = task.process(10);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(n.status().message().find("DESERIALIZATION error at in-0@1"), std::string_view::npos) << n.status();
  EXPECT_EQ((task.committable_offsets()[{"in", 0}]), 1);  // the bad record is not consumed
  EXPECT_EQ(task.buffered("in", 0), 1u);
  EXPECT_EQ(collector.sent.size(), 1u);
  EXPECT_TRUE(task.close(false).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kstreams::runtime
