// TopologyTestDriver: runs a Topology without a broker, through the same StreamTask code the Kafka
// runtime uses, over in-memory topics.
//
//   kstreams::TopologyTestDriver driver(topology, {{"application.id", "orders-app"}});
//   auto in = driver.create_input_topic<std::string, Order>("orders");
//   auto out = driver.create_output_topic<std::string, int64_t>("order-counts");
//   in.pipe_input("c1", order, /*timestamp=*/1000);
//   EXPECT_EQ(out.read_key_value(), (kstreams::KeyValue<std::string, int64_t>{"c1", 1}));
//
// Model: one StreamTask per (subtopology, partition); topics have `topic.partitions.<name>`
// partitions (default `default.topic.partitions`, 1); records piped without a partition and all
// sink/repartition records are partitioned by murmur2 of the key bytes (null key: partition 0).
// Repartition topics get the partition count the runtime would give them (Topology::resolve_partitions).
// Each pipe runs to quiescence: records flow through every subtopology (repartition topics
// included), then stream-time punctuators run, then a commit happens every `commit.every.records`
// piped records (default 1; the EOS commit = prepare_commit (nodes flush, then the changelog cache
// sends the last write of each store key) + seal + state commit with the changelog end offsets).
// Records written to output topics are visible at once; abort() and crash_and_restart() remove the
// ones written since the last commit, as a read_committed consumer would never have seen them.
// Wall-clock punctuators fire from advance_wall_clock_time() only.
//
// Config: application.id (default "test-app"), default.deserialization.exception.handler and
// processing.exception.handler (dead-letter | continue | fail; default dead-letter),
// errors.deadletterqueue.topic.name (default <application.id>-dead-letters), commit.every.records,
// statestore.cache.max.bytes (changelog cache of the driver, default 10485760; 0 sends every
// write), default.topic.partitions, topic.partitions.<topic>, state.dir (where the driver makes its
// temporary state directory; default $TMPDIR, else /tmp).
// Under `fail`, the first error is kept in status() and later pipes are ignored.
//
// The driver keeps its own copy of the topology.
// State: stores live under a fresh temporary directory (under state.dir) removed by the destructor.
// Thread-safety: none; use from one thread. The driver must outlive its test topics.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kstreams/common/metrics.h"
#include "kstreams/common/record.h"
#include "kstreams/common/serde.h"
#include "kstreams/topology/topology.h"
#include "kstreams/topology/typed_stores.h"

namespace kstreams {

template <typename K, typename V>
struct TestRecord {
  K key{};
  std::optional<V> value;  // nullopt: a Kafka null value (tombstone)
  TimestampMs timestamp = 0;
  Headers headers;
  int32_t partition = 0;
};

class TopologyTestDriver;

template <typename K, typename V>
class TestInputTopic {
 public:
  TestInputTopic(TopologyTestDriver* driver, std::string topic, SerdePtr<K> ks, SerdePtr<V> vs)
      : driver_(driver), topic_(std::move(topic)), ks_(std::move(ks)), vs_(std::move(vs)) {}
  // partition -1: by key (murmur2).
  void pipe_input(const K& key, const V& value, TimestampMs timestamp, const Headers& headers = {},
                  int32_t partition = -1);
  void pipe_tombstone(const K& key, TimestampMs timestamp, int32_t partition = -1);
  [[nodiscard]] const std::string& name() const { return topic_; }

 private:
  TopologyTestDriver* driver_;
  std::string topic_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
};

// Reads a topic from the beginning; each record is returned once per driver (reads consume).
template <typename K, typename V>
class TestOutputTopic {
 public:
  TestOutputTopic(TopologyTestDriver* driver, std::string topic, SerdePtr<K> ks, SerdePtr<V> vs)
      : driver_(driver), topic_(std::move(topic)), ks_(std::move(ks)), vs_(std::move(vs)) {}
  // nullopt when nothing is left. KSTREAMS_CHECK: the bytes must decode.
  std::optional<TestRecord<K, V>> read_record();
  std::vector<TestRecord<K, V>> read_records_to_list();
  // The remaining records as (key, value) pairs; a null value is V{}.
  std::vector<std::pair<K, V>> read_key_values();
  std::vector<V> read_values();
  [[nodiscard]] bool is_empty() const;
  [[nodiscard]] size_t queue_size() const;

