// PartitionReader: a Kafka consumer that reads the partitions it is told to, from the offsets it is
// told, into one queue, without a consumer group. The restore consumer (changelogs) and the global
// consumer (global tables) are PartitionReaders: they never join, commit or look up a group, so
// they need no `group.id` and no group ACL (Kafka Streams' restore and global consumers have none).
//
//   auto reader = PartitionReader::create(props, "restore consumer");
//   reader->assign({{"app-store-changelog", 3, 1200}});   // replaces the whole assignment
//   rd_kafka_consume_batch_queue(reader->queue(), timeout_ms, msgs, n);  // or rd_kafka_consume_queue
//
// librdkafka's KafkaConsumer API (rd_kafka_assign, rd_kafka_consumer_poll) refuses to run without a
// group.id and looks up the group's coordinator even when it only assigns; this class uses the
// group-less "simple consumer" API of the same library (rd_kafka_consume_start_queue), which
// fetches the same way. Messages of partitions no longer assigned are never delivered (librdkafka
// discards what was prefetched for a stopped partition). Partition EOF and per-partition errors
// arrive as messages with `err` set; client-level errors are logged by librdkafka.
//
// Ownership: the reader owns the client, its topic handles and the queue; destruction stops every
// partition and needs no broker. Thread-safety: one thread.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kstreams/runtime/clients.h"

namespace kstreams::runtime {

class PartitionReader {
 public:
  struct Start {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = RD_KAFKA_OFFSET_BEGINNING;  // or an absolute offset
  };

  // `props`: librdkafka consumer settings; a `group.id` among them is dropped. `what` names the
  // client in errors ("restore consumer").
  static absl::StatusOr<std::unique_ptr<PartitionReader>> create(Properties props, const std::string& what);
  ~PartitionReader();
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  // Reads exactly `partitions` from now on, each from its offset (a partition already being read is
  // restarted at the offset given: what was prefetched for it is dropped). Empty: reads nothing.
  absl::Status assign(const std::vector<Start>& partitions);
  // The queue every assigned partition's messages arrive on (owned by the reader).
  [[nodiscard]] rd_kafka_queue_t* queue() const { return queue_; }
  // The client, for metadata and watermark queries.
  [[nodiscard]] rd_kafka_t* handle() const { return rk_; }
  [[nodiscard]] size_t assigned() const { return started_.size(); }

 private:
  PartitionReader(rd_kafka_t* rk, std::string what);
  rd_kafka_topic_t* topic(const std::string& name);
  void stop_all();

  rd_kafka_t* rk_;
  rd_kafka_queue_t* queue_;
  std::string what_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  std::set<std::pair<std::string, int32_t>> started_;
};

}  // namespace kstreams::runtime
