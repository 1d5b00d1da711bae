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

// commit.pipelined: records processed after seal_commit() belong to the next transaction; the
// commit of the sealed one moves the committed offsets only to where the seal was.
TEST_F(StreamTaskTest, ACommitAfterASealCommitsTheOffsetsSealedNotThoseProcessedSince) {
  task_->add_records("a", 2, {raw("a", 0, 1, "x"), raw("a", 1, 2, "y"), raw("a", 2, 3, "z")});
  ASSERT_TRUE(task_->process(1).ok());
  ASSERT_TRUE(task_->prepare_commit().ok());
  ASSERT_TRUE(task_->seal_commit().ok());
  EXPECT_TRUE(task_->sealed());
  ASSERT_TRUE(task_->process(1).ok());  // while the sealed transaction commits
  EXPECT_EQ((task_->committable_offsets()[{"a", 2}]), 2);
  ASSERT_TRUE(task_->post_commit({}).ok());
  EXPECT_FALSE(task_->sealed());
  task_->abort();  // the next transaction fails: back to the sealed offset, not the processed one
  EXPECT_EQ((task_->committable_offsets()[{"a", 2}]), 1);
  task_->add_records("a", 2, {raw("a", 1, 2, "y"), raw("a", 2, 3, "z")});
  EXPECT_EQ(*task_->process(10), 2u);
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"x", "y", "y", "z"}));
}

// The next transaction may be sealed before the last one's post_commit: each post_commit moves
// the committed offsets to its own seal, oldest first.
TEST_F(StreamTaskTest, TwoSealedTransactionsCommitTheirOffsetsInTurn) {
  task_->add_records("a", 2, {raw("a", 0, 1, "x"), raw("a", 1, 2, "y"), raw("a", 2, 3, "z")});
  ASSERT_TRUE(task_->process(1).ok());
  ASSERT_TRUE(task_->prepare_commit().ok());
  ASSERT_TRUE(task_->seal_commit().ok());  // offset 1
  ASSERT_TRUE(task_->process(1).ok());
  ASSERT_TRUE(task_->prepare_commit().ok());
  ASSERT_TRUE(task_->seal_commit().ok());  // offset 2
  EXPECT_EQ(task_->sealed(), 2u);
  ASSERT_TRUE(task_->process(1).ok());
  ASSERT_TRUE(task_->post_commit({}).ok());  // the first
  EXPECT_EQ(task_->sealed(), 1u);
  task_->abort();  // the second fails: back to the first seal
  EXPECT_EQ(task_->sealed(), 0u);
  EXPECT_EQ((task_->committable_offsets()[{"a", 2}]), 1);
  task_->add_records("a", 2, {raw("a", 1, 2, "y"), raw("a", 2, 3, "z")});
  ASSERT_TRUE(task_->process(1).ok());
  ASSERT_TRUE(task_->prepare_commit().ok());
  ASSERT_TRUE(task_->seal_commit().ok());
  ASSERT_TRUE(task_->process(1).ok());
  ASSERT_TRUE(task_->prepare_commit().ok());
  ASSERT_TRUE(task_->seal_commit().ok());
  ASSERT_TRUE(task_->post_commit({}).ok());
  ASSERT_TRUE(task_->post_commit({}).ok());
  task_->abort();  // nothing uncommitted: stays at the second seal
  EXPECT_EQ((task_->committable_offsets()[{"a", 2}]), 3);
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

// max.task.idle.ms: a task with partitions "a" and "b" (partition 2) and watermarks set by the test.
class StreamTaskIdleTest : public ::testing::Test {
 protected:
  void make_task(int64_t max_task_idle_ms, bool read_committed = false) {
    StreamsBuilder b;
    b.stream<std::string, std::string>("a").merge(b.stream<std::string, std::string>("b")).to("out");
    topology_ = std::make_unique<Topology>(b.build());
    TaskOptions options;
    options.application_id = "app";
    options.thread_name = "t";
    options.max_task_idle_ms = max_task_idle_ms;
    options.read_committed = read_committed;
    options.watermarks = [this](const std::string& topic, int32_t) {
      auto it = watermarks_.find(topic);
      return it == watermarks_.end() ? std::pair<int64_t, int64_t>{-1, -1} : it->second;
    };
    task_ = std::make_unique<StreamTask>(TaskId{0, 2}, *topology_, 0, nullptr, &collector_, clock_, &metrics_, options);
    ASSERT_TRUE(task_->initialize().ok());
  }
  void TearDown() override {
    if (task_) {
      EXPECT_TRUE(task_->close(true).ok());
    }
  }
  size_t process() {
    auto n = task_->process(100);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : 0;
  }
  double enforced() {
    return metrics_
        .counter("kstreams_task_enforced_processing_total", "",
                 Labels{{"task", TaskId{0, 2}.to_string()}, {"thread", "t"}})
        .value();
  }
  std::vector<std::string> sent_values() const {
    std::vector<std::string> out;
    for (const auto& r : collector_.sent) out.push_back(r.value.value_or("<null>"));
    return out;
  }

  ManualClock clock_{1000};
  InMemoryMetrics metrics_;
  CapturingCollector collector_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<StreamTask> task_;
  std::map<std::string, std::pair<int64_t, int64_t>> watermarks_;
};

TEST_F(StreamTaskIdleTest, AllPartitionsBufferedIsReadyAndNotEnforced) {
  make_task(0);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  task_->add_records("b", 2, {raw("b", 0, 10, "b10")});
  EXPECT_TRUE(task_->ready_to_process(clock_.now_ms()));
  // After "b" drains, the task waits: b's watermarks are unknown.
  EXPECT_EQ(process(), 1u);
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"b10"}));
  EXPECT_FALSE(task_->ready_to_process(clock_.now_ms()));
  EXPECT_EQ(enforced(), 0.0);
}

