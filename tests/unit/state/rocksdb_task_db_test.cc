// RocksDBTaskDb without a write-ahead log: what a crash keeps depends on the flush interval
// (rocksdb_task_db.h). Destroying the object without close() is the crash.
#include "rocksdb_task_db.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "rocksdb_resources.h"
#include "state_test_util.h"

namespace kstreams::state::internal {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

class RocksDBTaskDbTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksDBTaskDb> open() {
    auto db = RocksDBTaskDb::open(dir_.path() / "db", *resources_, {"s"});
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }
  // Commits key=value with the store's changelog offset `offset`.
  static void commit(RocksDBTaskDb& db, const std::string& key, const std::string& value, int64_t offset) {
    const std::string store = "s";
    PendingWrites writes;
    writes.writes[key] = value;
    ASSERT_TRUE(db.write({{&store, &writes}}, {{"s", offset}}).ok());
  }
  static std::optional<std::string> get(RocksDBTaskDb& db, const std::string& key) {
    auto v = db.table("s")->get(key);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : std::nullopt;
  }
  void use_flush_interval(std::chrono::milliseconds interval) {
    resources_ = std::make_unique<RocksDBResources>(size_t{64} << 20, interval);
  }

  TempDir dir_;
  std::unique_ptr<RocksDBResources> resources_;
};

TEST_F(RocksDBTaskDbTest, IntervalZeroPutsEveryCommitOnDiskBeforeItReturns) {
  use_flush_interval(0ms);
  auto db = open();
  commit(*db, "k", "v1", 1);
  EXPECT_EQ(db->unflushed_entries(), 0u);
  db.reset();  // crash
  db = open();
  EXPECT_EQ(get(*db, "k"), "v1");
  EXPECT_EQ(db->offsets_at_open().at("s"), 1);
}

TEST_F(RocksDBTaskDbTest, ACrashLosesTheWritesSinceTheLastFlushTogetherWithTheirOffsets) {
  use_flush_interval(1h);
  auto db = open();
  commit(*db, "k", "v1", 1);
  ASSERT_TRUE(db->close().ok());  // flushes
  db = open();
  commit(*db, "k", "v2", 2);
  commit(*db, "other", "x", 3);
  EXPECT_GT(db->unflushed_entries(), 0u);
  db.reset();  // crash: no WAL, nothing flushed since the reopen
  db = open();
  EXPECT_EQ(get(*db, "k"), "v1");
  EXPECT_EQ(get(*db, "other"), std::nullopt);
  EXPECT_EQ(db->offsets_at_open().at("s"), 1);  // restoration resumes after v1's record
}

// A task that moved to another instance closes without flushing: on disk it stays as of its last
// flush, consistently with its offsets (as after a crash), and the DB opens again at once.
TEST_F(RocksDBTaskDbTest, CloseWithoutFlushKeepsTheLastFlushWithItsOffsets) {
  use_flush_interval(1h);
  auto db = open();
  commit(*db, "k", "v1", 1);
  ASSERT_TRUE(db->close().ok());  // flushes
  db = open();
  commit(*db, "k", "v2", 2);
  EXPECT_GT(db->unflushed_entries(), 0u);
  ASSERT_TRUE(db->close_without_flush().ok());
  ASSERT_TRUE(db->close_without_flush().ok());  // idempotent
  db = open();
  EXPECT_EQ(get(*db, "k"), "v1");
  EXPECT_EQ(db->offsets_at_open().at("s"), 1);
  commit(*db, "k", "v3", 3);
  ASSERT_TRUE(db->close().ok());
  db = open();
  EXPECT_EQ(get(*db, "k"), "v3");
  EXPECT_EQ(db->offsets_at_open().at("s"), 3);
}

TEST_F(RocksDBTaskDbTest, AWriteOneIntervalAfterTheOldestUnflushedOneFlushesInTheBackground) {
  use_flush_interval(50ms);
  auto db = open();
  commit(*db, "k", "v1", 1);
  EXPECT_GT(db->unflushed_entries(), 0u);  // younger than the interval: stays in memory
  std::this_thread::sleep_for(80ms);
  commit(*db, "k", "v2", 2);  // the oldest unflushed write is now older than 50 ms
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (db->unflushed_entries() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(db->unflushed_entries(), 0u) << "the background flush did not complete";
  db.reset();  // crash
  db = open();
  EXPECT_EQ(get(*db, "k"), "v2");
  EXPECT_EQ(db->offsets_at_open().at("s"), 2);
}

}  // namespace
}  // namespace kstreams::state::internal
