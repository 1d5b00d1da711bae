// Restoration from changelog records through restore_batch.
#include <gtest/gtest.h>

#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::entries;
using testing::ImplementationNames;
using testing::RecordingChangelog;
using testing::StoreImplementations;
using testing::TempDir;

template <typename Impl>
class RestoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProcessorStateManager> open(const std::string& task_dir, ChangelogWriter* changelog) {
    std::vector<StoreSpec> specs = {
        StoreSpec{.name = "kv", .type = StoreType::kKeyValue, .persistent = Impl::kPersistent},
        StoreSpec{.name = "win",
                  .type = StoreType::kWindow,
                  .persistent = Impl::kPersistent,
                  .retention_ms = 1000,
                  .segment_interval_ms = 100,
                  .retain_duplicates = true},
        StoreSpec{.name = "ses",
                  .type = StoreType::kSession,
                  .persistent = Impl::kPersistent,
                  .retention_ms = 1000,
                  .segment_interval_ms = 100}};
    StateManagerOptions options;
    options.task = TaskId{2, 5};
    options.task_dir = dir_.path() / task_dir;
    options.changelog = changelog;
    auto m = ProcessorStateManager::open(options, specs);
    EXPECT_TRUE(m.ok()) << m.status();
    return std::move(*m);
  }
  TempDir dir_;
};
TYPED_TEST_SUITE(RestoreTest, StoreImplementations, ImplementationNames);

TYPED_TEST(RestoreTest, RestoringTheChangelogRebuildsEveryStoreKind) {
  RecordingChangelog log;
  auto source = this->open("source", &log);
  ASSERT_TRUE(source->key_value_store("kv")->put("a", "1").ok());
  ASSERT_TRUE(source->key_value_store("kv")->put("b", "2").ok());
  ASSERT_TRUE(source->key_value_store("kv")->remove("a").ok());
  ASSERT_TRUE(source->window_store("win")->put("w", std::string_view("dup1"), 10).ok());
  ASSERT_TRUE(source->window_store("win")->put("w", std::string_view("dup2"), 10).ok());
  ASSERT_TRUE(source->window_store("win")->put("w", std::string_view("old"), 0).ok());
  ASSERT_TRUE(source->window_store("win")->put("w", std::string_view("new"), 1500).ok());  // expires 0 and 10
  ASSERT_TRUE(source->window_store("win")->put("w", std::string_view("dup3"), 1400).ok());
  ASSERT_TRUE(source->session_store("ses")->put("s", 0, 10, "x").ok());
  ASSERT_TRUE(source->session_store("ses")->remove("s", 0, 10).ok());
  ASSERT_TRUE(source->session_store("ses")->put("s", 0, 20, "merged").ok());

  RecordingChangelog unused;
  auto target = this->open("target", &unused);
  for (const std::string store : {"kv", "win", "ses"}) {
    const auto& records = log.records(store);
    // Two batches, as a restoring consumer would deliver them.
    const size_t half = records.size() / 2;
    ASSERT_TRUE(target->restore_batch(store, {records.begin(), records.begin() + half}, half).ok());
    ASSERT_TRUE(target->restore_batch(store, {records.begin() + half, records.end()}, records.size()).ok());
    EXPECT_EQ(target->restore_offset(store), static_cast<int64_t>(records.size()));
  }
  EXPECT_FALSE(target->has_uncommitted_writes());
  EXPECT_EQ(entries(target->key_value_store("kv")->all()), entries(source->key_value_store("kv")->all()));
  EXPECT_EQ(entries(target->window_store("win")->all()), entries(source->window_store("win")->all()));
  EXPECT_EQ(entries(target->session_store("ses")->all()), entries(source->session_store("ses")->all()));
  EXPECT_EQ(target->window_store("win")->observed_stream_time(), 1500);
  // Restoration is not logged again.
  EXPECT_TRUE(unused.records("kv").empty());
  EXPECT_TRUE(unused.records("win").empty());
  // Duplicates written after restoration get fresh sequence numbers (nothing overwritten).
  ASSERT_TRUE(target->window_store("win")->put("w", std::string_view("dup4"), 1400).ok());
  EXPECT_EQ(entries(target->window_store("win")->fetch("w", 1400, 1400)),
            (std::vector<std::string>{"w=dup3", "w=dup4"}));
}

TYPED_TEST(RestoreTest, UndecodableWindowKeyIsDataLossNamingStoreTopicAndOffset) {
  auto manager = this->open("t", nullptr);
  RawRecord good;
  good.topic = "app-win-changelog";
  good.partition = Partition(5);
  good.offset = Offset(41);
  good.key = std::string("k\0\0\0\0\0\0\0\x05\0\0\0\0", 13);
  good.value = "v";
  RawRecord bad = good;
  bad.offset = Offset(42);
  bad.key = "short";
  auto status = manager->restore_batch("win", {good, bad}, 43);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("win"), std::string::npos) << status;
  EXPECT_NE(status.message().find("app-win-changelog-5"), std::string::npos) << status;
  EXPECT_NE(status.message().find("offset 42"), std::string::npos) << status;
  // Nothing of the failed batch was applied.
  EXPECT_EQ(manager->restore_offset("win"), std::nullopt);
  EXPECT_EQ(*manager->window_store("win")->fetch("k", 5), std::nullopt);
  EXPECT_FALSE(manager->has_uncommitted_writes());
}

TYPED_TEST(RestoreTest, UndecodableSessionKeyAndNullKeyAreDataLoss) {
  auto manager = this->open("t", nullptr);
  RawRecord r;
  r.topic = "app-ses-changelog";
  r.offset = Offset(3);
  r.key = std::string(15, 'x');
  EXPECT_EQ(manager->restore_batch("ses", {r}, 4).code(), absl::StatusCode::kDataLoss);
  r.key.reset();
  EXPECT_EQ(manager->restore_batch("kv", {r}, 4).code(), absl::StatusCode::kDataLoss);
}

TYPED_TEST(RestoreTest, RestoreIntoAStoreWithUncommittedWritesIsRefused) {
  auto manager = this->open("t", nullptr);
  ASSERT_TRUE(manager->key_value_store("kv")->put("a", "1").ok());
  EXPECT_EQ(manager->restore_batch("kv", {}, 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager->restore_batch("nope", {}, 1).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kstreams::state