 private:
  TopologyTestDriver* driver_;
  std::string topic_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
};

class TopologyTestDriver {
 public:
  TopologyTestDriver(const Topology& topology, std::map<std::string, std::string> config = {},
                     TimestampMs start_wall_clock_ms = 0);
  ~TopologyTestDriver();
  TopologyTestDriver(const TopologyTestDriver&) = delete;
  TopologyTestDriver& operator=(const TopologyTestDriver&) = delete;

  template <typename K, typename V>
  TestInputTopic<K, V> create_input_topic(const std::string& topic, SerdePtr<K> ks = default_serde<K>(),
                                          SerdePtr<V> vs = default_serde<V>()) {
    return TestInputTopic<K, V>(this, topic, std::move(ks), std::move(vs));
  }
  template <typename K, typename V>
  TestOutputTopic<K, V> create_output_topic(const std::string& topic, SerdePtr<K> ks = default_serde<K>(),
                                            SerdePtr<V> vs = default_serde<V>()) {
    return TestOutputTopic<K, V>(this, topic, std::move(ks), std::move(vs));
  }

  // Pipes one record as bytes (for malformed input). record.partition < 0 or the default 0 with
  // `by_key`: partition by key.
  void pipe_raw(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
                TimestampMs timestamp, const Headers& headers = {}, int32_t partition = -1);
  // Every record of `topic` (full name), all partitions, in the order they were written.
  [[nodiscard]] std::vector<RawRecord> read_raw(const std::string& topic) const;
  // The records not yet read through read_next_raw() (used by TestOutputTopic).
  std::optional<RawRecord> read_next_raw(const std::string& topic);
  [[nodiscard]] size_t unread(const std::string& topic) const;
  [[nodiscard]] std::vector<std::string> topic_names() const;
  [[nodiscard]] int32_t partitions(const std::string& topic) const;

  // Advances the wall clock, runs due wall-clock punctuators and what they produce, and commits.
  void advance_wall_clock_time(std::chrono::milliseconds d);
  // Commits now (also at destruction). A commit is one transaction over every task: the tasks seal
  // their store writes, their input positions are committed with their progress (stream time,
  // punctuation schedules, window emit progress) and the stores apply the sealed writes.
  void commit();
  // Aborts the open transaction, as the runtime does on an abortable error: the records the tasks
  // wrote since the last commit disappear from every topic (a read_committed reader never sees
  // them), the tasks drop their uncommitted store writes and progress and process their inputs
  // again from the committed positions, at once. Records piped since the last commit stay.
  void abort();
  // A crash and a restart (a SIGKILL): the open transaction is dropped as by abort(), every task is
  // closed dirty and reopened from its state directory, restoring from its changelogs what its
  // stores lack and taking its committed progress; then it reprocesses from its committed positions.
  void crash_and_restart();

  // Stores. A key-value store of `partition`'s task; for_key() picks the partition of a key.
  [[nodiscard]] state::StateStore* raw_store(const std::string& store, int32_t partition = 0);
  template <typename K, typename V>
  KeyValueStore<K, V> key_value_store(const std::string& store, const K& key_for_partition,
                                      SerdePtr<K> ks = default_serde<K>(), SerdePtr<V> vs = default_serde<V>()) {
    std::string kb;
    ks->serialize(key_for_partition, &kb);
    auto* s = dynamic_cast<state::KeyValueBytesStore*>(raw_store(store, partition_of(store, kb)));
    KSTREAMS_CHECK(s != nullptr, "no key-value store of that name");
    return KeyValueStore<K, V>(s, std::move(ks), std::move(vs));
  }
  // The value of `key` in key-value store `store` (in the partition the key maps to).
  template <typename K, typename V>
  std::optional<V> get(const std::string& store, const K& key, SerdePtr<K> ks = default_serde<K>(),
                       SerdePtr<V> vs = default_serde<V>()) {
    auto r = key_value_store<K, V>(store, key, ks, vs).get(key);
    KSTREAMS_CHECK(r.ok(), "store read failed");
    return *r;
  }
  // Pre-fills (or changes) a key-value store; the write is committed at once.
  template <typename K, typename V>
  void put(const std::string& store, const K& key, const V& value, SerdePtr<K> ks = default_serde<K>(),
           SerdePtr<V> vs = default_serde<V>()) {
    auto kv = key_value_store<K, V>(store, key, ks, vs);
    KSTREAMS_CHECK(kv.put(key, value).ok(), "store write failed");
    commit();
  }
  // The value of window [start, ..) of `key` in window store `store`.
  template <typename K, typename V>
  std::optional<V> fetch_window(const std::string& store, const K& key, TimestampMs start,
                                SerdePtr<K> ks = default_serde<K>(), SerdePtr<V> vs = default_serde<V>()) {
    std::string kb;
    ks->serialize(key, &kb);
    auto* s = dynamic_cast<state::WindowBytesStore*>(raw_store(store, partition_of(store, kb)));
    KSTREAMS_CHECK(s != nullptr, "no window store of that name");
    auto r = WindowStore<K, V>(s, ks, vs).fetch(key, start);
    KSTREAMS_CHECK(r.ok(), "store read failed");
    return *r;
  }

