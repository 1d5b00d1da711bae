// Crash consistency of the commit protocol: crash (SimulatedCrash thrown from a named fault point,
// then the manager destroyed without close, the DB closed without flushing) at each boundary of
// the commit and restore paths; the reopened task must hold exactly a committed state with the
// matching changelog offset, and restoring from that offset must bring it forward. RocksDB writes
// skip the WAL: with flush interval 0 (most tests here) every commit is on disk when it returns;
// with a long one, a crash reopens the task at its last flush (older, still consistent).
#include <gtest/gtest.h>

#include "kstreams/common/fault_points.h"
#include "state_test_util.h"

namespace kstreams::state {
namespace {

using fault::FaultAction;
using fault::FaultSpec;
using fault::ScopedFault;
using fault::SimulatedCrash;
using testing::RecordingChangelog;
using testing::TempDir;

struct Snapshot {
  std::vector<std::pair<std::string, std::string>> kv;
  std::vector<std::pair<std::string, TimestampMs>> windows;
  std::vector<std::pair<std::string, TimestampMs>> sessions;
  bool operator==(const Snapshot&) const = default;
};

class CrashConsistencyTest : public ::testing::TestWithParam<const char*> {
 protected:
  static std::vector<StoreSpec> specs() {
    return {StoreSpec{.name = "kv", .type = StoreType::kKeyValue},
            // Generation 2 (window start 2000) expires generation 0's window: the commit drops segments.
            StoreSpec{.name = "win", .type = StoreType::kWindow, .retention_ms = 1500, .segment_interval_ms = 250},
            StoreSpec{.name = "ses", .type = StoreType::kSession, .retention_ms = 10'000, .segment_interval_ms = 1000}};
  }
  void open() {
    StateManagerOptions options;
    options.task = TaskId{0, 0};
    options.task_dir = dir_.path() / "0_0";
    options.changelog = &changelog_;
    options.resources = resources_.get();
    auto m = ProcessorStateManager::open(options, specs());
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  void crash() { manager_.reset(); }  // no close(): buffered writes vanish, nothing is flushed

  // Writes generation `g` into all three stores.
  void write_generation(int g) {
    const std::string v = "gen" + std::to_string(g);
    ASSERT_TRUE(manager_->key_value_store("kv")->put("k" + std::to_string(g), v).ok());
    ASSERT_TRUE(manager_->key_value_store("kv")->put("shared", v).ok());
    if (g > 0) {
      ASSERT_TRUE(manager_->key_value_store("kv")->remove("k" + std::to_string(g - 1)).ok());
    }
    ASSERT_TRUE(manager_->window_store("win")->put("w", std::string_view(v), 1000 * g).ok());
    ASSERT_TRUE(manager_->session_store("ses")->put("s", 100 * g, 100 * g + 50, v).ok());
  }
  std::map<std::string, int64_t> log_ends() {
    return {{"kv", static_cast<int64_t>(changelog_.records("kv").size())},
            {"win", static_cast<int64_t>(changelog_.records("win").size())},
            {"ses", static_cast<int64_t>(changelog_.records("ses").size())}};
  }
  Snapshot snapshot() {
    Snapshot s;
    for (auto it = manager_->key_value_store("kv")->all(); it->valid(); it->next()) {
      s.kv.emplace_back(std::string(it->key()), std::string(it->value()));
    }
    for (auto it = manager_->window_store("win")->all(); it->valid(); it->next()) {
      s.windows.emplace_back(it->entry().value, it->entry().window_start);
    }
    for (auto it = manager_->session_store("ses")->all(); it->valid(); it->next()) {
      s.sessions.emplace_back(it->entry().value, it->entry().end);
    }
    return s;
  }
  // Writes generations 0 and 1 and commits them; returns the offsets committed and the state.
  std::pair<std::map<std::string, int64_t>, Snapshot> commit_first_generations() {
    write_generation(0);
    write_generation(1);
    auto offsets = log_ends();
    EXPECT_TRUE(manager_->commit(offsets).ok());
    return {offsets, snapshot()};
  }
  // Replays each store's changelog from its restore offset, as the runtime's restorer would.
  void restore_from_changelog() {
    for (const std::string store : {"kv", "win", "ses"}) {
      const auto& log = changelog_.records(store);
      int64_t from = manager_->restore_offset(store).value_or(0);
      std::vector<RawRecord> batch(log.begin() + from, log.end());
      ASSERT_TRUE(manager_->restore_batch(store, batch, static_cast<int64_t>(log.size())).ok());
    }
  }

  TempDir dir_;
  RecordingChangelog changelog_;
  std::unique_ptr<StoreResources> resources_ = StoreResources::create(size_t{64} << 20, std::chrono::milliseconds(0));
  std::unique_ptr<ProcessorStateManager> manager_;
};

TEST_P(CrashConsistencyTest, ReopenedTaskHoldsExactlyACommittedStateAndRestoreBringsItForward) {
  const std::string point = GetParam();
  open();
  const auto [first_offsets, first] = commit_first_generations();
  ASSERT_EQ(first.windows.size(), 2u);

  write_generation(2);
  const auto second_offsets = log_ends();
  {
    ScopedFault fault(point, FaultSpec{.action = FaultAction::kCrash});
    EXPECT_THROW((void)manager_->commit(second_offsets), SimulatedCrash);
  }
  const Snapshot second_expected = snapshot();    // what the second commit would have produced
  ASSERT_EQ(second_expected.windows.size(), 2u);  // windows 1000 and 2000; 0 expired
  crash();

  open();
  const bool committed = point == std::string("state.commit.after_write");
  const Snapshot after = snapshot();
  if (committed) {
    EXPECT_EQ(after, second_expected);
    EXPECT_EQ(manager_->restore_offset("kv"), second_offsets.at("kv"));
  } else {
    EXPECT_EQ(after, first);
    EXPECT_EQ(manager_->restore_offset("kv"), first_offsets.at("kv"));
    EXPECT_EQ(manager_->restore_offset("win"), first_offsets.at("win"));
    EXPECT_EQ(manager_->restore_offset("ses"), first_offsets.at("ses"));
  }
  restore_from_changelog();
  EXPECT_EQ(snapshot(), second_expected);
  EXPECT_EQ(manager_->restore_offset("ses"), second_offsets.at("ses"));
}

INSTANTIATE_TEST_SUITE_P(CommitPath, CrashConsistencyTest,
                         ::testing::Values("state.commit.before_write", "state.commit.after_write"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

TEST_F(CrashConsistencyTest, CrashBeforeARestoreWriteKeepsTheEarlierRestoreOffset) {
  open();
  write_generation(0);
  ASSERT_TRUE(manager_->commit(log_ends()).ok());
  write_generation(1);  // logged, never committed
  crash();
  open();
  const int64_t from = *manager_->restore_offset("kv");
  const auto& log = changelog_.records("kv");
  {
    ScopedFault fault("state.restore.before_write", FaultSpec{.action = FaultAction::kCrash});
    std::vector<RawRecord> batch(log.begin() + from, log.end());
    EXPECT_THROW((void)manager_->restore_batch("kv", batch, static_cast<int64_t>(log.size())), SimulatedCrash);
  }
  crash();
  open();
  EXPECT_EQ(manager_->restore_offset("kv"), from);
  EXPECT_EQ(*manager_->key_value_store("kv")->get("k1"), std::nullopt);
  restore_from_changelog();
  EXPECT_EQ(*manager_->key_value_store("kv")->get("k1"), "gen1");
}

TEST_F(CrashConsistencyTest, CrashAfterUnloggedRestoreWritesLosesDataAndOffsetTogether) {
  open();
  write_generation(0);
  write_generation(1);
  crash();  // nothing committed: the changelog is all there is
  open();
  const auto& log = changelog_.records("kv");
  ASSERT_TRUE(manager_->restore_batch("kv", log, static_cast<int64_t>(log.size())).ok());  // WAL off
  crash();
  open();
  // Either the restore batch survived with its offset, or neither did.
  const auto offset = manager_->restore_offset("kv");
  const auto value = *manager_->key_value_store("kv")->get("shared");
  if (offset.has_value()) {
    EXPECT_EQ(*offset, static_cast<int64_t>(log.size()));
    EXPECT_EQ(value, "gen1");
  } else {
    EXPECT_EQ(value, std::nullopt);
  }
  restore_from_changelog();
  EXPECT_EQ(*manager_->key_value_store("kv")->get("shared"), "gen1");
}

TEST_F(CrashConsistencyTest, CommitAfterRestoreMakesTheRestoredDataDurable) {
  open();
  write_generation(0);
  crash();
  open();
  restore_from_changelog();  // WAL off
  write_generation(1);
  ASSERT_TRUE(manager_->commit(log_ends()).ok());  // flushes (interval 0), restored writes included
  const Snapshot committed = snapshot();
  crash();
  open();
  EXPECT_EQ(snapshot(), committed);
  EXPECT_EQ(manager_->restore_offset("kv"), log_ends().at("kv"));
}

TEST_F(CrashConsistencyTest, WithoutAFlushACrashReopensAtTheLastFlushWithItsOffsets) {
  resources_ = StoreResources::create(size_t{64} << 20, std::chrono::hours(1));
  open();
  const auto [first_offsets, first] = commit_first_generations();
  ASSERT_TRUE(manager_->close().ok());  // a clean close flushes
  open();
  EXPECT_EQ(snapshot(), first);
  write_generation(2);
  const auto second_offsets = log_ends();
  ASSERT_TRUE(manager_->commit(second_offsets).ok());  // in memory only: no flush due for an hour
  const Snapshot second = snapshot();
  ASSERT_NE(second, first);
  crash();
  open();
  // The whole second commit is gone, offsets included: the stores are at the first one, whose
  // offsets tell restoration where to resume; replaying the changelog brings the second back.
  EXPECT_EQ(snapshot(), first);
  for (const std::string store : {"kv", "win", "ses"}) {
    EXPECT_EQ(manager_->restore_offset(store), first_offsets.at(store)) << store;
  }
  restore_from_changelog();
  EXPECT_EQ(snapshot(), second);
  EXPECT_EQ(manager_->restore_offset("kv"), second_offsets.at("kv"));
}

TEST_F(CrashConsistencyTest, CommitFailingAtAFaultPointKeepsWritesBufferedForRetryOrAbort) {
  open();
  write_generation(0);
  {
    ScopedFault fault("state.commit.before_write",
                      FaultSpec{.action = FaultAction::kReturnError, .error = absl::UnavailableError("disk")});
    EXPECT_EQ(manager_->commit(log_ends()).code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_TRUE(manager_->has_uncommitted_writes());
  EXPECT_EQ(manager_->restore_offset("kv"), std::nullopt);
  ASSERT_TRUE(manager_->commit(log_ends()).ok());  // the retry commits
  const Snapshot committed = snapshot();
  crash();
  open();
  EXPECT_EQ(snapshot(), committed);
}

TEST(FaultPointTest, ArmedPointFiresOnlyAfterSkipAndOnlyTimesOften) {
  fault::arm("test.point", FaultSpec{.action = FaultAction::kReturnError, .skip = 1, .times = 2});
  EXPECT_TRUE(fault::hit("test.point").ok());
  EXPECT_FALSE(fault::hit("test.point").ok());
  EXPECT_FALSE(fault::hit("test.point").ok());
  EXPECT_TRUE(fault::hit("test.point").ok());
  EXPECT_EQ(fault::hits("test.point"), 4);
  fault::disarm("test.point");
  EXPECT_TRUE(fault::hit("test.point").ok());
  EXPECT_TRUE(fault::hit("never.armed").ok());
}

}  // namespace
}  // namespace kstreams::state
