// Thin Kafka clients for tools, tests and benchmarks: an admin client, a producer (plain,
// idempotent or transactional) and a consumer, speaking RawRecord. They hide librdkafka (no
// librdkafka type appears here) and are what the load generator, the verifier, the recorder and
// the integration tests use. The stream runtime itself uses the same adapters internally.
//
// Configuration: librdkafka property names (`bootstrap.servers`, `enable.idempotence`,
// `transactional.id`, `isolation.level`, `group.id`, ...). Errors are absl::Status with librdkafka's
// message: kUnavailable (retriable), kAborted (transaction must abort), kFailedPrecondition (fatal,
// e.g. fenced), kInvalidArgument (bad configuration), kNotFound (unknown topic).
//
// Thread-safety: AdminClient and ProducerClient may be used from several threads (librdkafka
// handles are thread-safe; transactional calls must not overlap). ConsumerClient belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kstreams/common/record.h"
#include "kstreams/common/status.h"

namespace kstreams::runtime {

using Properties = std::map<std::string, std::string>;
using std::chrono::milliseconds;

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  int16_t replication_factor = 1;
  std::map<std::string, std::string> configs;  // e.g. cleanup.policy=compact
};

struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;  // for assign(): -2 beginning, -1 end, -1000 stored/committed
};

class AdminClient {
 public:
  virtual ~AdminClient() = default;
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AdminClient>> create(const Properties& config);

  // Creates the topics; with `ignore_existing`, a topic that exists is fine (its partition count is
  // not checked here: use partition_counts()). Returns once the metadata shows every topic with its
  // partitions led (so clients can use them at once), or kUnavailable after `timeout`.
  [[nodiscard]] virtual absl::Status create_topics(const std::vector<TopicSpec>& topics, bool ignore_existing,
                                                   milliseconds timeout) = 0;
  // Deleting an unknown topic is not an error.
  [[nodiscard]] virtual absl::Status delete_topics(const std::vector<std::string>& topics, milliseconds timeout) = 0;
  // Partition count per existing topic; topics that do not exist are absent from the map.
  [[nodiscard]] virtual absl::StatusOr<std::map<std::string, int32_t>> partition_counts(
      const std::vector<std::string>& topics, milliseconds timeout) = 0;
  // Names of every topic in the cluster (internal ones such as __consumer_offsets included).
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> topic_names(milliseconds timeout) = 0;
};

class ProducerClient {
 public:
  virtual ~ProducerClient() = default;
  // `transactional.id` in config makes it transactional (call init_transactions() first).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ProducerClient>> create(const Properties& config);

  // Enqueues one record; partition < 0 uses the murmur2 partitioner on the key (Java-compatible).
  // kUnavailable when the local queue is full (poll and retry).
  [[nodiscard]] virtual absl::Status send(const RawRecord& record) = 0;
  // Waits for every enqueued record to be acknowledged (or to fail).
  [[nodiscard]] virtual absl::Status flush(milliseconds timeout) = 0;
  // Serves delivery reports.
  virtual void poll(milliseconds timeout) = 0;
  // Fetches the topics' partition leaders now. Call it before timing anything: librdkafka looks up a
  // topic it has not seen once a second in some paths, so the first records to each new topic could
  // otherwise wait up to ~1 s (librdkafka#3202). The first metadata error, if any.
  [[nodiscard]] virtual absl::Status warm_up(const std::vector<std::string>& topics, milliseconds timeout) = 0;

  [[nodiscard]] virtual absl::Status init_transactions(milliseconds timeout) = 0;
  [[nodiscard]] virtual absl::Status begin_transaction() = 0;
  // Adds consumer offsets (next offsets to read) to the current transaction for `group_id`.
  [[nodiscard]] virtual absl::Status send_offsets_to_transaction(const std::vector<TopicPartitionOffset>& offsets,
                                                                 const std::string& group_id, milliseconds timeout) = 0;
  [[nodiscard]] virtual absl::Status commit_transaction(milliseconds timeout) = 0;
  [[nodiscard]] virtual absl::Status abort_transaction(milliseconds timeout) = 0;

  // Delivery outcomes so far.
  [[nodiscard]] virtual int64_t delivered_count() const = 0;
  [[nodiscard]] virtual int64_t failed_count() const = 0;
  // The first delivery error, if any ("" when none).
  [[nodiscard]] virtual std::string first_delivery_error() const = 0;
};

class ConsumerClient {
 public:
  virtual ~ConsumerClient() = default;
  // Needs `group.id` for subscribe()/commit(); `isolation.level` defaults to read_committed here.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ConsumerClient>> create(const Properties& config);

  [[nodiscard]] virtual absl::Status subscribe(const std::vector<std::string>& topics) = 0;
  // Manual assignment (no group membership): every partition of the topics from `offset`.
  [[nodiscard]] virtual absl::Status assign(const std::vector<TopicPartitionOffset>& partitions) = 0;
  // Up to `max_records` records; an empty vector on timeout. Consumer errors that are not fatal
  // (e.g. partition EOF) are skipped; a fatal error is returned.
  [[nodiscard]] virtual absl::StatusOr<std::vector<RawRecord>> poll(milliseconds timeout, size_t max_records) = 0;
  // Commits the current positions synchronously (group consumers).
  [[nodiscard]] virtual absl::Status commit() = 0;
  // Currently assigned partitions.
  [[nodiscard]] virtual std::vector<TopicPartitionOffset> assignment() = 0;
  // Committed offsets of the group for the given partitions (offset -1001 when none).
  [[nodiscard]] virtual absl::StatusOr<std::vector<TopicPartitionOffset>> committed(
      const std::vector<TopicPartitionOffset>& partitions, milliseconds timeout) = 0;
  // (low, high) watermarks; under read_committed, high is the last stable offset.
  [[nodiscard]] virtual absl::StatusOr<std::pair<int64_t, int64_t>> watermarks(const std::string& topic,
                                                                               int32_t partition,
                                                                               milliseconds timeout) = 0;
  // With `enable.partition.eof=true`: true once the position reached the partition's end (the last
  // stable offset under read_committed) and no record arrived from it since.
  [[nodiscard]] virtual bool at_end(const std::string& topic, int32_t partition) const = 0;
  // Leaves the group (commits nothing).
  virtual void close() = 0;
};

// Reads every record of `topics` from the beginning up to the current end (the last stable offset
// under read_committed), with manual assignment. For verifiers and tests.
[[nodiscard]] absl::StatusOr<std::vector<RawRecord>> read_all(const Properties& config,
                                                              const std::vector<std::string>& topics,
                                                              milliseconds timeout);

}  // namespace kstreams::runtime
