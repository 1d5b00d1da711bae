// The wiring against a real broker: idempotent production, group consumption with read_committed
// and committed offsets, and transactions (aborted data invisible, committed data visible).
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "kstreams/common/partitioner.h"
#include "kstreams/runtime/clients.h"
#include "kstreams/runtime/recording.h"
#include "support/broker_env.h"

namespace kstreams {
namespace {

using namespace std::chrono_literals;
using runtime::ConsumerClient;
using runtime::ProducerClient;
using testing::client_props;
using testing::create_topic;
using testing::unique_name;

RawRecord make_record(const std::string& topic, const std::string& key, const std::string& value) {
  RawRecord r;
  r.topic = topic;
  r.partition = Partition(-1);
  r.key = key;
  r.value = value;
  r.timestamp =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return r;
}

void send_all(ProducerClient& producer, const std::vector<RawRecord>& records) {
  for (const auto& r : records) {
    absl::Status st;
    while ((st = producer.send(r)).code() == absl::StatusCode::kUnavailable) producer.poll(10ms);
    ASSERT_TRUE(st.ok()) << st;
  }
}

TEST(BrokerWiringTest, IdempotentProducerRecordsAreReadBackInOrderByAGroupWithCommittedOffsets) {
  const std::string topic = unique_name("wiring");
  const std::string group = unique_name("wiring-group");
  create_topic(topic, 4);
  constexpr int kRecords = 10000;

  auto producer = ProducerClient::create(client_props({{"enable.idempotence", "true"}, {"linger.ms", "5"}}));
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::vector<RawRecord> records;
  for (int i = 0; i < kRecords; ++i) {
    records.push_back(make_record(topic, "key-" + std::to_string(i % 97), std::to_string(i)));
  }
  send_all(**producer, records);
  ASSERT_TRUE((*producer)->flush(30s).ok());
  ASSERT_EQ((*producer)->delivered_count(), kRecords) << (*producer)->first_delivery_error();

  auto consumer = ConsumerClient::create(
      client_props({{"group.id", group}, {"isolation.level", "read_committed"}, {"session.timeout.ms", "6000"}}));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->subscribe({topic}).ok());

  std::map<int32_t, std::vector<int>> by_partition;
  std::map<std::string, int32_t> partition_of_key;
  int received = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (received < kRecords && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*consumer)->poll(500ms, 1000);
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const auto& r : *batch) {
      by_partition[r.partition.value()].push_back(std::stoi(*r.value));
      // The murmur2 partitioner is Java-compatible: the broker-side partition is the one we compute.
      EXPECT_EQ(r.partition.value(), partition_for_key(*r.key, 4)) << *r.key;
      ++received;
    }
  }
  ASSERT_EQ(received, kRecords);
  ASSERT_TRUE((*consumer)->commit().ok());

  std::set<int> all;
  for (const auto& [partition, values] : by_partition) {
    // Per-partition order is production order.
    EXPECT_TRUE(std::is_sorted(values.begin(), values.end())) << "partition " << partition;
    all.insert(values.begin(), values.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kRecords));

  std::vector<runtime::TopicPartitionOffset> parts;
  for (int32_t p = 0; p < 4; ++p) parts.push_back({topic, p, -1});
  auto committed = (*consumer)->committed(parts, 10s);
  ASSERT_TRUE(committed.ok()) << committed.status();
  int64_t committed_total = 0;
  for (const auto& c : *committed) committed_total += c.offset;
  EXPECT_EQ(committed_total, kRecords);
  (*consumer)->close();

  // A new member of the same group starts from the committed offsets: nothing left to read.
  auto again = ConsumerClient::create(client_props({{"group.id", group}, {"session.timeout.ms", "6000"}}));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->subscribe({topic}).ok());
  auto rest = (*again)->poll(5s, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(rest->empty());
  (*again)->close();
}

