#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

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

// RocksDB's background threads of this process (named "rocksdb:<pool><n>"): nice value and
// scheduling policy, from /proc/self/task/<tid>/stat (fields 19 and 41).
struct ThreadPriority {
  std::string name;
  int nice;
  int policy;
};
std::vector<ThreadPriority> rocksdb_threads() {
  std::vector<ThreadPriority> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("rocksdb:", 0) != 0) continue;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
    // f[0] is field 3 (state): field N is f[N - 3].
    out.push_back({name, std::stoi(f.at(19 - 3)), std::stoi(f.at(41 - 3))});
  }
  return out;
}

// Flushes (flush interval 0: every commit flushes and waits) run on the background threads, which
// take their priority with their first job.
void flush_once(StoreResources* resources, const std::filesystem::path& dir) {
  StateManagerOptions options;
  options.task_dir = dir / "0_0";
  options.resources = resources;
  auto m = ProcessorStateManager::open(options, {StoreSpec{.name = "s"}});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*m)->key_value_store("s")->put("k", "v").ok());
  ASSERT_TRUE((*m)->commit({}).ok());
  ASSERT_TRUE((*m)->close().ok());
}

// (Each test runs in a process of its own under ctest: the priority is process-wide.)
TEST(StoreResourcesTest, BackgroundThreadsRunAtLowPriorityByDefault) {
  TempDir dir;
  auto resources = StoreResources::create(size_t{16} << 20, std::chrono::milliseconds(0));
  flush_once(resources.get(), dir.path());
  const auto threads = rocksdb_threads();
  ASSERT_FALSE(threads.empty()) << "no rocksdb:* thread in /proc/self/task";
  bool flushed_at_low = false;
  for (const auto& t : threads)
    flushed_at_low = flushed_at_low || (t.name.find("high") != std::string::npos && t.nice == 19);
  EXPECT_TRUE(flushed_at_low) << "the flush thread is not at nice 19";
}

TEST(StoreResourcesTest, IdleBackgroundThreadsUseSchedIdle) {
  TempDir dir;
  auto resources = StoreResources::create(size_t{16} << 20, std::chrono::milliseconds(0), BackgroundCpuPriority::kIdle);
  flush_once(resources.get(), dir.path());
  bool idle = false;
  for (const auto& t : rocksdb_threads())
    idle = idle || (t.name.find("high") != std::string::npos && t.policy == SCHED_IDLE);
  EXPECT_TRUE(idle) << "the flush thread is not SCHED_IDLE";
}

}  // namespace
}  // namespace kstreams::state
