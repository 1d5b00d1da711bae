// The stream thread's producer: one per thread, transactional under exactly_once_v2, idempotent
// under at_least_once. Sends task output, changelog and dead-letter records, tracks the offsets
// of delivered changelog records (the positions transactional stores commit with), and runs the
// producer half of the commit protocol.
//
// Thread-safety: owned by one stream thread; delivery callbacks run inside poll()/flush() on that
// same thread, so no locking is needed.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kstreams/common/metrics.h"
#include "kstreams/common/record.h"
#include "kstreams/runtime/streams_config.h"
#include "rdkafka_util.h"

namespace kstreams::runtime {

using TopicPartitionKey = std::pair<std::string, int32_t>;

// A consumed position to commit: the next offset to read and the metadata committed with it (the
// task's progress, task_progress.h; at most kMaxCommitMetadataBytes).
struct OffsetAndMetadata {
  int64_t offset = -1;
  std::string metadata;
};
using CommitOffsets = std::map<TopicPartitionKey, OffsetAndMetadata>;

// Fills `list`'s entry with `offset`'s offset and a copy of its metadata (the list owns and frees it).
void set_commit_offset(rd_kafka_topic_partition_t* entry, const OffsetAndMetadata& offset);

class KafkaProducer {
 public:
  // `transactional_id` empty: a plain idempotent producer.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaProducer>> create(const StreamsConfig& config,
                                                                             const std::string& transactional_id,
                                                                             const std::string& client_id);
  ~KafkaProducer();

  [[nodiscard]] bool transactional() const { return transactional_; }
  // A deadline (steady_clock nanoseconds since its epoch; INT64_MAX: none) that every blocking call
  // of this producer honours from then on, its own timeout notwithstanding: a shutdown with the
  // broker gone ends in bounded time. The atomic must outlive the producer; it may change at any
  // time from any thread (calls already waiting notice it within a second).
  void set_deadline(const std::atomic<int64_t>* deadline_ns) { deadline_ns_ = deadline_ns; }

  // Enqueues a record (partition < 0: murmur2 on the key). Begins the transaction first when needed.
  // A record the client refuses by itself (e.g. larger than message.max.bytes) is kInvalidArgument
  // (the production handler's business); other synchronous errors keep their class; asynchronous
  // delivery failures surface in take_delivery_error().
  //
  // A record the broker refused for what it is (larger than the topic's max.message.bytes, invalid,
  // not authorized) fails its transaction: take_delivery_error() is kAborted, and sends after it
  // are kAborted too (librdkafka's transaction is abortable). The producer remembers the record
  // (topic, key and value; the last kMaxRefused of them): when processing after the abort sends it
  // again, send() returns kInvalidArgument at once, so that it reaches the production handler
  // (dead letter, continue or fail) instead of failing every transaction again.
  [[nodiscard]] absl::Status send(const std::string& topic, int32_t partition, const std::optional<std::string>& key,
                                  const std::optional<std::string>& value, const Headers& headers,
                                  TimestampMs timestamp);
  [[nodiscard]] absl::Status send(const RawRecord& record) {
    return send(record.topic, record.partition.value(), record.key, record.value, record.headers, record.timestamp);
  }

  // Serves delivery reports without blocking.
  void poll();
  // Waits for every enqueued record; then take_delivery_error() tells whether one failed.
  [[nodiscard]] absl::Status flush(std::chrono::milliseconds timeout);
  // The first delivery failure since the last call (ok when none), and clears it.
  [[nodiscard]] absl::Status take_delivery_error();

  // Wall time of the two broker-facing steps of commit_transaction(), in nanoseconds.
  struct CommitTimings {
    int64_t offsets_ns = 0;  // AddOffsetsToTxn + TxnOffsetCommit
    int64_t end_ns = 0;      // EndTxn (with the flush librdkafka does first)
  };
  // EOS commit: offsets (next offsets to read) of the consumer's group, in the open transaction,
  // then commit. With no open transaction and no offsets, does nothing. kAborted: abort and rewind;
  // kFailedPrecondition: fenced/fatal, the producer is dead. `timings` (optional) gets the step times.
  [[nodiscard]] absl::Status commit_transaction(const CommitOffsets& offsets, rd_kafka_t* consumer,
                                                CommitTimings* timings = nullptr);
  [[nodiscard]] absl::Status abort_transaction();
  [[nodiscard]] bool in_transaction() const { return in_transaction_; }
  [[nodiscard]] absl::Status init_transactions();
  // Fetches the metadata (leaders) of the topics this producer will write, so that the first
  // transaction does not wait for a metadata round per new topic (it showed as ~1 s commits).
  void warm_up(const std::vector<std::string>& topics);

  // Next offset after the last delivered record, per changelog topic-partition, since the producer
  // was created (only topics ending in "-changelog").
  [[nodiscard]] const std::map<TopicPartitionKey, int64_t>& changelog_next_offsets() const { return changelog_next_; }
  [[nodiscard]] int64_t sent_count() const { return sent_; }

 private:
  KafkaProducer() = default;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  [[nodiscard]] absl::Status ensure_transaction();

  rdk::Handle rk_;
  static constexpr size_t kMaxRefused = 10000;
  // Milliseconds a blocking call may take now: `wanted`, cut at the deadline (0 when past it).
  [[nodiscard]] int budget_ms(std::chrono::milliseconds wanted) const;
  [[nodiscard]] bool past_deadline() const;
  const std::atomic<int64_t>* deadline_ns_ = nullptr;
  [[nodiscard]] static uint64_t fingerprint(std::string_view topic, const std::optional<std::string_view>& key,
                                            const std::optional<std::string_view>& value);

  bool transactional_ = false;
  bool in_transaction_ = false;
  absl::Status delivery_error_;
  // Records the broker refused (fingerprint -> the broker's reason), oldest first in refused_order_.
  std::unordered_map<uint64_t, std::string> refused_;
  std::deque<uint64_t> refused_order_;
  std::map<TopicPartitionKey, int64_t> changelog_next_;
  int64_t sent_ = 0;
  std::chrono::milliseconds txn_timeout_{30000};
};

}  // namespace kstreams::runtime