TEST(BrokerWiringTest, AbortedTransactionIsInvisibleToReadCommittedWhileCommittedOneIsSeen) {
  const std::string topic = unique_name("txn");
  create_topic(topic, 2);
  auto producer = ProducerClient::create(client_props({{"transactional.id", unique_name("txn-producer")}}));
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->init_transactions(30s).ok());

  ASSERT_TRUE((*producer)->begin_transaction().ok());
  std::vector<RawRecord> aborted;
  for (int i = 0; i < 50; ++i) aborted.push_back(make_record(topic, "k" + std::to_string(i), "aborted"));
  send_all(**producer, aborted);
  ASSERT_TRUE((*producer)->flush(30s).ok());  // flush before aborting (librdkafka test advice)
  ASSERT_TRUE((*producer)->abort_transaction(30s).ok());

  ASSERT_TRUE((*producer)->begin_transaction().ok());
  std::vector<RawRecord> committed;
  for (int i = 0; i < 70; ++i) committed.push_back(make_record(topic, "k" + std::to_string(i), "committed"));
  send_all(**producer, committed);
  ASSERT_TRUE((*producer)->commit_transaction(30s).ok());

  auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {topic}, 60s);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 70u);
  for (const auto& r : *read) EXPECT_EQ(*r.value, "committed");

  // read_uncommitted sees both batches: the aborted data really reached the log.
  auto dirty = runtime::read_all(client_props({{"isolation.level", "read_uncommitted"}}), {topic}, 60s);
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  EXPECT_EQ(dirty->size(), 120u);
}

TEST(BrokerWiringTest, RecordCommandWritesEveryCommittedRecordOfATopicAsJsonLines) {
  const std::string topic = unique_name("recorded");
  create_topic(topic, 2);
  auto producer = ProducerClient::create(client_props({{"enable.idempotence", "true"}}));
  ASSERT_TRUE(producer.ok());
  std::vector<RawRecord> records;
  for (int i = 0; i < 25; ++i) records.push_back(make_record(topic, "k" + std::to_string(i), "v" + std::to_string(i)));
  records[3].headers.add("h", "x");
  send_all(**producer, records);
  ASSERT_TRUE((*producer)->flush(30s).ok());
  const std::string out = ::testing::TempDir() + "/" + topic + ".jsonl";
  const std::string cmd = std::string(KSTREAMS_RECORD_TOOL) + " --bootstrap " + testing::bootstrap() + " --topic " +
                          topic + " --out " + out + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto recording = recording::read_recording(out);
  ASSERT_TRUE(recording.ok()) << recording.status();
  ASSERT_EQ(recording->size(), 25u);
  std::set<std::string> keys;
  bool header_kept = false;
  for (const auto& r : *recording) {
    keys.insert(*r.key);
    EXPECT_EQ(r.topic, topic);
    header_kept = header_kept || r.headers.last("h") == std::optional<std::string_view>("x");
  }
  EXPECT_EQ(keys.size(), 25u);
  EXPECT_TRUE(header_kept);
  EXPECT_NE(std::system((std::string(KSTREAMS_RECORD_TOOL) + " --topic x > /dev/null 2>&1").c_str()), 0);  // no --out
}

TEST(BrokerWiringTest, UnreachableBrokerGivesATimeoutNotAHang) {
  auto admin = runtime::AdminClient::create({{"bootstrap.servers", "127.0.0.1:1"}});
  ASSERT_TRUE(admin.ok());
  auto counts = (*admin)->partition_counts({"anything"}, 2s);
  EXPECT_FALSE(counts.ok());
}

TEST(BrokerWiringTest, WarmUpAgainstAnUnreachableBrokerReturnsTheMetadataError) {
  // ecommerce_loadgen and bench_produce stop with this error instead of timing a cold client.
  auto producer = ProducerClient::create({{"bootstrap.servers", "127.0.0.1:1"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const auto started = std::chrono::steady_clock::now();
  absl::Status st = (*producer)->warm_up({"orders", "restocks"}, 500ms);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("orders"), std::string::npos) << st;  // names the first topic that failed
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);        // bounded per topic, not a hang
}

TEST(BrokerWiringTest, UnknownClientPropertyIsAClearConfigurationError) {
  auto producer = ProducerClient::create({{"bootstrap.servers", "127.0.0.1:1"}, {"no.such.property", "1"}});
  ASSERT_FALSE(producer.ok());
  EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(producer.status().message().find("no.such.property"), std::string::npos);
}

}  // namespace
}  // namespace kstreams