TEST_F(StreamTaskIdleTest, EmptyPartitionWithUnknownLagHoldsTheTaskBack) {
  make_task(0);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  EXPECT_EQ(task_->partition_lag("b", 2), -1);
  EXPECT_FALSE(task_->ready_to_process(clock_.now_ms()));
  clock_.advance(std::chrono::hours(1));  // no timeout for unknown lag
  EXPECT_EQ(process(), 0u);
  // Watermarks known but the position is not (nothing received, no EOF): still unknown.
  watermarks_["b"] = {0, 5};
  EXPECT_EQ(task_->partition_lag("b", 2), -1);
  EXPECT_EQ(process(), 0u);
}

TEST_F(StreamTaskIdleTest, EmptyPartitionWithPositiveLagWaitsForItsRecordsThenOrderIsByTimestamp) {
  make_task(0);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20"), raw("a", 1, 40, "a40")});
  task_->add_records("b", 2, {raw("b", 0, 5, "b5")});
  watermarks_["b"] = {0, 3};  // offsets 1 and 2 are on the broker
  EXPECT_EQ(process(), 1u);   // b5; then b is empty with lag 2
  EXPECT_EQ(task_->partition_lag("b", 2), 2);
  clock_.advance(std::chrono::hours(1));
  EXPECT_EQ(process(), 0u);
  task_->add_records("b", 2, {raw("b", 1, 10, "b10"), raw("b", 2, 30, "b30")});
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  // b10 a20 b30 in timestamp order; then b is caught up (lag 0, idle 0): a40 without waiting.
  EXPECT_EQ(process(), 4u);
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"b5", "b10", "a20", "b30", "a40"}));
  EXPECT_EQ(enforced(), 1.0);
}

