#include "kafka_producer.h"

#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>
#include <tuple>

#include "absl/hash/hash.h"
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
  if (rk_) rd_kafka_flush(rk_.get(), budget_ms(std::chrono::milliseconds(5000)));
}

bool KafkaProducer::past_deadline() const {
  if (deadline_ns_ == nullptr) return false;
  return std::chrono::steady_clock::now().time_since_epoch().count() >= deadline_ns_->load(std::memory_order_relaxed);
}

int KafkaProducer::budget_ms(std::chrono::milliseconds wanted) const {
  int64_t ms = wanted.count();
  if (deadline_ns_ != nullptr) {
    const int64_t deadline = deadline_ns_->load(std::memory_order_relaxed);
    if (deadline != std::numeric_limits<int64_t>::max()) {
      const int64_t left = (deadline - std::chrono::steady_clock::now().time_since_epoch().count()) / 1000000;
      ms = std::clamp<int64_t>(left, 0, ms);
    }
  }
  return static_cast<int>(std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

namespace {

constexpr std::string_view kChangelogSuffix = "-changelog";

bool is_changelog(std::string_view topic) {
  return topic.size() > kChangelogSuffix.size() &&
         topic.substr(topic.size() - kChangelogSuffix.size()) == kChangelogSuffix;
}

// The broker refused the record itself: sending it again can only fail again.
bool refused_for_what_it_is(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return true;
    default:
      return false;
  }
}

std::optional<std::string_view> bytes_of(const void* p, size_t n) {
  if (p == nullptr) return std::nullopt;
  return std::string_view(static_cast<const char*>(p), n);
}

}  // namespace

uint64_t KafkaProducer::fingerprint(std::string_view topic, const std::optional<std::string_view>& key,
                                    const std::optional<std::string_view>& value) {
  return absl::Hash<std::tuple<std::string_view, bool, std::string_view, bool, std::string_view>>{}(
      {topic, key.has_value(), key.value_or(""), value.has_value(), value.value_or("")});
}

void KafkaProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const std::string topic = rd_kafka_topic_name(msg->rkt);
    absl::Status st = rdk::to_status(msg->err, "delivery to " + topic);
    if (refused_for_what_it_is(msg->err) && !is_changelog(topic)) {
      // Remembered so that send() hands it to the production handler when it comes again.
      const uint64_t f = fingerprint(topic, bytes_of(msg->key, msg->key_len), bytes_of(msg->payload, msg->len));
      if (self->refused_.emplace(f, rd_kafka_err2str(msg->err)).second) {
        self->refused_order_.push_back(f);
        if (self->refused_order_.size() > kMaxRefused) {
          self->refused_.erase(self->refused_order_.front());
          self->refused_order_.pop_front();
        }
      }
      KS_LOG_WARN(
          "the broker refused a record for {}-{}: {} (the transaction aborts; the record goes to the "
          "production handler when it is produced again)",
          topic, msg->partition, rd_kafka_err2str(msg->err));
      if (self->transactional_) st = absl::AbortedError(st.message());
    }
    if (self->delivery_error_.ok()) self->delivery_error_ = std::move(st);
    return;
  }
  std::string_view topic = rd_kafka_topic_name(msg->rkt);
  if (is_changelog(topic)) {
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
  if (!refused_.empty()) {
    auto it = refused_.find(fingerprint(topic, key, value));
    if (it != refused_.end()) {
      return absl::InvalidArgumentError("record refused by the broker for '" + topic + "': " + it->second);
    }
  }
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
    if (err == RD_KAFKA_RESP_ERR__STATE && transactional_) {
      // The transaction is abortable (a record of it failed): abort, rewind and process again.
      return absl::AbortedError("producing to '" + topic + "': the transaction must abort");
    }
    return rdk::to_status(err, "producing to '" + topic + "'");
  }
  ++sent_;
  return absl::OkStatus();
}

void KafkaProducer::poll() { rd_kafka_poll(rk_.get(), 0); }

