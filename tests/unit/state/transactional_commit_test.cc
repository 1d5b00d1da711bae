// Commit / abort semantics of ProcessorStateManager, for every implementation, and persistence of
// committed state across a clean reopen (RocksDB).
#include <gtest/gtest.h>

#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::ImplementationNames;
using testing::RecordingChangelog;
using testing::StoreImplementations;
using testing::TempDir;

std::vector<StoreSpec> task_specs(bool persistent) {
  StoreSpec kv{.name = "kv", .type = StoreType::kKeyValue, .persistent = persistent};
  StoreSpec win{.name = "win",
                .type = StoreType::kWindow,
                .persistent = persistent,
                .retention_ms = 1000,
                .window_size_ms = 10,
                .segment_interval_ms = 100};
  StoreSpec ses{.name = "ses",
                .type = StoreType::kSession,
                .persistent = persistent,
                .retention_ms = 1000,
                .segment_interval_ms = 100};
  return {kv, win, ses};
}

template <typename Impl>
class TransactionalCommitTest : public ::testing::Test {
 protected:
  TransactionalCommitTest() { open(); }
  void open() {
    StateManagerOptions options;
    options.task = TaskId{1, 2};
    options.task_dir = dir_.path() / "1_2";
    options.changelog = &changelog_;
    auto m = ProcessorStateManager::open(options, task_specs(Impl::kPersistent));
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  KeyValueBytesStore& kv() { return *manager_->key_value_store("kv"); }
  WindowBytesStore& win() { return *manager_->window_store("win"); }
  SessionBytesStore& ses() { return *manager_->session_store("ses"); }
  std::optional<std::string> get(const std::string& k) { return *kv().get(k); }

  TempDir dir_;
  RecordingChangelog changelog_;
  std::unique_ptr<ProcessorStateManager> manager_;
};
TYPED_TEST_SUITE(TransactionalCommitTest, StoreImplementations, ImplementationNames);

TYPED_TEST(TransactionalCommitTest, ReadsSeeTheirOwnUncommittedWrites) {
  ASSERT_TRUE(this->kv().put("k", "v").ok());
  EXPECT_TRUE(this->manager_->has_uncommitted_writes());
  EXPECT_EQ(this->get("k"), "v");
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 5).ok());
  EXPECT_EQ(*this->win().fetch("w", 5), "x");
}

TYPED_TEST(TransactionalCommitTest, AbortRestoresTheLastCommittedStateOfEveryStore) {
  ASSERT_TRUE(this->kv().put("keep", "1").ok());
  ASSERT_TRUE(this->kv().put("change", "old").ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 5).ok());
  ASSERT_TRUE(this->ses().put("s", 0, 10, "a").ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  ASSERT_TRUE(this->kv().put("change", "new").ok());
  ASSERT_TRUE(this->kv().remove("keep").ok());
  ASSERT_TRUE(this->kv().put("added", "x").ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("y"), 2000).ok());  // expires window 5
  ASSERT_TRUE(this->ses().remove("s", 0, 10).ok());
  this->manager_->abort();
  EXPECT_FALSE(this->manager_->has_uncommitted_writes());
  EXPECT_EQ(this->get("keep"), "1");
  EXPECT_EQ(this->get("change"), "old");
  EXPECT_EQ(this->get("added"), std::nullopt);
  EXPECT_EQ(*this->win().fetch("w", 5), "x");
  EXPECT_EQ(this->win().observed_stream_time(), 5);
  EXPECT_EQ(*this->ses().fetch_session("s", 0, 10), "a");
}

TYPED_TEST(TransactionalCommitTest, AbortAfterExpiryKeepsOldSegmentsReadableAndLaterExpiryStillWorks) {
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 5).ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("y"), 2000).ok());
  this->manager_->abort();
  EXPECT_EQ(*this->win().fetch("w", 5), "x");
  ASSERT_TRUE(this->win().put("w", std::string_view("z"), 3000).ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  EXPECT_EQ(*this->win().fetch("w", 5), std::nullopt);
  EXPECT_EQ(*this->win().fetch("w", 3000), "z");
}

