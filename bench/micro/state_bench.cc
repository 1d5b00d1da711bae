// State store micro-benchmarks: put/get throughput of RocksDB and in-memory key-value stores,
// restore_batch throughput with ~200-byte changelog records, and the shared memory budget with
// many tasks and stores open. Run the executable directly for numbers
// (`state_bench --benchmark_filter=Restore`); the ctest smoke run only checks it still works.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kstreams/state/state_manager.h"

namespace kstreams::state {
namespace {

class BenchDir {
 public:
  BenchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("kstreams_state_bench_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class NullChangelog final : public ChangelogWriter {
 public:
  void append(const std::string&, std::string_view, std::optional<std::string_view>, TimestampMs) override {}
};

std::string key_of(int64_t i) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016lld", static_cast<long long>(i));
  return std::string(buf, 16);
}

std::unique_ptr<ProcessorStateManager> open_task(const std::filesystem::path& dir, bool persistent,
                                                 ChangelogWriter* changelog, StoreResources* resources, int stores = 1,
                                                 TaskId task = TaskId{0, 0}) {
  StateManagerOptions options;
  options.task = task;
  options.task_dir = dir / task.to_string();
  options.changelog = changelog;
  options.resources = resources;
  std::vector<StoreSpec> specs;
  for (int s = 0; s < stores; ++s) {
    specs.push_back(StoreSpec{.name = "store" + std::to_string(s), .persistent = persistent});
  }
  auto m = ProcessorStateManager::open(options, specs);
  if (!m.ok()) {
    std::fprintf(stderr, "open failed: %s\n", m.status().ToString().c_str());
    std::abort();
  }
  return std::move(*m);
}

void check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::abort();
  }
}

// Puts of 16-byte keys and 100-byte values, logged, committed every 1000 puts.
void BM_KeyValuePut(benchmark::State& state) {
  const bool persistent = state.range(0) != 0;
  BenchDir dir;
  NullChangelog changelog;
  auto task = open_task(dir.path(), persistent, &changelog, nullptr);
  KeyValueBytesStore* store = task->key_value_store("store0");
  const std::string value(100, 'v');
  int64_t i = 0;
  for (auto _ : state) {
    check(store->put(key_of(i++), value));
    if (i % 1000 == 0) check(task->commit({{"store0", i}}));
  }
  check(task->commit({}));
  state.SetItemsProcessed(state.iterations());
  check(task->close());
}
BENCHMARK(BM_KeyValuePut)->ArgName("persistent")->Arg(0)->Arg(1)->UseRealTime();

// Random gets over 100k committed keys (hits), after the store was flushed to SST files.
void BM_KeyValueGet(benchmark::State& state) {
  const bool persistent = state.range(0) != 0;
  BenchDir dir;
  constexpr int64_t kKeys = 100'000;
  {
    auto task = open_task(dir.path(), persistent, nullptr, nullptr);
    for (int64_t i = 0; i < kKeys; ++i) check(task->key_value_store("store0")->put(key_of(i), std::string(100, 'v')));
    check(task->commit({}));
    if (persistent) check(task->close());
  }
  auto task = open_task(dir.path(), persistent, nullptr, nullptr);
  KeyValueBytesStore* store = task->key_value_store("store0");
  if (!persistent) {  // in-memory starts empty after reopen: fill it again
    for (int64_t i = 0; i < kKeys; ++i) check(store->put(key_of(i), std::string(100, 'v')));
    check(task->commit({}));
  }
  std::mt19937_64 rng(42);
  for (auto _ : state) {
    auto v = store->get(key_of(static_cast<int64_t>(rng() % kKeys)));
    if (!v.ok() || !v->has_value()) std::abort();
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  check(task->close());
}
BENCHMARK(BM_KeyValueGet)->ArgName("persistent")->Arg(0)->Arg(1)->UseRealTime();

// restore_batch of ~200-byte changelog records (16-byte key, 184-byte value), 1000 per batch.
void BM_RestoreBatch(benchmark::State& state) {
  const bool persistent = state.range(0) != 0;
  BenchDir dir;
  auto task = open_task(dir.path(), persistent, nullptr, nullptr);
  constexpr int kBatch = 1000;
  std::vector<RawRecord> batch(kBatch);
  for (auto& r : batch) {
    r.topic = "app-store0-changelog";
    r.value = std::string(184, 'r');
  }
  int64_t offset = 0;
  for (auto _ : state) {
    for (auto& r : batch) {
      r.offset = Offset(offset);
      r.key = key_of(offset++);
    }
    check(task->restore_batch("store0", batch, offset));
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * kBatch * 200);
  check(task->close());
}
BENCHMARK(BM_RestoreBatch)->ArgName("persistent")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// A windowed aggregation's access pattern: fetch the key's window, put it back; 1000 keys, 1-minute
// windows advancing with time, 1 h retention, committed every 1000 records.
void BM_WindowFetchPut(benchmark::State& state) {
  const bool persistent = state.range(0) != 0;
  BenchDir dir;
  StateManagerOptions options;
  options.task_dir = dir.path() / "0_0";
  auto m = ProcessorStateManager::open(options, {StoreSpec{.name = "win",
                                                           .type = StoreType::kWindow,
                                                           .persistent = persistent,
                                                           .retention_ms = 3'600'000,
                                                           .window_size_ms = 60'000}});
  check(m.status());
  WindowBytesStore* store = (*m)->window_store("win");
  const std::string value(64, 'a');
  int64_t i = 0;
  for (auto _ : state) {
    const std::string key = key_of(i % 1000);
    const TimestampMs window = (i * 10 / 60'000) * 60'000;  // 10 ms of event time per record
    auto current = store->fetch(key, window);
    if (!current.ok()) std::abort();
    check(store->put(key, std::string_view(value), window));
    if (++i % 1000 == 0) check((*m)->commit({}));
  }
  state.SetItemsProcessed(state.iterations());
  check((*m)->close());
}
BENCHMARK(BM_WindowFetchPut)->ArgName("persistent")->Arg(0)->Arg(1)->UseRealTime();

// Memory of many open tasks with 4 persistent stores each, 2 MB written per task, all sharing one
// 64 MiB StoreResources. Reports the shared usage (block cache + memtables) after the writes.
void BM_MemoryManyTasks(benchmark::State& state) {
  const int tasks = static_cast<int>(state.range(0));
  for (auto _ : state) {
    BenchDir dir;
    auto resources = StoreResources::create(size_t{64} << 20);
    std::vector<std::unique_ptr<ProcessorStateManager>> open;
    const std::string value(500, 'm');
    for (int t = 0; t < tasks; ++t) {
      open.push_back(open_task(dir.path(), true, nullptr, resources.get(), 4, TaskId{0, t}));
      for (int s = 0; s < 4; ++s) {
        auto* store = open.back()->key_value_store("store" + std::to_string(s));
        for (int i = 0; i < 1000; ++i) check(store->put(key_of(i), value));
      }
      check(open.back()->commit({}));
    }
    state.counters["usage_MiB"] = static_cast<double>(resources->usage_bytes()) / (1 << 20);
    state.counters["budget_MiB"] = static_cast<double>(resources->budget_bytes()) / (1 << 20);
    state.counters["written_MiB"] = tasks * 4.0 * 1000 * 516 / (1 << 20);
    for (auto& t : open) check(t->close());
  }
}
BENCHMARK(BM_MemoryManyTasks)->Arg(8)->Arg(64)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kstreams::state
