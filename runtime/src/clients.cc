#include "kstreams/runtime/clients.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "rdkafka_util.h"

namespace kstreams::runtime {
namespace {

constexpr int kEofErr = RD_KAFKA_RESP_ERR__PARTITION_EOF;

absl::StatusOr<rdk::Handle> new_handle(rd_kafka_type_t type, rdk::Conf conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) return absl::InvalidArgumentError(std::string("creating Kafka client: ") + err);
  conf.release();  // owned by rk now
  return rdk::Handle(rk);
}

int timeout_ms(milliseconds t) { return static_cast<int>(t.count()); }

// ---------------------------------------------------------------------------------------------
class RdAdminClient final : public AdminClient {
 public:
  explicit RdAdminClient(rdk::Handle rk) : rk_(std::move(rk)), queue_(rd_kafka_queue_new(rk_.get())) {}

  absl::Status create_topics(const std::vector<TopicSpec>& topics, bool ignore_existing,
                             milliseconds timeout) override {
    if (topics.empty()) return absl::OkStatus();
    std::vector<rd_kafka_NewTopic_t*> new_topics;
    char err[512];
    for (const auto& t : topics) {
      rd_kafka_NewTopic_t* nt =
          rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication_factor, err, sizeof(err));
      if (nt == nullptr) {
        for (auto* n : new_topics) rd_kafka_NewTopic_destroy(n);
        return absl::InvalidArgumentError("topic '" + t.name + "': " + err);
      }
      for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
      new_topics.push_back(nt);
    }
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms(timeout), err, sizeof(err));
    rd_kafka_CreateTopics(rk_.get(), new_topics.data(), new_topics.size(), opts, queue_.get());
    rd_kafka_AdminOptions_destroy(opts);
    for (auto* n : new_topics) rd_kafka_NewTopic_destroy(n);

    auto ev = wait(RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout + milliseconds(5000));
    if (!ev.ok()) return ev.status();
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev->get());
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && ignore_existing) continue;
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      return rdk::to_status(e, std::string("creating topic '") + rd_kafka_topic_result_name(results[i]) + "'" +
                                   (msg != nullptr ? std::string(" (") + msg + ")" : ""));
    }
    return wait_until_usable(topics, timeout);
  }

  absl::Status delete_topics(const std::vector<std::string>& topics, milliseconds timeout) override {
    if (topics.empty()) return absl::OkStatus();
    std::vector<rd_kafka_DeleteTopic_t*> dts;
    for (const auto& t : topics) dts.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
    char err[512];
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms(timeout), err, sizeof(err));
    rd_kafka_DeleteTopics(rk_.get(), dts.data(), dts.size(), opts, queue_.get());
    rd_kafka_AdminOptions_destroy(opts);
    for (auto* d : dts) rd_kafka_DeleteTopic_destroy(d);
    auto ev = wait(RD_KAFKA_EVENT_DELETETOPICS_RESULT, timeout + milliseconds(5000));
    if (!ev.ok()) return ev.status();
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev->get()), &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
      return rdk::to_status(e, std::string("deleting topic '") + rd_kafka_topic_result_name(results[i]) + "'");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::map<std::string, int32_t>> partition_counts(const std::vector<std::string>& topics,
                                                                  milliseconds timeout) override {
    std::map<std::string, int32_t> out;
    for (const auto& topic : topics) {
      rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
      const rd_kafka_metadata_t* md = nullptr;
      rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, rkt, &md, timeout_ms(timeout));
      rd_kafka_topic_destroy(rkt);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return rdk::to_status(err, "metadata for '" + topic + "'");
      for (int i = 0; i < md->topic_cnt; ++i) {
        const auto& t = md->topics[i];
        if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) out[t.topic] = t.partition_cnt;
      }
      rd_kafka_metadata_destroy(md);
    }
    return out;
  }

  // CreateTopics answers before the new partitions have a leader in every broker's metadata: a
  // client using them at once gets "Unknown partition" or "Not leader for partition". Polls the
  // metadata until every topic has all its partitions, each with a leader.
  absl::Status wait_until_usable(const std::vector<TopicSpec>& topics, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const auto& spec : topics) {
      for (;;) {
        rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), spec.name.c_str(), nullptr);
        const rd_kafka_metadata_t* md = nullptr;
        const rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, rkt, &md, timeout_ms(timeout));
        rd_kafka_topic_destroy(rkt);
        bool usable = false;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          for (int i = 0; i < md->topic_cnt; ++i) {
            const auto& t = md->topics[i];
            if (spec.name != t.topic || t.err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partition_cnt < spec.partitions) {
              continue;
            }
            usable = true;
            for (int p = 0; p < t.partition_cnt; ++p) {
              usable = usable && t.partitions[p].err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partitions[p].leader >= 0;
            }
          }
          rd_kafka_metadata_destroy(md);
        }
        if (usable) break;
        if (std::chrono::steady_clock::now() >= deadline) {
          return absl::UnavailableError("topic '" + spec.name + "' was created but its partitions have no leader yet");
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> topic_names(milliseconds timeout) override {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), /*all_topics=*/1, nullptr, &md, timeout_ms(timeout));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return rdk::to_status(err, "metadata of every topic");
    std::vector<std::string> out;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) out.emplace_back(md->topics[i].topic);
    }
    rd_kafka_metadata_destroy(md);
    return out;
  }

 private:
  absl::StatusOr<rdk::Event> wait(rd_kafka_event_type_t type, milliseconds timeout) {
    rdk::Event ev(rd_kafka_queue_poll(queue_.get(), timeout_ms(timeout)));
    if (!ev) return absl::UnavailableError("admin request timed out");
    if (rd_kafka_event_type(ev.get()) != type) return absl::InternalError("unexpected admin event");
    if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return rdk::to_status(rd_kafka_event_error(ev.get()),
                            std::string("admin: ") + rd_kafka_event_error_string(ev.get()));
    }
    return ev;
  }

  rdk::Handle rk_;
  rdk::Queue queue_;
};

