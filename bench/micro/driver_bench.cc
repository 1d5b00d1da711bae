// TopologyTestDriver throughput: records piped per second through the same StreamTask code the
// Kafka runtime uses (in-memory topics and stores; commits every 1000 records).
#include <benchmark/benchmark.h>

#include <string>

#include "kstreams/kstreams.h"

namespace {

using std::chrono::milliseconds;

std::vector<std::string> make_keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back("customer-" + std::to_string(i));
  return keys;
}

void BM_FilterMapCount(benchmark::State& state) {
  kstreams::StreamsBuilder b;
  b.stream<std::string, int64_t>("in")
      .filter([](int64_t v) { return v % 10 != 0; })
      .map_values([](int64_t v) { return v * 2; })
      .group_by_key()
      .count(kstreams::Materialized::as("counts").in_memory())
      .to_stream()
      .to("out");
  kstreams::TopologyTestDriver driver(b.build(), {{"commit.every.records", "1000"}});
  auto keys = make_keys(1000);
  auto serde = kstreams::serdes::Int64();
  std::string value;
  int64_t i = 0;
  for (auto _ : state) {
    serde->serialize(i, &value);
    driver.pipe_raw("in", keys[i % keys.size()], value, i);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FilterMapCount);

void BM_HoppingWindowAggregation(benchmark::State& state) {
  kstreams::StreamsBuilder b;
  b.stream<std::string, int64_t>("in")
      .group_by_key()
      .windowed_by(kstreams::TimeWindows::of_size_and_grace(milliseconds(60000), milliseconds(1000))
                       .advance_by(milliseconds(10000)))
      .aggregate([] { return int64_t{0}; }, [](const std::string&, int64_t v, int64_t agg) { return agg + v; },
                 kstreams::Materialized::as("sums").in_memory())
      .to_stream()
      .to("out");
  kstreams::TopologyTestDriver driver(b.build(), {{"commit.every.records", "1000"}});
  auto keys = make_keys(1000);
  auto serde = kstreams::serdes::Int64();
  std::string value;
  int64_t i = 0;
  for (auto _ : state) {
    serde->serialize(i, &value);
    driver.pipe_raw("in", keys[i % keys.size()], value, i * 10);  // 100 records/s of event time
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HoppingWindowAggregation);

}  // namespace