absl::Status KafkaProducer::flush(std::chrono::milliseconds timeout) {
  // In slices of at most a second, so that a deadline set meanwhile (shutdown) is noticed.
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    const int slice = budget_ms(std::min<std::chrono::milliseconds>(std::max(left, std::chrono::milliseconds(0)),
                                                                    std::chrono::milliseconds(1000)));
    const rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), slice);
    if (err != RD_KAFKA_RESP_ERR__TIMED_OUT || left.count() <= 0 || past_deadline()) {
      return rdk::to_status(err, "flush");
    }
  }
}

absl::Status KafkaProducer::take_delivery_error() {
  absl::Status st = delivery_error_;
  delivery_error_ = absl::OkStatus();
  return st;
}

void set_commit_offset(rd_kafka_topic_partition_t* entry, const OffsetAndMetadata& offset) {
  entry->offset = offset.offset;
  if (entry->metadata != nullptr) free(entry->metadata);  // NOLINT: librdkafka frees it with free()
  entry->metadata = nullptr;
  entry->metadata_size = 0;
  if (offset.metadata.empty()) return;
  entry->metadata = malloc(offset.metadata.size());  // NOLINT: owned by the list, freed by librdkafka
  KSTREAMS_CHECK(entry->metadata != nullptr, "out of memory for commit metadata");
  memcpy(entry->metadata, offset.metadata.data(), offset.metadata.size());
  entry->metadata_size = offset.metadata.size();
}

absl::Status KafkaProducer::commit_transaction(const CommitOffsets& offsets, rd_kafka_t* consumer,
                                               CommitTimings* timings) {
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
      set_commit_offset(rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second), off);
    }
    // Fresh group metadata every time: a rebalance may have bumped the generation (ARCHITECTURE.md).
    rdk::GroupMetadata md(rd_kafka_consumer_group_metadata(consumer));
    KSTREAMS_RETURN_IF_ERROR(
        rdk::to_status(rd_kafka_send_offsets_to_transaction(rk_.get(), list.get(), md.get(),
                                                            std::max(1, budget_ms(std::chrono::milliseconds(30000)))),
                       "send_offsets_to_transaction"));
  }
  if (timings != nullptr) timings->offsets_ns = since(t0);
  t0 = std::chrono::steady_clock::now();
  // A timed-out commit_transaction may be called again (it resumes); slices of a second let a
  // shutdown deadline cut it short. Up to 5 minutes in all, like the 10 x 30 s it replaces.
  // Any other retriable error (a conflicting call still in progress, ...) is tried 10 times, 100 ms
  // apart, then returned: the caller aborts.
  absl::Status st;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  for (int other_errors = 0;;) {
    rdk::Error err(rd_kafka_commit_transaction(rk_.get(), std::max(1, budget_ms(std::chrono::milliseconds(1000)))));
    if (!err) {
      st = absl::OkStatus();
      break;
    }
    const bool timed_out = rd_kafka_error_code(err.get()) == RD_KAFKA_RESP_ERR__TIMED_OUT;
    st = rdk::to_status(err.release(), "commit_transaction");
    if (st.code() != absl::StatusCode::kUnavailable || past_deadline() || std::chrono::steady_clock::now() >= give_up)
      break;
    if (!timed_out && ++other_errors >= 10) break;
    if (!timed_out) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (timings != nullptr) timings->end_ns = since(t0);
  if (st.ok()) in_transaction_ = false;
  return st;
}

absl::Status KafkaProducer::abort_transaction() {
  if (!transactional_ || !in_transaction_) return absl::OkStatus();
  // Outstanding records must be purged or delivered before an abort can complete.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE);
  absl::Status st =
      rdk::to_status(rd_kafka_abort_transaction(rk_.get(), std::max(1, budget_ms(std::chrono::milliseconds(30000)))),
                     "abort_transaction");
  if (st.ok()) in_transaction_ = false;
  delivery_error_ = absl::OkStatus();
  return st;
}

}  // namespace kstreams::runtime