TYPED_TEST(TransactionalCommitTest, CommitAppliesWritesAndRecordsChangelogOffsets) {
  EXPECT_EQ(this->manager_->restore_offset("kv"), std::nullopt);
  ASSERT_TRUE(this->kv().put("k", "v").ok());
  ASSERT_TRUE(this->manager_->commit({{"kv", 7}, {"win", 3}}).ok());
  EXPECT_FALSE(this->manager_->has_uncommitted_writes());
  this->manager_->abort();  // nothing left to drop
  EXPECT_EQ(this->get("k"), "v");
  EXPECT_EQ(this->manager_->restore_offset("kv"), 7);
  EXPECT_EQ(this->manager_->restore_offset("win"), 3);
  EXPECT_EQ(this->manager_->restore_offset("ses"), std::nullopt);
}

TYPED_TEST(TransactionalCommitTest, CommitNamingAnUnknownStoreFailsWithoutApplying) {
  ASSERT_TRUE(this->kv().put("k", "v").ok());
  EXPECT_EQ(this->manager_->commit({{"nope", 1}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(this->manager_->has_uncommitted_writes());
  this->manager_->abort();
  EXPECT_EQ(this->get("k"), std::nullopt);
}

TYPED_TEST(TransactionalCommitTest, IteratorOpenedBeforeCommitStillReadsItsSnapshot) {
  ASSERT_TRUE(this->kv().put("a", "1").ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  auto it = this->kv().all();
  ASSERT_TRUE(this->kv().put("b", "2").ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), "a");
  it->next();
  EXPECT_FALSE(it->valid());
}

TYPED_TEST(TransactionalCommitTest, CloseDropsUncommittedWrites) {
  ASSERT_TRUE(this->kv().put("committed", "1").ok());
  ASSERT_TRUE(this->manager_->commit({{"kv", 1}}).ok());
  ASSERT_TRUE(this->kv().put("pending", "2").ok());
  ASSERT_TRUE(this->manager_->close().ok());
  EXPECT_EQ(this->manager_->store("kv"), nullptr);
  EXPECT_EQ(this->manager_->commit({}).code(), absl::StatusCode::kFailedPrecondition);
  this->manager_.reset();
  this->open();
  EXPECT_EQ(this->get("pending"), std::nullopt);
  if (TypeParam::kPersistent) {
    EXPECT_EQ(this->get("committed"), "1");
    EXPECT_EQ(this->manager_->restore_offset("kv"), 1);
  } else {
    EXPECT_EQ(this->get("committed"), std::nullopt);  // in-memory: restored from the changelog
    EXPECT_EQ(this->manager_->restore_offset("kv"), std::nullopt);
  }
}

TYPED_TEST(TransactionalCommitTest, ReopenAfterCloseKeepsWindowAndSessionStateAndStreamTime) {
  if (!TypeParam::kPersistent) GTEST_SKIP() << "in-memory stores start empty";
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 1500).ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("y"), 1600).ok());
  ASSERT_TRUE(this->ses().put("s", 100, 200, "a").ok());
  ASSERT_TRUE(this->manager_->commit({{"win", 2}, {"ses", 1}}).ok());
  ASSERT_TRUE(this->manager_->close().ok());
  this->open();
  EXPECT_EQ(this->win().observed_stream_time(), 1600);
  EXPECT_EQ(*this->win().fetch("w", 1500), "x");
  EXPECT_EQ(*this->ses().fetch_session("s", 100, 200), "a");
  ASSERT_TRUE(this->win().put("w", std::string_view("z"), 2550).ok());  // expires 1500, keeps 1600
  ASSERT_TRUE(this->manager_->commit({}).ok());
  EXPECT_EQ(*this->win().fetch("w", 1500), std::nullopt);
  EXPECT_EQ(*this->win().fetch("w", 1600), "y");
}

