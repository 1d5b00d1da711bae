// Read-only views for interactive queries: committed state only, safe from other threads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::ImplementationNames;
using testing::StoreImplementations;
using testing::TempDir;

template <typename Impl>
class ReadOnlyViewTest : public ::testing::Test {
 protected:
  ReadOnlyViewTest() {
    StateManagerOptions options;
    options.task = TaskId{0, 4};
    options.task_dir = dir_.path() / "0_4";
    std::vector<StoreSpec> specs = {StoreSpec{.name = "kv", .persistent = Impl::kPersistent},
                                    StoreSpec{.name = "hidden", .persistent = Impl::kPersistent, .queryable = false},
                                    StoreSpec{.name = "win",
                                              .type = StoreType::kWindow,
                                              .persistent = Impl::kPersistent,
                                              .retention_ms = 1000,
                                              .segment_interval_ms = 100},
                                    StoreSpec{.name = "ses",
                                              .type = StoreType::kSession,
                                              .persistent = Impl::kPersistent,
                                              .retention_ms = 1000,
                                              .segment_interval_ms = 100}};
    auto m = ProcessorStateManager::open(options, specs);
    EXPECT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  TempDir dir_;
  std::unique_ptr<ProcessorStateManager> manager_;
};
TYPED_TEST_SUITE(ReadOnlyViewTest, StoreImplementations, ImplementationNames);

TYPED_TEST(ReadOnlyViewTest, ViewsSeeOnlyCommittedWrites) {
  auto& m = *this->manager_;
  ReadOnlyKeyValueStore* kv = m.read_only_key_value_store("kv");
  ReadOnlyWindowStore* win = m.read_only_window_store("win");
  ReadOnlySessionStore* ses = m.read_only_session_store("ses");
  ASSERT_NE(kv, nullptr);
  ASSERT_NE(win, nullptr);
  ASSERT_NE(ses, nullptr);
  ASSERT_TRUE(m.key_value_store("kv")->put("k", "v").ok());
  ASSERT_TRUE(m.window_store("win")->put("w", std::string_view("x"), 50).ok());
  ASSERT_TRUE(m.session_store("ses")->put("s", 10, 20, "y").ok());
  EXPECT_EQ(*kv->get("k"), std::nullopt);
  EXPECT_EQ(*win->fetch("w", 50), std::nullopt);
  EXPECT_FALSE(ses->fetch("s")->valid());
  ASSERT_TRUE(m.commit({}).ok());
  EXPECT_EQ(*kv->get("k"), "v");
  EXPECT_EQ(*win->fetch("w", 50), "x");
  auto windows = win->fetch_all(0, 100);
  ASSERT_TRUE(windows->valid());
  EXPECT_EQ(windows->entry().key, "w");
  auto sessions = ses->find_sessions("s", 15, 15);
  ASSERT_TRUE(sessions->valid());
  EXPECT_EQ(sessions->entry().value, "y");
  EXPECT_EQ(*ses->fetch_session("s", 10, 20), "y");
  auto range = kv->range("a", "z");
  ASSERT_TRUE(range->valid());
  EXPECT_EQ(range->key(), "k");
}

TYPED_TEST(ReadOnlyViewTest, WindowViewAppliesCommittedRetention) {
  auto& m = *this->manager_;
  ASSERT_TRUE(m.window_store("win")->put("w", std::string_view("old"), 0).ok());
  ASSERT_TRUE(m.window_store("win")->put("w", std::string_view("new"), 1500).ok());
  ASSERT_TRUE(m.commit({}).ok());
  ReadOnlyWindowStore* win = m.read_only_window_store("win");
  EXPECT_EQ(*win->fetch("w", 0), std::nullopt);
  auto it = win->fetch("w", 0, 2000);
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->entry().value, "new");
  it->next();
  EXPECT_FALSE(it->valid());
}

TYPED_TEST(ReadOnlyViewTest, StoresThatAreNotQueryableOrOfAnotherKindHaveNoView) {
  EXPECT_EQ(this->manager_->read_only_key_value_store("hidden"), nullptr);
  EXPECT_EQ(this->manager_->read_only_window_store("kv"), nullptr);
  EXPECT_EQ(this->manager_->read_only_key_value_store("missing"), nullptr);
}

TYPED_TEST(ReadOnlyViewTest, ConcurrentQueriesSeeEachCommitWhole) {
  auto& m = *this->manager_;
  ReadOnlyKeyValueStore* view = m.read_only_key_value_store("kv");
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> scans{0};
  std::thread reader([&] {
    while (!done.load()) {
      std::string first;
      int n = 0;
      for (auto it = view->all(); it->valid(); it->next(), ++n) {
        if (n == 0) first = std::string(it->value());
        if (it->value() != first) torn.fetch_add(1);
      }
      if (n != 0 && n != 10) torn.fetch_add(1);
      (void)view->get("k5");
      scans.fetch_add(1);
    }
  });
  for (int gen = 0; gen < 200; ++gen) {
    for (int k = 0; k < 10; ++k) {
      ASSERT_TRUE(m.key_value_store("kv")->put("k" + std::to_string(k), "gen" + std::to_string(gen)).ok());
    }
    ASSERT_TRUE(m.commit({}).ok());
  }
  while (scans.load() < 5) std::this_thread::yield();
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(*view->get("k9"), "gen199");
}

}  // namespace
}  // namespace kstreams::state