TEST_F(StreamTaskIdleTest, EmptyPartitionWithZeroLagDoesNotHoldTheTaskBackWhenIdleIsZero) {
  make_task(0);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  watermarks_["b"] = {0, 0};  // empty log
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  EXPECT_TRUE(task_->ready_to_process(clock_.now_ms()));
  EXPECT_EQ(process(), 1u);
  EXPECT_EQ(enforced(), 1.0);
}

TEST_F(StreamTaskIdleTest, ReadUncommittedEndOfPartitionMakesTheLagZeroUntilTheHighWatermarkMoves) {
  make_task(0);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  // The last record is at 6, something the consumer skips (e.g. a marker) at 7; the fetch ends at 8.
  task_->add_records("b", 2, {raw("b", 6, 1, "b1")});
  watermarks_["b"] = {0, 8};
  EXPECT_EQ(process(), 1u);  // b1; then b has lag 1 (the marker) as far as offsets tell
  EXPECT_EQ(task_->partition_lag("b", 2), 1);
  EXPECT_EQ(process(), 0u);
  task_->end_of_partition("b", 2, 8);
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  EXPECT_EQ(process(), 1u);  // a20
  task_->add_records("a", 2, {raw("a", 1, 30, "a30")});
  watermarks_["b"] = {0, 9};  // something new on the broker: wait for it
  EXPECT_EQ(task_->partition_lag("b", 2), 1);
  EXPECT_EQ(process(), 0u);
  task_->add_records("b", 2, {raw("b", 8, 25, "b25")});
  EXPECT_EQ(process(), 2u);  // b25 then a30 (b at lag 0 again)
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"b1", "a20", "b25", "a30"}));
}

// read_committed: the end the consumer reports is the last stable offset. A high watermark past it
// is a transaction marker or an open transaction (e.g. the task's own thread writing the topic in
// the transaction it has not committed yet): the partition stays caught up.
TEST_F(StreamTaskIdleTest, ReadCommittedEndOfPartitionIgnoresOpenTransactions) {
  make_task(0, /*read_committed=*/true);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  task_->add_records("b", 2, {raw("b", 6, 1, "b1")});
  watermarks_["b"] = {0, 8};
  EXPECT_EQ(process(), 1u);  // b1; b's end not reported yet: lag from the high watermark
  EXPECT_EQ(task_->partition_lag("b", 2), 1);
  EXPECT_EQ(process(), 0u);
  task_->end_of_partition("b", 2, 8);  // LSO 8
  watermarks_["b"] = {0, 40};          // an open transaction wrote 8..39
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  EXPECT_EQ(process(), 1u);  // a20, without b (caught up, max.task.idle.ms 0)
  // Records past the end (the transaction committed): the lag is unknown again until the
  // consumer reports the new end.
  task_->add_records("a", 2, {raw("a", 1, 30, "a30")});
  task_->add_records("b", 2, {raw("b", 8, 25, "b25")});
  EXPECT_EQ(process(), 1u);                     // b25; then b waits for its new end
  EXPECT_EQ(task_->partition_lag("b", 2), 31);  // 40 - 9, from the high watermark
  EXPECT_EQ(process(), 0u);
  task_->end_of_partition("b", 2, 9);
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  EXPECT_EQ(process(), 1u);  // a30
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"b1", "a20", "b25", "a30"}));
}

// One poll returns a fetch's records and its end; the thread hands the end over first. Records up
// to that end keep it (they used to erase it, so a caught-up partition looked lagging until the
// next fetch, and its task waited).
TEST_F(StreamTaskIdleTest, EndReportedBeforeItsOwnRecordsIsKept) {
  make_task(0, /*read_committed=*/true);
  watermarks_["b"] = {0, 12};  // LSO 9, an open transaction behind it
  task_->end_of_partition("b", 2, 9);
  task_->add_records("b", 2, {raw("b", 6, 10, "b10"), raw("b", 7, 11, "b11")});
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  EXPECT_EQ(process(), 3u);  // b10, b11, then a20: b is at its end (9)
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  // Records past the reported end do erase it.
  task_->add_records("b", 2, {raw("b", 9, 30, "b30")});
  task_->add_records("a", 2, {raw("a", 1, 40, "a40")});
  EXPECT_EQ(process(), 1u);  // b30; then b's lag comes from the high watermark
  EXPECT_EQ(task_->partition_lag("b", 2), 2);
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"b10", "b11", "a20", "b30"}));
}