// ---------------------------------------------------------------------------------------------
class RdProducerClient final : public ProducerClient {
 public:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<RdProducerClient*>(opaque);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->delivered_.fetch_add(1, std::memory_order_relaxed);
    } else {
      self->failed_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(self->mu_);
      if (self->first_error_.empty()) self->first_error_ = rd_kafka_err2str(msg->err);
    }
  }

  void attach(rdk::Handle rk) { rk_ = std::move(rk); }

  absl::Status send(const RawRecord& record) override {
    return rdk::to_status(rdk::produce(rk_.get(), record, nullptr), "producing to '" + record.topic + "'");
  }
  absl::Status flush(milliseconds timeout) override {
    return rdk::to_status(rd_kafka_flush(rk_.get(), timeout_ms(timeout)), "flush");
  }
  void poll(milliseconds timeout) override { rd_kafka_poll(rk_.get(), timeout_ms(timeout)); }
  absl::Status warm_up(const std::vector<std::string>& topics, milliseconds timeout) override {
    return rdk::warm_topic_metadata(rk_.get(), topics, timeout_ms(timeout));
  }
  absl::Status init_transactions(milliseconds timeout) override {
    return rdk::to_status(rd_kafka_init_transactions(rk_.get(), timeout_ms(timeout)), "init_transactions");
  }
  absl::Status begin_transaction() override {
    return rdk::to_status(rd_kafka_begin_transaction(rk_.get()), "begin_transaction");
  }
  absl::Status send_offsets_to_transaction(const std::vector<TopicPartitionOffset>& offsets,
                                           const std::string& group_id, milliseconds timeout) override {
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& o : offsets)
      rd_kafka_topic_partition_list_add(list.get(), o.topic.c_str(), o.partition)->offset = o.offset;
    rdk::GroupMetadata md(rd_kafka_consumer_group_metadata_new(group_id.c_str()));
    return rdk::to_status(rd_kafka_send_offsets_to_transaction(rk_.get(), list.get(), md.get(), timeout_ms(timeout)),
                          "send_offsets_to_transaction");
  }
  absl::Status commit_transaction(milliseconds timeout) override {
    return rdk::to_status(rd_kafka_commit_transaction(rk_.get(), timeout_ms(timeout)), "commit_transaction");
  }
  absl::Status abort_transaction(milliseconds timeout) override {
    return rdk::to_status(rd_kafka_abort_transaction(rk_.get(), timeout_ms(timeout)), "abort_transaction");
  }
  int64_t delivered_count() const override { return delivered_.load(); }
  int64_t failed_count() const override { return failed_.load(); }
  std::string first_delivery_error() const override {
    std::lock_guard lock(mu_);
    return first_error_;
  }

 private:
  rdk::Handle rk_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
  mutable std::mutex mu_;
  std::string first_error_;
};

