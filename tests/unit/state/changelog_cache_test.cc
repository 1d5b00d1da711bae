// The changelog write cache (ChangelogCache, statestore.cache.max.bytes): logged writes held per
// (store, key) until flush_changelog, last write wins, dropped on abort, everything sent when the
// budget is exceeded; a store restored from the coalesced changelog equals the source store.
#include <gtest/gtest.h>

#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::entries;
using testing::ImplementationNames;
using testing::RecordingChangelog;
using testing::StoreImplementations;
using testing::TempDir;

std::vector<StoreSpec> specs(bool persistent) {
  return {StoreSpec{.name = "kv", .type = StoreType::kKeyValue, .persistent = persistent},
          StoreSpec{.name = "win",
                    .type = StoreType::kWindow,
                    .persistent = persistent,
                    .retention_ms = 1000,
                    .window_size_ms = 10,
                    .segment_interval_ms = 100},
          StoreSpec{.name = "ses",
                    .type = StoreType::kSession,
                    .persistent = persistent,
                    .retention_ms = 1000,
                    .segment_interval_ms = 100}};
}

std::vector<std::string> kv_records(const std::vector<RawRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) {
    out.push_back(r.key.value_or("<null>") + "=" + r.value.value_or("<tombstone>") + "@" + std::to_string(r.timestamp));
  }
  return out;
}

template <typename Impl>
class ChangelogCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProcessorStateManager> open(const std::string& task_dir, ChangelogWriter* changelog,
                                              ChangelogCache* cache, int32_t partition = 0) {
    StateManagerOptions options;
    options.task = TaskId{0, partition};
    options.task_dir = dir_.path() / task_dir;
    options.changelog = changelog;
    options.changelog_cache = cache;
    auto m = ProcessorStateManager::open(options, specs(Impl::kPersistent));
    EXPECT_TRUE(m.ok()) << m.status();
    return std::move(*m);
  }
  TempDir dir_;
};
TYPED_TEST_SUITE(ChangelogCacheTest, StoreImplementations, ImplementationNames);

TYPED_TEST(ChangelogCacheTest, LastWriteOfEachKeyIsSentAtFlushInFirstWriteOrder) {
  ChangelogCache cache(1 << 20);
  RecordingChangelog log;
  auto m = this->open("t", &log, &cache);
  auto& kv = *m->key_value_store("kv");
  m->set_record_timestamp(10);
  ASSERT_TRUE(kv.put("b", "1").ok());
  m->set_record_timestamp(11);
  ASSERT_TRUE(kv.put("a", "1").ok());
  m->set_record_timestamp(12);
  ASSERT_TRUE(kv.put("b", "2").ok());
  m->set_record_timestamp(13);
  ASSERT_TRUE(kv.put("gone", "x").ok());
  ASSERT_TRUE(kv.remove("gone").ok());
  EXPECT_TRUE(log.records("kv").empty()) << "nothing is sent before the flush";
  EXPECT_GT(cache.bytes(), 0u);
  EXPECT_EQ(kv.get("b")->value_or(""), "2") << "reads see the writes, held or not";

  m->flush_changelog();
  EXPECT_EQ(kv_records(log.records("kv")), (std::vector<std::string>{"b=2@12", "a=1@11", "gone=<tombstone>@13"}));
  EXPECT_EQ(cache.bytes(), 0u);
  ASSERT_TRUE(m->commit({{"kv", 3}}).ok());

  // The next commit interval starts empty: a key sent before is sent again when written again.
  ASSERT_TRUE(kv.put("a", "2").ok());
  m->flush_changelog();
  EXPECT_EQ(log.records("kv").size(), 4u);
  EXPECT_EQ(*log.records("kv").back().value, "2");
}

TYPED_TEST(ChangelogCacheTest, CommitWithHeldRecordsIsRefusedAndAbortDropsThem) {
  ChangelogCache cache(1 << 20);
  RecordingChangelog log;
  auto m = this->open("t", &log, &cache);
  ASSERT_TRUE(m->key_value_store("kv")->put("k", "v").ok());
  const absl::Status refused = m->commit({});
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(refused.message()).find("flush_changelog"), std::string::npos) << refused;
  EXPECT_EQ(m->key_value_store("kv")->get("k")->value_or(""), "v") << "a refused commit changes nothing";

  m->abort();
  EXPECT_EQ(cache.bytes(), 0u);
  m->flush_changelog();
  EXPECT_TRUE(log.records("kv").empty()) << "an aborted write never reaches the changelog";
  EXPECT_FALSE(m->key_value_store("kv")->get("k")->has_value());
  ASSERT_TRUE(m->commit({}).ok());
}

