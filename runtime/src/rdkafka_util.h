// librdkafka helpers private to runtime: RAII handles, configuration and error conversion.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>

#include "kstreams/common/record.h"
#include "kstreams/common/status.h"
#include "kstreams/runtime/clients.h"

namespace kstreams::runtime::rdk {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct GroupMetadataDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* m) const { rd_kafka_consumer_group_metadata_destroy(m); }
};

using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using TopicPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;
using Error = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using Queue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using GroupMetadata = std::unique_ptr<rd_kafka_consumer_group_metadata_t, GroupMetadataDeleter>;

// Builds a configuration; an unknown or invalid property is kInvalidArgument naming it.
[[nodiscard]] absl::StatusOr<Conf> make_conf(const Properties& props);

// Asks the cluster for one topic's metadata, so that the client's cached partition leaders are
// current (librdkafka refreshes them by itself only on some errors and every
// topic.metadata.refresh.interval.ms). Best effort: errors are ignored (the caller retries).
void refresh_topic_metadata(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout);

// Maps a librdkafka error code to the kstreams error vocabulary.
[[nodiscard]] absl::Status to_status(rd_kafka_resp_err_t err, const std::string& context);

// Maps a transactional rd_kafka_error_t (consumed): fatal -> kFailedPrecondition,
// txn_requires_abort -> kAborted, retriable -> kUnavailable.
[[nodiscard]] absl::Status to_status(rd_kafka_error_t* error, const std::string& context);

// Fetches the metadata (partition leaders) of `topics` into the client's cache. librdkafka looks up
// a topic it has not seen yet only once a second in some paths (confluentinc/librdkafka#3202), so
// the first records produced to a new topic could wait up to ~1 s. The first failure, if any.
[[nodiscard]] absl::Status warm_topic_metadata(rd_kafka_t* rk, const std::vector<std::string>& topics, int timeout_ms);

// Copies a consumed message into a RawRecord.
void to_raw_record(const rd_kafka_message_t* msg, RawRecord* out);

// Enqueues a record with rd_kafka_producev (librdkafka copies the bytes); partition < 0 uses the
// configured partitioner.
[[nodiscard]] rd_kafka_resp_err_t produce(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                          const std::optional<std::string>& key,
                                          const std::optional<std::string>& value, const Headers& headers,
                                          TimestampMs timestamp, void* opaque);
[[nodiscard]] inline rd_kafka_resp_err_t produce(rd_kafka_t* rk, const RawRecord& record, void* opaque) {
  return produce(rk, record.topic, record.partition.value(), record.key, record.value, record.headers, record.timestamp,
                 opaque);
}

}  // namespace kstreams::runtime::rdk