// ---------------------------------------------------------------------------------------------
class RdConsumerClient final : public ConsumerClient {
 public:
  explicit RdConsumerClient(rdk::Handle rk) : rk_(std::move(rk)) { rd_kafka_poll_set_consumer(rk_.get()); }
  ~RdConsumerClient() override { close(); }

  absl::Status subscribe(const std::vector<std::string>& topics) override {
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
    for (const auto& t : topics) rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    return rdk::to_status(rd_kafka_subscribe(rk_.get(), list.get()), "subscribe");
  }
  absl::Status assign(const std::vector<TopicPartitionOffset>& partitions) override {
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (const auto& p : partitions)
      rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.offset;
    return rdk::to_status(rd_kafka_assign(rk_.get(), list.get()), "assign");
  }
  absl::StatusOr<std::vector<RawRecord>> poll(milliseconds timeout, size_t max_records) override {
    std::vector<RawRecord> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < max_records) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      const int wait = out.empty() ? static_cast<int>(std::max<int64_t>(0, left.count())) : 0;
      rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk_.get(), wait);
      if (msg == nullptr) {
        if (!out.empty() || left.count() <= 0) break;
        continue;
      }
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(msg, rd_kafka_message_destroy);
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        at_end_.erase({rd_kafka_topic_name(msg->rkt), msg->partition});
        rdk::to_raw_record(msg, &out.emplace_back());
        continue;
      }
      if (msg->err == kEofErr) {
        at_end_.insert({rd_kafka_topic_name(msg->rkt), msg->partition});
        continue;
      }
      absl::Status st = rdk::to_status(msg->err, std::string("consume: ") + rd_kafka_message_errstr(msg));
      if (msg->err == RD_KAFKA_RESP_ERR__FATAL) return st;
      if (!out.empty()) break;
    }
    return out;
  }
  absl::Status commit() override { return rdk::to_status(rd_kafka_commit(rk_.get(), nullptr, /*async=*/0), "commit"); }
  std::vector<TopicPartitionOffset> assignment() override {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    std::vector<TopicPartitionOffset> out;
    if (rd_kafka_assignment(rk_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    rdk::TopicPartitionList list(raw);
    for (int i = 0; i < list->cnt; ++i)
      out.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
    return out;
  }
  absl::StatusOr<std::vector<TopicPartitionOffset>> committed(const std::vector<TopicPartitionOffset>& partitions,
                                                              milliseconds timeout) override {
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (const auto& p : partitions) rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition);
    KSTREAMS_RETURN_IF_ERROR(
        rdk::to_status(rd_kafka_committed(rk_.get(), list.get(), timeout_ms(timeout)), "committed"));
    std::vector<TopicPartitionOffset> out;
    for (int i = 0; i < list->cnt; ++i)
      out.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
    return out;
  }
  absl::StatusOr<std::pair<int64_t, int64_t>> watermarks(const std::string& topic, int32_t partition,
                                                         milliseconds timeout) override {
    int64_t low = 0;
    int64_t high = 0;
    KSTREAMS_RETURN_IF_ERROR(rdk::to_status(
        rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high, timeout_ms(timeout)),
        "watermarks of " + topic));
    return std::make_pair(low, high);
  }
  bool at_end(const std::string& topic, int32_t partition) const override {
    return at_end_.count({topic, partition}) > 0;
  }
  void close() override {
    if (!closed_) {
      closed_ = true;
      rd_kafka_consumer_close(rk_.get());
    }
  }

 private:
  rdk::Handle rk_;
  bool closed_ = false;
  std::set<std::pair<std::string, int32_t>> at_end_;
};