// Sealing (commit.pipelined): the task goes on writing while its sealed writes commit.
template <typename Store>
std::vector<std::pair<std::string, std::string>> entries(std::unique_ptr<Store> it) {
  std::vector<std::pair<std::string, std::string>> out;
  for (; it->valid(); it->next()) out.emplace_back(std::string(it->key()), std::string(it->value()));
  return out;
}

TYPED_TEST(TransactionalCommitTest, ReadsSeeWritesMadeAfterASealOverTheSealedOnes) {
  ASSERT_TRUE(this->kv().put("a", "1").ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  ASSERT_TRUE(this->kv().put("b", "2").ok());
  ASSERT_TRUE(this->kv().put("c", "3").ok());
  ASSERT_TRUE(this->kv().put("d", "4").ok());
  ASSERT_TRUE(this->manager_->seal().ok());
  ASSERT_TRUE(this->kv().put("c", "30").ok());  // over a sealed write
  ASSERT_TRUE(this->kv().remove("d").ok());     // deletes a sealed write
  ASSERT_TRUE(this->kv().remove("a").ok());     // deletes a committed key
  ASSERT_TRUE(this->kv().put("e", "5").ok());
  EXPECT_EQ(this->get("a"), std::nullopt);
  EXPECT_EQ(this->get("b"), "2");
  EXPECT_EQ(this->get("c"), "30");
  EXPECT_EQ(this->get("d"), std::nullopt);
  using Entries = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(entries(this->kv().all()), (Entries{{"b", "2"}, {"c", "30"}, {"e", "5"}}));
  EXPECT_EQ(entries(this->kv().reverse_all()), (Entries{{"e", "5"}, {"c", "30"}, {"b", "2"}}));
  EXPECT_EQ(entries(this->kv().range("a", "d")), (Entries{{"b", "2"}, {"c", "30"}}));
  if (!TypeParam::kPersistent) {  // exact in memory: committed + sealed puts + pending puts
    EXPECT_EQ(this->kv().approximate_num_entries(), 1u + 3u + 2u);
  }
}

TYPED_TEST(TransactionalCommitTest, CommitAfterASealAppliesOnlyTheSealedWritesAndAbortDropsTheRest) {
  ASSERT_TRUE(this->kv().put("a", "1").ok());
  ASSERT_TRUE(this->kv().put("b", "2").ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 5).ok());
  ASSERT_TRUE(this->manager_->seal().ok());
  // The next transaction: changes a and b, adds c, and expires window 5 (a range delete).
  ASSERT_TRUE(this->kv().put("a", "10").ok());
  ASSERT_TRUE(this->kv().remove("b").ok());
  ASSERT_TRUE(this->kv().put("c", "3").ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("y"), 2000).ok());
  EXPECT_EQ(*this->win().fetch("w", 5), std::nullopt);
  ASSERT_TRUE(this->manager_->commit({{"kv", 2}, {"win", 1}}).ok());
  EXPECT_TRUE(this->manager_->has_uncommitted_writes());  // the next transaction's writes
  EXPECT_EQ(this->manager_->restore_offset("kv"), 2);
  EXPECT_EQ(this->get("a"), "10");  // still read through the pending layer
  this->manager_->abort();
  EXPECT_FALSE(this->manager_->has_uncommitted_writes());
  EXPECT_EQ(this->get("a"), "1");
  EXPECT_EQ(this->get("b"), "2");
  EXPECT_EQ(this->get("c"), std::nullopt);
  EXPECT_EQ(*this->win().fetch("w", 5), "x");
  EXPECT_EQ(this->win().observed_stream_time(), 5);
  if (TypeParam::kPersistent) {  // what a reopen finds: the sealed transaction and its offsets only
    ASSERT_TRUE(this->manager_->close().ok());
    this->open();
    EXPECT_EQ(this->get("a"), "1");
    EXPECT_EQ(this->get("c"), std::nullopt);
    EXPECT_EQ(*this->win().fetch("w", 5), "x");
    EXPECT_EQ(this->win().observed_stream_time(), 5);
    EXPECT_EQ(this->manager_->restore_offset("win"), 1);
  }
}