  // Records written to `<application.id>-<store>-changelog`.
  [[nodiscard]] std::vector<RawRecord> changelog(const std::string& store) const;
  // Records of the dead-letter topic.
  [[nodiscard]] std::vector<RawRecord> dead_letters() const;
  // Sum of every series of metric `name` whose labels include `labels` (histograms: their count).
  [[nodiscard]] double metric(const std::string& name, const Labels& labels = {}) const;
  [[nodiscard]] const std::string& application_id() const;
  // Non-ok after a record failed under the `fail` policy.
  [[nodiscard]] absl::Status status() const;

 private:
  [[nodiscard]] int32_t partition_of(const std::string& store, const std::string& key_bytes) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

template <typename K, typename V>
void TestInputTopic<K, V>::pipe_input(const K& key, const V& value, TimestampMs timestamp, const Headers& headers,
                                      int32_t partition) {
  driver_->pipe_raw(topic_, ks_->to_bytes(key), vs_->to_bytes(value), timestamp, headers, partition);
}

template <typename K, typename V>
void TestInputTopic<K, V>::pipe_tombstone(const K& key, TimestampMs timestamp, int32_t partition) {
  driver_->pipe_raw(topic_, ks_->to_bytes(key), std::nullopt, timestamp, {}, partition);
}

template <typename K, typename V>
std::optional<TestRecord<K, V>> TestOutputTopic<K, V>::read_record() {
  auto raw = driver_->read_next_raw(topic_);
  if (!raw) return std::nullopt;
  TestRecord<K, V> out;
  if (raw->key) KSTREAMS_CHECK(ks_->deserialize(*raw->key, &out.key).ok(), "output key does not decode");
  if (raw->value) {
    V v{};
    KSTREAMS_CHECK(vs_->deserialize(*raw->value, &v).ok(), "output value does not decode");
    out.value = std::move(v);
  }
  out.timestamp = raw->timestamp;
  out.headers = raw->headers;
  out.partition = raw->partition.value();
  return out;
}

template <typename K, typename V>
std::vector<TestRecord<K, V>> TestOutputTopic<K, V>::read_records_to_list() {
  std::vector<TestRecord<K, V>> out;
  while (auto r = read_record()) out.push_back(std::move(*r));
  return out;
}

template <typename K, typename V>
std::vector<std::pair<K, V>> TestOutputTopic<K, V>::read_key_values() {
  std::vector<std::pair<K, V>> out;
  while (auto r = read_record()) out.emplace_back(std::move(r->key), r->value ? std::move(*r->value) : V{});
  return out;
}

template <typename K, typename V>
std::vector<V> TestOutputTopic<K, V>::read_values() {
  std::vector<V> out;
  while (auto r = read_record()) out.push_back(r->value ? std::move(*r->value) : V{});
  return out;
}

template <typename K, typename V>
bool TestOutputTopic<K, V>::is_empty() const {
  return driver_->unread(topic_) == 0;
}

template <typename K, typename V>
size_t TestOutputTopic<K, V>::queue_size() const {
  return driver_->unread(topic_);
}

}  // namespace kstreams