Properties with_default(Properties props, const std::string& key, const std::string& value) {
  props.emplace(key, value);
  return props;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::create(const Properties& config) {
  // The admin handle is a producer-type handle, and librdkafka producers default to
  // allow.auto.create.topics=true: partition_counts() of a missing topic would make a broker with
  // auto.create.topics.enable create it with its default partition count, before create_topics()
  // could create it with the right one.
  KSTREAMS_ASSIGN_OR_RETURN(auto conf, rdk::make_conf(with_default(config, "allow.auto.create.topics", "false")));
  KSTREAMS_ASSIGN_OR_RETURN(auto rk, new_handle(RD_KAFKA_PRODUCER, std::move(conf)));
  return std::unique_ptr<AdminClient>(new RdAdminClient(std::move(rk)));
}

absl::StatusOr<std::unique_ptr<ProducerClient>> ProducerClient::create(const Properties& config) {
  auto props = with_default(config, "partitioner", "murmur2_random");
  KSTREAMS_ASSIGN_OR_RETURN(auto conf, rdk::make_conf(props));
  auto client = std::make_unique<RdProducerClient>();
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &RdProducerClient::on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), client.get());
  KSTREAMS_ASSIGN_OR_RETURN(auto rk, new_handle(RD_KAFKA_PRODUCER, std::move(conf)));
  client->attach(std::move(rk));
  return std::unique_ptr<ProducerClient>(std::move(client));
}

absl::StatusOr<std::unique_ptr<ConsumerClient>> ConsumerClient::create(const Properties& config) {
  auto props = with_default(config, "isolation.level", "read_committed");
  props = with_default(std::move(props), "enable.auto.commit", "false");
  props = with_default(std::move(props), "auto.offset.reset", "earliest");
  if (props.find("group.id") == props.end()) props["group.id"] = "kstreams-tools-unused";
  KSTREAMS_ASSIGN_OR_RETURN(auto conf, rdk::make_conf(props));
  KSTREAMS_ASSIGN_OR_RETURN(auto rk, new_handle(RD_KAFKA_CONSUMER, std::move(conf)));
  return std::unique_ptr<ConsumerClient>(new RdConsumerClient(std::move(rk)));
}

absl::StatusOr<std::vector<RawRecord>> read_all(const Properties& config, const std::vector<std::string>& topics,
                                                milliseconds timeout) {
  Properties admin_config = config;
  for (const char* consumer_only : {"isolation.level", "group.id", "enable.partition.eof", "auto.offset.reset",
                                    "enable.auto.commit", "session.timeout.ms"}) {
    admin_config.erase(consumer_only);
  }
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, AdminClient::create(admin_config));
  KSTREAMS_ASSIGN_OR_RETURN(auto counts, admin->partition_counts(topics, timeout));
  KSTREAMS_ASSIGN_OR_RETURN(auto consumer,
                            ConsumerClient::create(with_default(config, "enable.partition.eof", "true")));
  std::vector<TopicPartitionOffset> parts;
  for (const auto& [topic, n] : counts) {
    for (int32_t p = 0; p < n; ++p) {
      KSTREAMS_ASSIGN_OR_RETURN(auto wm, consumer->watermarks(topic, p, timeout));
      if (wm.second > wm.first) {
        parts.push_back({topic, p, RD_KAFKA_OFFSET_BEGINNING});
      }
    }
  }
  std::vector<RawRecord> out;
  if (parts.empty()) return out;
  KSTREAMS_RETURN_IF_ERROR(consumer->assign(parts));
  // Under read_committed the high watermark is the last stable offset; transaction markers and
  // aborted records are never delivered, so completion is judged by partition EOF events (the
  // consumer's position reached the end), never by counting records.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto done = [&] {
    for (const auto& p : parts) {
      if (!consumer->at_end(p.topic, p.partition)) return false;
    }
    return true;
  };
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError("read_all: did not reach the end of every partition in time");
    }
    KSTREAMS_ASSIGN_OR_RETURN(auto batch, consumer->poll(milliseconds(200), 10000));
    for (auto& r : batch) out.push_back(std::move(r));
  }
  consumer->close();
  return out;
}

}  // namespace kstreams::runtime