TYPED_TEST(TransactionalCommitTest, TheNextSealTakesWhatWasWrittenDuringTheCommit) {
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 5).ok());
  ASSERT_TRUE(this->manager_->seal().ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("y"), 2000).ok());  // expires window 5
  ASSERT_TRUE(this->kv().put("k", "v").ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  ASSERT_TRUE(this->manager_->seal().ok());
  ASSERT_TRUE(this->manager_->commit({}).ok());
  EXPECT_FALSE(this->manager_->has_uncommitted_writes());
  this->manager_->abort();  // nothing left to drop
  EXPECT_EQ(this->get("k"), "v");
  EXPECT_EQ(*this->win().fetch("w", 5), std::nullopt);
  EXPECT_EQ(*this->win().fetch("w", 2000), "y");
  EXPECT_EQ(this->win().observed_stream_time(), 2000);
}

// commit.pipelined seals the next transaction before it applies the one that committed: two
// sealed transactions, applied oldest first, each with its own changelog positions.
TYPED_TEST(TransactionalCommitTest, TwoSealedTransactionsCommitOldestFirstEachWithItsOffsets) {
  ASSERT_TRUE(this->kv().put("a", "1").ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 5).ok());
  ASSERT_TRUE(this->manager_->seal().ok());  // transaction 1
  ASSERT_TRUE(this->kv().put("a", "2").ok());
  ASSERT_TRUE(this->kv().put("b", "2").ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("y"), 2000).ok());              // expires window 5
  ASSERT_TRUE(this->manager_->seal().ok());                                         // transaction 2
  ASSERT_TRUE(this->kv().put("a", "3").ok());                                       // pending
  EXPECT_EQ(this->manager_->seal().code(), absl::StatusCode::kFailedPrecondition);  // a third
  EXPECT_EQ(this->get("a"), "3");
  EXPECT_EQ(*this->win().fetch("w", 5), std::nullopt);
  ASSERT_TRUE(this->manager_->commit({{"kv", 10}, {"win", 11}}).ok());  // transaction 1
  EXPECT_EQ(this->manager_->restore_offset("kv"), 10);
  EXPECT_EQ(this->get("a"), "3");
  EXPECT_EQ(this->get("b"), "2");
  ASSERT_TRUE(this->manager_->commit({{"kv", 20}}).ok());  // transaction 2
  EXPECT_EQ(this->manager_->restore_offset("kv"), 20);
  EXPECT_EQ(this->manager_->restore_offset("win"), 11);
  this->manager_->abort();  // the pending write only
  EXPECT_EQ(this->get("a"), "2");
  EXPECT_EQ(this->get("b"), "2");
  EXPECT_EQ(*this->win().fetch("w", 5), std::nullopt);
  EXPECT_EQ(this->win().observed_stream_time(), 2000);
}

TYPED_TEST(TransactionalCommitTest, AnAbortAfterTheOlderOfTwoSealedCommitsKeepsOnlyThatOne) {
  ASSERT_TRUE(this->manager_->seal().ok());  // transaction 1 wrote nothing
  ASSERT_TRUE(this->kv().put("k", "2").ok());
  ASSERT_TRUE(this->win().put("w", std::string_view("x"), 5).ok());
  ASSERT_TRUE(this->manager_->seal().ok());  // transaction 2
  ASSERT_TRUE(this->manager_->commit({{"kv", 7}}).ok());
  EXPECT_EQ(this->get("k"), "2");  // read through transaction 2's sealed layer
  this->manager_->abort();         // transaction 2 failed in Kafka
  EXPECT_FALSE(this->manager_->has_uncommitted_writes());
  EXPECT_EQ(this->get("k"), std::nullopt);
  EXPECT_EQ(*this->win().fetch("w", 5), std::nullopt);
  EXPECT_EQ(this->win().observed_stream_time(), kNoTimestamp);
  if (TypeParam::kPersistent) {  // a reopen finds transaction 1: nothing, with its offset
    ASSERT_TRUE(this->manager_->close().ok());
    this->open();
    EXPECT_EQ(this->get("k"), std::nullopt);
    EXPECT_EQ(this->manager_->restore_offset("kv"), 7);
  }
}

