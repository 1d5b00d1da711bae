// Restoration on a real broker, in process: the RestoreListener callbacks and the restore metrics
// for changelogs filled directly (restoration copies bytes; it does not decode them).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kstreams/kstreams.h"
#include "kstreams/runtime/clients.h"
#include "support/broker_env.h"

namespace kstreams {
namespace {

using namespace std::chrono_literals;
using testing::client_props;
using testing::create_topic;
using testing::unique_name;

struct Recorder final : runtime::RestoreListener {
  struct Progress {
    int64_t start = -1, end = -1, batches = 0, batch_sum = 0, last_batch_end = -1, total = -1;
    bool monotonic = true;
  };
  std::mutex mu;
  std::map<std::pair<std::string, int32_t>, Progress> by_partition;
  std::vector<std::string> stores;

  void on_restore_start(const std::string& topic, int32_t partition, const std::string& store, int64_t start_offset,
                        int64_t end_offset) override {
    std::lock_guard lock(mu);
    auto& p = by_partition[{topic, partition}];
    p.start = start_offset;
    p.end = end_offset;
    stores.push_back(store);
  }
  void on_batch_restored(const std::string& topic, int32_t partition, const std::string&, int64_t batch_end_offset,
                         int64_t num_restored) override {
    std::lock_guard lock(mu);
    auto& p = by_partition[{topic, partition}];
    p.monotonic = p.monotonic && batch_end_offset > p.last_batch_end && num_restored > 0;
    p.last_batch_end = batch_end_offset;
    ++p.batches;
    p.batch_sum += num_restored;
  }
  void on_restore_end(const std::string& topic, int32_t partition, const std::string&, int64_t total) override {
    std::lock_guard lock(mu);
    by_partition[{topic, partition}].total = total;
  }
};

TEST(RestoreListenerTest, ReportsStartBatchesAndEndOfEveryChangelogPartitionAndTheMetricsAgree) {
  constexpr int kPartitions = 3;
  constexpr int kPerPartition = 5000;
  const std::string app = unique_name("restore-listener");
  const std::string input = app + "-in";
  const std::string changelog = app + "-counts-changelog";
  create_topic(input, kPartitions);
  create_topic(changelog, kPartitions, {{"cleanup.policy", "compact"}});
  {
    auto producer = runtime::ProducerClient::create(client_props({{"enable.idempotence", "true"}}));
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int p = 0; p < kPartitions; ++p) {
      for (int i = 0; i < kPerPartition; ++i) {
        RawRecord r;
        r.topic = changelog;
        r.partition = Partition(p);
        r.key = "k-" + std::to_string(p) + "-" + std::to_string(i % 500);
        r.value = std::string(8, '\0');
        absl::Status st;
        while ((st = (*producer)->send(r)).code() == absl::StatusCode::kUnavailable) (*producer)->poll(5ms);
        ASSERT_TRUE(st.ok()) << st;
      }
    }
    ASSERT_TRUE((*producer)->flush(30s).ok());
  }
  StreamsBuilder builder;
  builder.stream<std::string, std::string>(input).group_by_key().count(Materialized::as("counts"));
  Topology topology = builder.build();
  const auto dir = std::filesystem::temp_directory_path() / app;
  auto config = runtime::StreamsConfig::from_map({{"application.id", app},
                                                  {"bootstrap.servers", testing::bootstrap()},
                                                  {"state.dir", dir.string()},
                                                  {"restore.batch.records", "1000"},
                                                  {"processing.guarantee", "exactly_once_v2"}});
  ASSERT_TRUE(config.ok()) << config.status();
  auto recorder = std::make_shared<Recorder>();
  runtime::KafkaStreams streams(topology, *config);
  streams.set_restore_listener(recorder);
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_for_state(runtime::KafkaStreams::State::kRunning, 120s)) << streams.error();
  {
    std::lock_guard lock(recorder->mu);
    ASSERT_EQ(recorder->by_partition.size(), static_cast<size_t>(kPartitions));
    for (int p = 0; p < kPartitions; ++p) {
      const auto& pr = recorder->by_partition.at({changelog, p});
      EXPECT_EQ(pr.start, 0) << p;
      EXPECT_EQ(pr.end, kPerPartition) << p;
      EXPECT_GE(pr.batches, kPerPartition / 1000) << p;  // restore.batch.records bounds a batch
      EXPECT_EQ(pr.batch_sum, kPerPartition) << p;
      EXPECT_EQ(pr.last_batch_end, kPerPartition - 1) << p;
      EXPECT_TRUE(pr.monotonic) << p;
      EXPECT_EQ(pr.total, kPerPartition) << p;
    }
    EXPECT_TRUE(std::all_of(recorder->stores.begin(), recorder->stores.end(),
                            [](const std::string& s) { return s == "counts"; }));
  }
  // The one stream thread's restore series (registering returns the existing handles).
  const Labels thread{{"thread", app + "-StreamThread-1"}};
  EXPECT_EQ(streams.metrics().counter("kstreams_restore_records_total", "", thread).value(),
            kPartitions * kPerPartition);
  EXPECT_EQ(streams.metrics().gauge("kstreams_restore_remaining_records", "", thread).value(), 0);
  EXPECT_TRUE(streams.close(60s));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kstreams