TYPED_TEST(ChangelogCacheTest, ExceedingTheBudgetSendsEveryTasksBufferAtOnce) {
  // ~100 bytes of overhead per entry: the third write of a 250-byte budget overflows.
  ChangelogCache cache(250);
  RecordingChangelog log_a;
  RecordingChangelog log_b;
  auto a = this->open("a", &log_a, &cache, 0);
  auto b = this->open("b", &log_b, &cache, 1);
  ASSERT_TRUE(a->key_value_store("kv")->put("a1", "x").ok());
  ASSERT_TRUE(b->key_value_store("kv")->put("b1", "y").ok());
  EXPECT_TRUE(log_a.records("kv").empty());
  EXPECT_EQ(cache.overflows(), 0u);
  ASSERT_TRUE(a->key_value_store("kv")->put("a2", "z").ok());
  EXPECT_EQ(cache.overflows(), 1u);
  EXPECT_EQ(kv_records(log_a.records("kv")).size(), 2u);
  EXPECT_EQ(kv_records(log_b.records("kv")).size(), 1u) << "the other task's buffer goes too";
  EXPECT_EQ(cache.bytes(), 0u);
  // Closing a task leaves the cache: a later overflow does not touch it.
  ASSERT_TRUE(b->close().ok());
  b.reset();
  ASSERT_TRUE(a->key_value_store("kv")->put("a3", "1").ok());
  ASSERT_TRUE(a->key_value_store("kv")->put("a4", "2").ok());
  ASSERT_TRUE(a->key_value_store("kv")->put("a5", "3").ok());
  EXPECT_EQ(cache.overflows(), 2u);
}

TYPED_TEST(ChangelogCacheTest, ZeroBudgetSendsEveryWriteAtOnce) {
  ChangelogCache cache(0);
  RecordingChangelog log;
  auto m = this->open("t", &log, &cache);
  ASSERT_TRUE(m->key_value_store("kv")->put("k", "1").ok());
  ASSERT_TRUE(m->key_value_store("kv")->put("k", "2").ok());
  EXPECT_EQ(log.records("kv").size(), 2u);
}

TYPED_TEST(ChangelogCacheTest, RestoringTheCoalescedChangelogRebuildsTheSameStores) {
  ChangelogCache cache(1 << 20);
  RecordingChangelog coalesced;
  RecordingChangelog every_write;
  auto cached = this->open("cached", &coalesced, &cache);
  auto plain = this->open("plain", &every_write, nullptr, 1);
  int64_t offset_cached = 0;
  for (int round = 0; round < 3; ++round) {
    for (ProcessorStateManager* m : {cached.get(), plain.get()}) {
      for (int i = 0; i < 20; ++i) {
        const std::string key = "k" + std::to_string(i % 7);
        const TimestampMs t = round * 400 + i * 10;
        m->set_record_timestamp(t);
        ASSERT_TRUE(m->key_value_store("kv")->put(key, std::to_string(round * 100 + i)).ok());
        if (i % 5 == 4) {
          ASSERT_TRUE(m->key_value_store("kv")->remove(key).ok());
        }
        ASSERT_TRUE(m->window_store("win")->put(key, std::string_view(std::to_string(i)), (t / 100) * 100).ok());
        ASSERT_TRUE(m->session_store("ses")->put(key, t, t + 5, std::to_string(i)).ok());
      }
      m->flush_changelog();
    }
    offset_cached = static_cast<int64_t>(coalesced.records("kv").size());
    ASSERT_TRUE(cached->commit({{"kv", offset_cached}}).ok());
    ASSERT_TRUE(plain->commit({}).ok());
  }
  EXPECT_LT(coalesced.records("kv").size(), every_write.records("kv").size());
  EXPECT_LT(coalesced.records("win").size(), every_write.records("win").size());

  RecordingChangelog unused;
  auto target = this->open("target", &unused, nullptr, 2);
  for (const std::string store : {"kv", "win", "ses"}) {
    const auto& records = coalesced.records(store);
    ASSERT_TRUE(target->restore_batch(store, records, static_cast<int64_t>(records.size())).ok()) << store;
  }
  EXPECT_EQ(entries(target->key_value_store("kv")->all()), entries(plain->key_value_store("kv")->all()));
  EXPECT_EQ(entries(target->window_store("win")->all()), entries(plain->window_store("win")->all()));
  EXPECT_EQ(entries(target->session_store("ses")->all()), entries(plain->session_store("ses")->all()));
  EXPECT_EQ(entries(cached->key_value_store("kv")->all()), entries(plain->key_value_store("kv")->all()));
}

}  // namespace
}  // namespace kstreams::state
