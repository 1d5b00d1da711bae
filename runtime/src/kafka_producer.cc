#include "kafka_producer.h"

#include <chrono>
#include <thread>

#include "kstreams/common/logging.h"

namespace kstreams::runtime {

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::create(const StreamsConfig& config,
                                                                     const std::string& transactional_id,
                                                                     const std::string& client_id) {
  auto props = config.client_settings_with_defaults("producer.");
  props["client.id"] = client_id;
  if (!transactional_id.empty()) {
    props["transactional.id"] = transactional_id;
    props.emplace("transaction.timeout.ms", config.get_string(config::kTransactionTimeoutMs));
  }
  KSTREAMS_ASSIGN_OR_RETURN(auto conf, rdk::make_conf(props));
  std::unique_ptr<KafkaProducer> p(new KafkaProducer());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), p.get());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof(err));
  if (rk == nullptr) return absl::InvalidArgumentError(std::string("creating producer: ") + err);
  conf.release();
  p->rk_.reset(rk);
  p->transactional_ = !transactional_id.empty();
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (rk_ && in_transaction_) (void)abort_transaction();
  if (rk_) rd_kafka_flush(rk_.get(), 5000);
}

void KafkaProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (self->delivery_error_.ok()) {
      self->delivery_error_ = rdk::to_status(msg->err, std::string("delivery to ") + rd_kafka_topic_name(msg->rkt));
    }
    return;
  }
  std::string_view topic = rd_kafka_topic_name(msg->rkt);
  constexpr std::string_view kSuffix = "-changelog";
  if (topic.size() > kSuffix.size() && topic.substr(topic.size() - kSuffix.size()) == kSuffix) {
    auto& next = self->changelog_next_[{std::string(topic), msg->partition}];
    next = std::max(next, msg->offset + 1);
  }
}

absl::Status KafkaProducer::init_transactions() {
  if (!transactional_) return absl::OkStatus();
  return rdk::to_status(rd_kafka_init_transactions(rk_.get(), 60000), "init_transactions");
}

void KafkaProducer::warm_up(const std::vector<std::string>& topics) {
  // Best effort: a topic that does not answer now is looked up again when first written.
  (void)rdk::warm_topic_metadata(rk_.get(), topics, 5000);
}

absl::Status KafkaProducer::ensure_transaction() {
  if (!transactional_ || in_transaction_) return absl::OkStatus();
  KSTREAMS_RETURN_IF_ERROR(rdk::to_status(rd_kafka_begin_transaction(rk_.get()), "begin_transaction"));
  in_transaction_ = true;
  return absl::OkStatus();
}

absl::Status KafkaProducer::send(const std::string& topic, int32_t partition, const std::optional<std::string>& key,
                                 const std::optional<std::string>& value, const Headers& headers,
                                 TimestampMs timestamp) {
  KSTREAMS_RETURN_IF_ERROR(ensure_transaction());
  for (;;) {
    const rd_kafka_resp_err_t err = rdk::produce(rk_.get(), topic, partition, key, value, headers, timestamp, nullptr);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_.get(), 10);  // the local queue drains as batches are acknowledged
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
        err == RD_KAFKA_RESP_ERR_INVALID_RECORD || err == RD_KAFKA_RESP_ERR__INVALID_ARG) {
      // The broker or the client refuses this record itself: the production handler decides.
      return absl::InvalidArgumentError("record refused producing to '" + topic + "': " + rd_kafka_err2str(err));
    }
    return rdk::to_status(err, "producing to '" + topic + "'");
  }
  ++sent_;
  return absl::OkStatus();
}

void KafkaProducer::poll() { rd_kafka_poll(rk_.get(), 0); }

absl::Status KafkaProducer::flush(std::chrono::milliseconds timeout) {
  return rdk::to_status(rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count())), "flush");
}

absl::Status KafkaProducer::take_delivery_error() {
  absl::Status st = delivery_error_;
  delivery_error_ = absl::OkStatus();
  return st;
}

absl::Status KafkaProducer::commit_transaction(const std::map<TopicPartitionKey, int64_t>& offsets,
                                               rd_kafka_t* consumer, CommitTimings* timings) {
  if (!transactional_) return absl::OkStatus();
  if (!in_transaction_ && offsets.empty()) return absl::OkStatus();
  KSTREAMS_RETURN_IF_ERROR(ensure_transaction());
  const auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t).count();
  };
  auto t0 = std::chrono::steady_clock::now();
  if (!offsets.empty()) {
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [tp, off] : offsets) {
      rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset = off;
    }
    // Fresh group metadata every time: a rebalance may have bumped the generation (ARCHITECTURE.md).
    rdk::GroupMetadata md(rd_kafka_consumer_group_metadata(consumer));
    KSTREAMS_RETURN_IF_ERROR(rdk::to_status(
        rd_kafka_send_offsets_to_transaction(rk_.get(), list.get(), md.get(), 30000), "send_offsets_to_transaction"));
  }
  if (timings != nullptr) timings->offsets_ns = since(t0);
  t0 = std::chrono::steady_clock::now();
  absl::Status st;
  for (int attempt = 0; attempt < 10; ++attempt) {
    st = rdk::to_status(rd_kafka_commit_transaction(rk_.get(), 30000), "commit_transaction");
    if (st.code() != absl::StatusCode::kUnavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (timings != nullptr) timings->end_ns = since(t0);
  if (st.ok()) in_transaction_ = false;
  return st;
}

absl::Status KafkaProducer::abort_transaction() {
  if (!transactional_ || !in_transaction_) return absl::OkStatus();
  // Outstanding records must be purged or delivered before an abort can complete.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE);
  absl::Status st = rdk::to_status(rd_kafka_abort_transaction(rk_.get(), 30000), "abort_transaction");
  if (st.ok()) in_transaction_ = false;
  delivery_error_ = absl::OkStatus();
  return st;
}

}  // namespace kstreams::runtime