TEST(WindowDuplicatesTest, SequenceNumbersSurviveReopenSoDuplicatesAreNeverOverwritten) {
  TempDir dir;
  StateManagerOptions options;
  options.task_dir = dir.path() / "0_0";
  StoreSpec spec{.name = "join", .type = StoreType::kWindow, .retention_ms = 1000, .retain_duplicates = true};
  for (int round = 0; round < 2; ++round) {
    auto m = ProcessorStateManager::open(options, {spec});
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE((*m)->window_store("join")->put("k", std::string_view("r" + std::to_string(round)), 10).ok());
    ASSERT_TRUE((*m)->commit({}).ok());
    ASSERT_TRUE((*m)->close().ok());
  }
  auto m = ProcessorStateManager::open(options, {spec});
  ASSERT_TRUE(m.ok());
  std::vector<std::string> values;
  for (auto it = (*m)->window_store("join")->fetch("k", 0, 100); it->valid(); it->next()) {
    values.push_back(it->entry().value);
  }
  EXPECT_EQ(values, (std::vector<std::string>{"r0", "r1"}));
}

TEST(StoreSpecTest, DuplicateStoreNamesAreRejected) {
  TempDir dir;
  StateManagerOptions options;
  options.task_dir = dir.path() / "0_0";
  StoreSpec a{.name = "s", .persistent = false};
  auto m = ProcessorStateManager::open(options, {a, a});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoreSpecTest, LookupByTheWrongKindReturnsNull) {
  TempDir dir;
  StateManagerOptions options;
  options.task_dir = dir.path() / "0_0";
  auto m = ProcessorStateManager::open(options, task_specs(false));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->window_store("kv"), nullptr);
  EXPECT_NE((*m)->key_value_store("kv"), nullptr);
  EXPECT_EQ((*m)->store("missing"), nullptr);
  EXPECT_EQ((*m)->specs().size(), 3u);
}

}  // namespace
}  // namespace kstreams::state

namespace kstreams::state {
namespace {

TEST(StateMetricsTest, CommitsRestoredRecordsAndExpiredWritesAreMeasuredPerTaskAndStore) {
  testing::TempDir dir;
  InMemoryMetrics metrics;
  StateManagerOptions options;
  options.task = TaskId{3, 1};
  options.task_dir = dir.path() / "3_1";
  options.metrics = &metrics;
  auto m = ProcessorStateManager::open(options, task_specs(false));
  ASSERT_TRUE(m.ok());
  auto& manager = **m;
  RawRecord r;
  r.key = "k";
  r.value = "v";
  ASSERT_TRUE(manager.restore_batch("kv", {r, r}, 2).ok());
  ASSERT_TRUE(manager.window_store("win")->put("w", std::string_view("x"), 5000).ok());
  ASSERT_TRUE(manager.window_store("win")->put("w", std::string_view("late"), 10).ok());
  ASSERT_TRUE(manager.commit({}).ok());
  EXPECT_EQ(metrics.total("kstreams_state_restored_records_total", {{"task", "3_1"}, {"store", "kv"}}), 2);
  EXPECT_EQ(metrics.total("kstreams_state_expired_writes_total", {{"store", "win"}}), 1);
  auto& latency = metrics.histogram("kstreams_state_commit_latency_ms", "", {{"task", "3_1"}}, {});
  EXPECT_EQ(latency.count(), 1u);
}

}  // namespace
}  // namespace kstreams::state
