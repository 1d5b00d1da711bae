#include "rdkafka_util.h"

#include <cstring>

namespace kstreams::runtime::rdk {

void refresh_topic_metadata(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) return;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
}

absl::StatusOr<Conf> make_conf(const Properties& props) {
  Conf conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError("kafka property '" + key + "': " + err);
    }
  }
  return conf;
}

absl::Status to_status(rd_kafka_resp_err_t err, const std::string& context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  const std::string msg = context + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
      return absl::UnavailableError(msg);
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::NotFoundError(msg);
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
      return absl::InvalidArgumentError(msg);
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR__FATAL:
      return absl::FailedPreconditionError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status to_status(rd_kafka_error_t* error, const std::string& context) {
  if (error == nullptr) return absl::OkStatus();
  Error owned(error);
  const std::string msg = context + ": " + rd_kafka_error_string(error);
  if (rd_kafka_error_is_fatal(error)) return absl::FailedPreconditionError(msg);
  if (rd_kafka_error_txn_requires_abort(error)) return absl::AbortedError(msg);
  if (rd_kafka_error_is_retriable(error)) return absl::UnavailableError(msg);
  return to_status(rd_kafka_error_code(error), context);
}

void to_raw_record(const rd_kafka_message_t* msg, RawRecord* out) {
  out->topic = rd_kafka_topic_name(msg->rkt);
  out->partition = Partition(msg->partition);
  out->offset = Offset(msg->offset);
  rd_kafka_timestamp_type_t ts_type;
  out->timestamp = rd_kafka_message_timestamp(msg, &ts_type);
  if (msg->key != nullptr) {
    out->key.emplace(static_cast<const char*>(msg->key), msg->key_len);
  } else {
    out->key.reset();
  }
  if (msg->payload != nullptr) {
    out->value.emplace(static_cast<const char*>(msg->payload), msg->len);
  } else {
    out->value.reset();
  }
  out->headers.clear();
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) {
    const char* name = nullptr;
    const void* val = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      out->headers.add(name, val != nullptr ? std::string(static_cast<const char*>(val), size) : std::string());
    }
  }
}

absl::Status warm_topic_metadata(rd_kafka_t* rk, const std::vector<std::string>& topics, int timeout_ms) {
  absl::Status first = absl::OkStatus();
  for (const auto& topic : topics) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    if (rkt == nullptr) {
      if (first.ok()) first = absl::InvalidArgumentError("cannot create a handle for topic '" + topic + "'");
      continue;
    }
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
    } else if (first.ok()) {
      first = to_status(err, "metadata of topic '" + topic + "'");
    }
    rd_kafka_topic_destroy(rkt);
  }
  return first;
}

rd_kafka_resp_err_t produce(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                            const std::optional<std::string>& key, const std::optional<std::string>& value,
                            const Headers& headers, TimestampMs timestamp, void* opaque) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [k, v] : headers.entries()) {
      rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(), static_cast<ssize_t>(v.size()));
    }
  }
  const int32_t target = partition < 0 ? RD_KAFKA_PARTITION_UA : partition;
  const void* key_ptr = key ? key->data() : nullptr;
  const size_t key_len = key ? key->size() : 0;
  void* value_ptr = value ? const_cast<char*>(value->data()) : nullptr;
  const size_t value_len = value ? value->size() : 0;
  rd_kafka_resp_err_t err =
      rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(target),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_ptr, key_len),
                        RD_KAFKA_V_VALUE(value_ptr, value_len), RD_KAFKA_V_TIMESTAMP(timestamp >= 0 ? timestamp : 0),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
  return err;
}

}  // namespace kstreams::runtime::rdk
