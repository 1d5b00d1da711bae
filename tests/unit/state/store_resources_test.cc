#include <gtest/gtest.h>

#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::TempDir;

TEST(StoreResourcesTest, ManyTasksWithManyStoresStayWithinTheSharedBudget) {
  TempDir dir;
  constexpr size_t kBudget = size_t{16} << 20;
  auto resources = StoreResources::create(kBudget);
  EXPECT_EQ(resources->budget_bytes(), kBudget);
  std::vector<std::unique_ptr<ProcessorStateManager>> tasks;
  const std::string value(1000, 'v');
  for (int t = 0; t < 8; ++t) {
    StateManagerOptions options;
    options.task = TaskId{0, t};
    options.task_dir = dir.path() / options.task.to_string();
    options.resources = resources.get();
    std::vector<StoreSpec> specs;
    for (int s = 0; s < 4; ++s) specs.push_back(StoreSpec{.name = "store" + std::to_string(s)});
    auto m = ProcessorStateManager::open(options, specs);
    ASSERT_TRUE(m.ok()) << m.status();
    for (int s = 0; s < 4; ++s) {
      auto* store = (*m)->key_value_store("store" + std::to_string(s));
      for (int i = 0; i < 2000; ++i) ASSERT_TRUE(store->put("key" + std::to_string(i), value).ok());
    }
    ASSERT_TRUE((*m)->commit({}).ok());
    tasks.push_back(std::move(*m));
  }
  // 8 tasks x 4 stores x 2000 x ~1 KB = 64 MB written through 16 MB of memtables and cache.
  EXPECT_GT(resources->usage_bytes(), 0u);
  EXPECT_LE(resources->usage_bytes(), kBudget + kBudget / 8);  // LRU cache overshoot is bounded
  for (auto& task : tasks) {
    auto v = task->key_value_store("store3")->get("key1999");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, value);
    ASSERT_TRUE(task->close().ok());
  }
}

TEST(StoreResourcesTest, ForeignResourcesImplementationIsRejected) {
  class Fake final : public StoreResources {
   public:
    [[nodiscard]] size_t budget_bytes() const override { return 0; }
    [[nodiscard]] size_t usage_bytes() const override { return 0; }
  } fake;
  TempDir dir;
  StateManagerOptions options;
  options.task_dir = dir.path() / "0_0";
  options.resources = &fake;
  auto m = ProcessorStateManager::open(options, {StoreSpec{.name = "s"}});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kstreams::state