TEST_F(StreamTaskIdleTest, ReadCommittedAbortForgetsTheReportedEnd) {
  make_task(0, /*read_committed=*/true);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  task_->end_of_partition("b", 2, 8);
  watermarks_["b"] = {0, 12};
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  task_->abort();  // the consumer is rewound: where b ends is not known any more
  EXPECT_EQ(task_->partition_lag("b", 2), -1);
}

TEST_F(StreamTaskIdleTest, PositiveIdleWaitsThatLongOnACaughtUpPartition) {
  make_task(100);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  watermarks_["b"] = {0, 0};
  EXPECT_EQ(process(), 0u);  // idle timer starts now (1000): deadline 1100
  clock_.advance(std::chrono::milliseconds(99));
  EXPECT_EQ(process(), 0u);
  // Records arriving meanwhile are processed in timestamp order, without enforcement.
  task_->add_records("b", 2, {raw("b", 0, 10, "b10")});
  watermarks_["b"] = {0, 1};
  EXPECT_EQ(process(), 1u);  // b10; b empty again: a new timer (1099 + 100)
  EXPECT_EQ(sent_values(), (std::vector<std::string>{"b10"}));
  clock_.advance(std::chrono::milliseconds(99));
  EXPECT_EQ(process(), 0u);
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(process(), 1u);  // a20, enforced
  EXPECT_EQ(enforced(), 1.0);
}

TEST_F(StreamTaskIdleTest, PositiveIdleStillWaitsWithoutTimeoutForKnownLag) {
  make_task(100);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  task_->end_of_partition("b", 2, 4);
  watermarks_["b"] = {0, 6};
  EXPECT_EQ(task_->partition_lag("b", 2), 2);
  clock_.advance(std::chrono::hours(1));
  EXPECT_EQ(process(), 0u);
}

TEST_F(StreamTaskIdleTest, MinusOneNeverWaits) {
  make_task(-1);
  task_->add_records("a", 2, {raw("a", 0, 20, "a20")});
  watermarks_["b"] = {0, 50};  // lag would be known and positive
  EXPECT_TRUE(task_->ready_to_process(clock_.now_ms()));
  EXPECT_EQ(process(), 1u);
  EXPECT_EQ(enforced(), 0.0);
}

TEST_F(StreamTaskIdleTest, NoBufferedRecordIsNeverReady) {
  make_task(0);
  watermarks_["a"] = {0, 0};
  watermarks_["b"] = {0, 0};
  EXPECT_FALSE(task_->ready_to_process(clock_.now_ms()));
}

TEST_F(StreamTaskIdleTest, AbortForgetsPositionsBeyondTheLastCommit) {
  make_task(0);
  task_->add_records("b", 2, {raw("b", 0, 1, "b1")});
  task_->add_records("a", 2, {raw("a", 0, 2, "a2")});
  watermarks_["a"] = {0, 1};
  watermarks_["b"] = {0, 1};
  EXPECT_EQ(process(), 2u);
  ASSERT_TRUE(task_->prepare_commit().ok());
  ASSERT_TRUE(task_->post_commit({}).ok());  // committed: a at 1, b at 1
  task_->add_records("b", 2, {raw("b", 1, 3, "b3"), raw("b", 2, 4, "b4")});
  watermarks_["b"] = {0, 3};
  EXPECT_EQ(task_->partition_lag("b", 2), 0);
  task_->abort();  // the consumer goes back to offset 1 of b
  EXPECT_EQ(task_->partition_lag("b", 2), 2);
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
