// bench_ceiling: the raw librdkafka ceiling contender of bench/harness/PROTOCOL.md. A consumer
// (group --app-id) subscribed to the scenario's input topics, and a producer that copies key, value
// and timestamp of every record to P-out: no processing, no state, no serdes. What a stream
// processor could reach at best on this broker and machine with librdkafka.
//
//   bench_ceiling --scenario S --guarantee at_least_once|exactly_once_v2 --bootstrap B --app-id ID
//                 --prefix P --expect N [--state-dir D (ignored)] [--set k=v ...]
//
// Input topics: P-in (stateless, count, tumbling, hopping), P-in + P-in2 (stream_join), P-in +
// P-table (table_join), P + "orders" (saga). The `restore` scenario has no ceiling (exit 2).
// Counted (first/done): consumed records of the stream-side topics (P-in, P-in2, P+orders); the
// table records of table_join are copied but not counted, like the --expect of the other contenders.
//
// --set k=v is a librdkafka property applied to both clients (a consumer property on the producer
// is ignored by librdkafka with a warning), except `commit.interval.ms` (default 100), the ceiling's
// own commit interval.
//
// at_least_once: idempotent producer; offsets are committed (async, rd_kafka_commit) only for
// records whose produced copies were delivered. Records produced in one commit interval form an
// epoch; when an interval ends the epoch is closed with a snapshot of the consumed positions; once
// every earlier epoch and this one have no record in flight, its snapshot is committed. The consumer
// never waits for the producer. On revocation and at shutdown: flush, then commit synchronously.
//
// exactly_once_v2: one transactional producer (transactional.id = <app-id>-ceiling-<random hex>,
// the same for every partition, like Kafka Streams' per-thread producer), read_committed consumer.
// A transaction begins at the first record and commits after commit.interval.ms (100, Kafka Streams'
// EOS default): send_offsets_to_transaction (positions of the partitions consumed in it, the
// consumer's group metadata), commit_transaction. A retriable error retries the call; an abortable
// one aborts and rewinds the assigned partitions to their committed offsets; a fatal one is an
// `error` event and exit 1. On revocation the open transaction commits (aborts when the partitions
// were lost); on SIGTERM/SIGINT it commits, then the consumer closes.
//
// Events (stdout): ready at the first assignment; first/done from the counter of copied records the
// broker acknowledged (delivery reports), not of records consumed or queued in the producer: a copy
// loop outruns its producer by up to the producer queue (100,000 records), so counting at
// consumption would report a backlog "done" while most of it still waits to be sent.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "contenders/contender.h"

namespace {

using Clock = std::chrono::steady_clock;
using kbench::ContenderArgs;

constexpr int kMaxBatch = 1000;  // records taken from the consumer queue per loop iteration

struct RkDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct TplDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct CgmdDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* m) const { rd_kafka_consumer_group_metadata_destroy(m); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
using TplPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, TplDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

// Next offset to consume per (input topic, partition); -1 where nothing was consumed.
class Positions {
 public:
  explicit Positions(size_t topics) : next_(topics) {}
  void set(size_t topic, int32_t partition, int64_t next) {
    auto& v = next_[topic];
    if (static_cast<size_t>(partition) >= v.size()) v.resize(static_cast<size_t>(partition) + 1, -1);
    v[static_cast<size_t>(partition)] = next;
  }
  [[nodiscard]] bool empty() const {
    for (const auto& v : next_) {
      for (int64_t o : v) {
        if (o >= 0) return false;
      }
    }
    return true;
  }
  void clear() {
    for (auto& v : next_) v.clear();
  }
  [[nodiscard]] TplPtr to_list(const std::vector<std::string>& topics) const {
    TplPtr list(rd_kafka_topic_partition_list_new(8));
    for (size_t t = 0; t < next_.size(); ++t) {
      for (size_t p = 0; p < next_[t].size(); ++p) {
        if (next_[t][p] >= 0) {
          rd_kafka_topic_partition_list_add(list.get(), topics[t].c_str(), static_cast<int32_t>(p))->offset =
              next_[t][p];
        }
      }
    }
    return list;
  }

 private:
  std::vector<std::vector<int64_t>> next_;
};

class Ceiling {
 public:
  Ceiling(ContenderArgs args, std::vector<std::string> topics, size_t counted_topics)
      : args_(std::move(args)),
        topics_(std::move(topics)),
        counted_topics_(counted_topics),
        consumed_(topics_.size()),
        txn_positions_(topics_.size()) {}

  // Creates both clients (kInvalidArgument for a bad --set) and subscribes.
  absl::Status init();
  // Runs until a stop signal; commits and closes. An error status means a fatal failure.
  absl::Status run();
  [[nodiscard]] const std::atomic<int64_t>& counter() const { return processed_; }

 private:
  absl::Status configure(rd_kafka_conf_t* conf, bool consumer);
  void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void on_delivery(const rd_kafka_message_t* m);
  size_t topic_index(rd_kafka_topic_t* rkt);
  absl::Status copy(const rd_kafka_message_t* m);
  absl::Status step();
  // at_least_once.
  void close_epoch();
  // Forgets every epoch; delivery reports of their records (if any are still in flight) are ignored.
  void reset_epochs() {
    epoch_base_ += epochs_.size();
    epochs_.clear();
  }
  void commit_finished_epochs();
  absl::Status commit_all_sync();
  // exactly_once_v2.
  absl::Status begin_if_needed();
  absl::Status commit_transaction();
  absl::Status abort_and_rewind(bool rewind);
  absl::Status check_txn_error(rd_kafka_error_t* raw, const char* what, bool* retry, bool* abort);

  ContenderArgs args_;
  std::vector<std::string> topics_;  // the counted (stream-side) topics first
  size_t counted_topics_;
  std::chrono::milliseconds commit_interval_{100};
  std::unique_ptr<rd_kafka_t, RkDeleter> consumer_, producer_;
  std::unique_ptr<rd_kafka_topic_t, TopicDeleter> out_;
  std::vector<std::pair<rd_kafka_topic_t*, size_t>> topic_cache_;
  std::atomic<int64_t> processed_{0};
  bool ready_ = false;
  bool in_rebalance_ = false;  // partitions being revoked are not rewound
  absl::Status failure_;       // set by callbacks; stops the loop

  Positions consumed_;  // every consumed position since the last (re)assignment
  // at_least_once: epochs of produced records, oldest first. Epoch ids are epoch_base_ + index.
  struct Epoch {
    int64_t in_flight = 0;
    bool closed = false;
    TplPtr snapshot;  // positions when the epoch closed
  };
  std::deque<Epoch> epochs_;
  uint64_t epoch_base_ = 0;
  Clock::time_point interval_start_ = Clock::now();
  // exactly_once_v2.
  bool in_txn_ = false;
  Positions txn_positions_;  // partitions consumed in the open transaction
};

absl::Status Ceiling::configure(rd_kafka_conf_t* conf, bool consumer) {
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> absl::Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError("librdkafka setting " + k + "=" + v + ": " + err);
    }
    return absl::OkStatus();
  };
  std::vector<std::pair<std::string, std::string>> own = {{"bootstrap.servers", args_.bootstrap}};
  if (consumer) {
    own.insert(own.end(), {{"group.id", args_.app_id},
                           {"enable.auto.commit", "false"},
                           {"enable.auto.offset.store", "false"},
                           {"auto.offset.reset", "earliest"},
                           {"isolation.level", args_.exactly_once() ? "read_committed" : "read_uncommitted"}});
  } else {
    own.emplace_back("partitioner", "murmur2_random");  // Java's default partitioner
    if (args_.exactly_once()) {
      std::random_device rd;
      char suffix[32];
      std::snprintf(suffix, sizeof(suffix), "%08x%08x", rd(), rd());
      own.emplace_back("transactional.id", args_.app_id + "-ceiling-" + suffix);
    } else {
      own.emplace_back("enable.idempotence", "true");
    }
  }
  for (const auto& [k, v] : own) {
    if (k != "bootstrap.servers" && k != "transactional.id") {
      kbench::report_setting(std::string(consumer ? "consumer." : "producer.") + k, v);
    }
    KSTREAMS_RETURN_IF_ERROR(set(k, v));
  }
  for (const auto& [k, v] : args_.sets) {
    if (k == "commit.interval.ms") continue;
    KSTREAMS_RETURN_IF_ERROR(set(k, v));
  }
  rd_kafka_conf_set_opaque(conf, this);
  return absl::OkStatus();
}

absl::Status Ceiling::init() {
  for (const auto& [k, v] : args_.sets) {
    if (k == "commit.interval.ms") {
      char* end = nullptr;
      const long ms = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || ms < 1) return absl::InvalidArgumentError("commit.interval.ms must be >= 1");
      commit_interval_ = std::chrono::milliseconds(ms);
    }
  }
  kbench::report_setting("commit.interval.ms", std::to_string(commit_interval_.count()));
  char err[512];
  rd_kafka_conf_t* pconf = rd_kafka_conf_new();
  if (auto st = configure(pconf, false); !st.ok()) {
    rd_kafka_conf_destroy(pconf);
    return st;
  }
  rd_kafka_conf_set_dr_msg_cb(pconf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<Ceiling*>(opaque)->on_delivery(m);
  });
  producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err)));
  if (!producer_) {
    rd_kafka_conf_destroy(pconf);
    return absl::InvalidArgumentError(std::string("producer: ") + err);
  }
  out_.reset(rd_kafka_topic_new(producer_.get(), args_.out().c_str(), nullptr));
  if (args_.exactly_once()) {
    ErrorPtr e(rd_kafka_init_transactions(producer_.get(), 60000));
    if (e) return absl::UnavailableError(std::string("init_transactions: ") + rd_kafka_error_string(e.get()));
  }

  rd_kafka_conf_t* cconf = rd_kafka_conf_new();
  if (auto st = configure(cconf, true); !st.ok()) {
    rd_kafka_conf_destroy(cconf);
    return st;
  }
  rd_kafka_conf_set_rebalance_cb(
      cconf, [](rd_kafka_t* rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t* parts, void* opaque) {
        static_cast<Ceiling*>(opaque)->on_rebalance(rk, e, parts);
      });
  rd_kafka_conf_set_offset_commit_cb(
      cconf, [](rd_kafka_t*, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t*, void*) {
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
          std::fprintf(stderr, "bench_ceiling: offset commit failed: %s\n", rd_kafka_err2str(e));
        }
      });
  consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err)));
  if (!consumer_) {
    rd_kafka_conf_destroy(cconf);
    return absl::InvalidArgumentError(std::string("consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(consumer_.get());
  TplPtr subscription(rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size())));
  for (const auto& t : topics_) rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto e = rd_kafka_subscribe(consumer_.get(), subscription.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(std::string("subscribe: ") + rd_kafka_err2str(e));
  }
  return absl::OkStatus();
}

void Ceiling::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      ErrorPtr e(rd_kafka_incremental_assign(rk, partitions));
    } else {
      rd_kafka_assign(rk, partitions);
    }
    if (!ready_) {
      ready_ = true;
      kbench::emit_ready();
    }
    return;
  }
  // Revocation: finish what was consumed from the partitions before they go.
  absl::Status st;
  in_rebalance_ = true;
  if (args_.exactly_once()) {
    st = in_txn_ ? (rd_kafka_assignment_lost(rk) ? abort_and_rewind(false) : commit_transaction()) : absl::OkStatus();
  } else if (!rd_kafka_assignment_lost(rk)) {
    st = commit_all_sync();
  }
  in_rebalance_ = false;
  if (!st.ok() && failure_.ok()) failure_ = st;
  consumed_.clear();
  txn_positions_.clear();
  reset_epochs();
  if (cooperative) {
    ErrorPtr e(rd_kafka_incremental_unassign(rk, partitions));
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

void Ceiling::on_delivery(const rd_kafka_message_t* m) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Under EOS the transaction fails with an abortable error at commit; under at_least_once a
    // record that was not delivered must not have its offset committed: stop.
    if (!args_.exactly_once() && failure_.ok()) {
      failure_ = absl::UnavailableError(std::string("delivery failed: ") + rd_kafka_err2str(m->err));
    }
  }
  // The opaque is (epoch id << 1) | counted: bit 0 says whether the record came from a counted
  // (stream-side) topic, the rest is its at_least_once epoch.
  const auto tag = reinterpret_cast<uintptr_t>(m->_private);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && (tag & 1U) != 0) processed_.fetch_add(1, std::memory_order_relaxed);
  if (args_.exactly_once()) return;
  const uintptr_t id = tag >> 1U;
  if (id >= epoch_base_ && id - epoch_base_ < epochs_.size()) epochs_[id - epoch_base_].in_flight -= 1;
}

size_t Ceiling::topic_index(rd_kafka_topic_t* rkt) {
  for (const auto& [t, i] : topic_cache_) {
    if (t == rkt) return i;
  }
  const char* name = rd_kafka_topic_name(rkt);
  for (size_t i = 0; i < topics_.size(); ++i) {
    if (topics_[i] == name) {
      topic_cache_.emplace_back(rkt, i);
      return i;
    }
  }
  return topics_.size();
}

absl::Status Ceiling::copy(const rd_kafka_message_t* m) {
  const size_t t = topic_index(m->rkt);
  if (t >= topics_.size()) return absl::OkStatus();  // not subscribed: cannot happen
  if (args_.exactly_once()) KSTREAMS_RETURN_IF_ERROR(begin_if_needed());
  rd_kafka_timestamp_type_t tstype;
  const int64_t ts = rd_kafka_message_timestamp(m, &tstype);
  uintptr_t tag = t < counted_topics_ ? 1U : 0U;
  if (!args_.exactly_once()) {
    if (epochs_.empty()) epochs_.emplace_back();
    epochs_.back().in_flight += 1;
    tag |= static_cast<uintptr_t>(epoch_base_ + epochs_.size() - 1) << 1U;
  }
  void* opaque = reinterpret_cast<void*>(tag);
  for (;;) {
    const rd_kafka_resp_err_t e =
        rd_kafka_producev(producer_.get(), RD_KAFKA_V_RKT(out_.get()), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
                          RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_TIMESTAMP(ts >= 0 ? ts : 0),
                          RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_.get(), 5);
      continue;
    }
    if (!args_.exactly_once()) epochs_.back().in_flight -= 1;
    return absl::UnavailableError(std::string("produce: ") + rd_kafka_err2str(e));
  }
  consumed_.set(t, m->partition, m->offset + 1);
  if (args_.exactly_once()) txn_positions_.set(t, m->partition, m->offset + 1);
  return absl::OkStatus();
}

// One loop iteration: up to kMaxBatch records, then delivery reports and commits.
absl::Status Ceiling::step() {
  const bool pending = in_txn_ || !epochs_.empty();
  int timeout_ms = pending ? 5 : 100;
  for (int n = 0; n < kMaxBatch; ++n) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), timeout_ms);
    timeout_ms = 0;
    if (m == nullptr) break;
    absl::Status st;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      st = copy(m);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      char fatal[256];
      if (rd_kafka_fatal_error(consumer_.get(), fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        st = absl::FailedPreconditionError(std::string("consumer: ") + fatal);
      } else {
        std::fprintf(stderr, "bench_ceiling: consumer: %s\n", rd_kafka_message_errstr(m));
      }
    }
    rd_kafka_message_destroy(m);
    if (!st.ok() && args_.exactly_once()) {
      std::fprintf(stderr, "bench_ceiling: %s: aborting the transaction\n", st.ToString().c_str());
      return abort_and_rewind(true);
    }
    KSTREAMS_RETURN_IF_ERROR(st);
    if (!failure_.ok()) return failure_;
  }
  rd_kafka_poll(producer_.get(), 0);
  KSTREAMS_RETURN_IF_ERROR(failure_);
  if (Clock::now() - interval_start_ >= commit_interval_) {
    if (args_.exactly_once()) {
      if (in_txn_) KSTREAMS_RETURN_IF_ERROR(commit_transaction());
    } else {
      close_epoch();
    }
    interval_start_ = Clock::now();
  }
  if (!args_.exactly_once()) commit_finished_epochs();
  return failure_;
}

void Ceiling::close_epoch() {
  if (epochs_.empty() || epochs_.back().closed) return;
  epochs_.back().closed = true;
  epochs_.back().snapshot = consumed_.to_list(topics_);
}

// Commits the snapshot of the newest closed epoch whose records, and every earlier epoch's, were
// all delivered.
void Ceiling::commit_finished_epochs() {
  TplPtr latest;
  while (!epochs_.empty() && epochs_.front().closed && epochs_.front().in_flight == 0) {
    latest = std::move(epochs_.front().snapshot);
    epochs_.pop_front();
    epoch_base_ += 1;
  }
  if (latest && latest->cnt > 0) rd_kafka_commit(consumer_.get(), latest.get(), /*async=*/1);
}

absl::Status Ceiling::commit_all_sync() {
  if (rd_kafka_flush(producer_.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError("flush timed out: offsets not committed");
  }
  KSTREAMS_RETURN_IF_ERROR(failure_);
  reset_epochs();
  TplPtr list = consumed_.to_list(topics_);
  if (list->cnt == 0) return absl::OkStatus();
  if (auto e = rd_kafka_commit(consumer_.get(), list.get(), /*async=*/0); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(std::string("commit: ") + rd_kafka_err2str(e));
  }
  return absl::OkStatus();
}

// Classifies a transactional API error: ok (no error), retry, abort, or a fatal status.
absl::Status Ceiling::check_txn_error(rd_kafka_error_t* raw, const char* what, bool* retry, bool* abort) {
  ErrorPtr e(raw);
  *retry = *abort = false;
  if (!e) return absl::OkStatus();
  std::fprintf(stderr, "bench_ceiling: %s: %s\n", what, rd_kafka_error_string(e.get()));
  if (rd_kafka_error_is_retriable(e.get())) {
    *retry = true;
  } else if (rd_kafka_error_txn_requires_abort(e.get())) {
    *abort = true;
  } else {
    return absl::FailedPreconditionError(std::string(what) + ": " + rd_kafka_error_string(e.get()));
  }
  return absl::OkStatus();
}

absl::Status Ceiling::begin_if_needed() {
  if (in_txn_) return absl::OkStatus();
  ErrorPtr e(rd_kafka_begin_transaction(producer_.get()));
  if (e) return absl::FailedPreconditionError(std::string("begin_transaction: ") + rd_kafka_error_string(e.get()));
  in_txn_ = true;
  interval_start_ = Clock::now();
  return absl::OkStatus();
}

absl::Status Ceiling::commit_transaction() {
  bool retry = false, abort = false;
  TplPtr offsets = txn_positions_.to_list(topics_);
  if (offsets->cnt > 0) {
    std::unique_ptr<rd_kafka_consumer_group_metadata_t, CgmdDeleter> meta(
        rd_kafka_consumer_group_metadata(consumer_.get()));
    do {
      KSTREAMS_RETURN_IF_ERROR(
          check_txn_error(rd_kafka_send_offsets_to_transaction(producer_.get(), offsets.get(), meta.get(), 60000),
                          "send_offsets_to_transaction", &retry, &abort));
    } while (retry);
    if (abort) return abort_and_rewind(true);
  }
  do {
    KSTREAMS_RETURN_IF_ERROR(
        check_txn_error(rd_kafka_commit_transaction(producer_.get(), 60000), "commit_transaction", &retry, &abort));
  } while (retry);
  if (abort) return abort_and_rewind(true);
  in_txn_ = false;
  txn_positions_.clear();
  return absl::OkStatus();
}

// Aborts the open transaction; with `rewind`, every assigned partition goes back to its committed
// offset (the records of the aborted transaction are consumed and produced again).
absl::Status Ceiling::abort_and_rewind(bool rewind) {
  bool retry = false, abort = false;
  do {
    KSTREAMS_RETURN_IF_ERROR(
        check_txn_error(rd_kafka_abort_transaction(producer_.get(), 60000), "abort_transaction", &retry, &abort));
  } while (retry);
  in_txn_ = false;
  txn_positions_.clear();
  if (!rewind || in_rebalance_) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (auto e = rd_kafka_assignment(consumer_.get(), &raw); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(std::string("assignment: ") + rd_kafka_err2str(e));
  }
  TplPtr assigned(raw);
  if (assigned->cnt == 0) return absl::OkStatus();
  if (auto e = rd_kafka_committed(consumer_.get(), assigned.get(), 30000); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(std::string("committed: ") + rd_kafka_err2str(e));
  }
  for (int i = 0; i < assigned->cnt; ++i) {
    if (assigned->elems[i].offset < 0) assigned->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  ErrorPtr e(rd_kafka_seek_partitions(consumer_.get(), assigned.get(), 30000));
  if (e) return absl::UnavailableError(std::string("seek: ") + rd_kafka_error_string(e.get()));
  std::fprintf(stderr, "bench_ceiling: transaction aborted; %d partitions rewound to their committed offsets\n",
               assigned->cnt);
  return absl::OkStatus();
}

absl::Status Ceiling::run() {
  absl::Status st;
  while (!kbench::stop_requested() && st.ok()) st = step();
  if (st.ok()) {
    st = args_.exactly_once() ? (in_txn_ ? commit_transaction() : absl::OkStatus()) : commit_all_sync();
  }
  rd_kafka_consumer_close(consumer_.get());  // revokes: nothing is left to commit
  if (st.ok() && !failure_.ok()) st = failure_;
  if (rd_kafka_flush(producer_.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR && st.ok()) {
    st = absl::UnavailableError("flush at close timed out");
  }
  return st;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = kbench::parse_args(argc, argv, /*needs_state_dir=*/false);
  if (!args.ok()) {
    std::fprintf(stderr, "bench_ceiling: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  std::vector<std::string> topics;
  size_t counted = 1;
  const std::string& s = args->scenario;
  if (s == "restore") {
    std::fprintf(stderr, "bench_ceiling: the restore scenario has no ceiling (nothing to consume)\n");
    return 2;
  } else if (s == "saga") {
    topics = {args->prefix + "orders"};
  } else if (s == "stream_join") {
    topics = {args->in(), args->in2()};
    counted = 2;
  } else if (s == "table_join") {
    topics = {args->in(), args->table()};
  } else {
    topics = {args->in()};
  }
  kbench::install_stop_signals();
  Ceiling ceiling(*args, topics, counted);
  if (auto st = ceiling.init(); !st.ok()) {
    std::fprintf(stderr, "bench_ceiling: %s\n", std::string(st.message()).c_str());
    if (st.code() == absl::StatusCode::kInvalidArgument) return 2;
    kbench::emit_error(std::string(st.message()));
    return 1;
  }
  kbench::ProgressMonitor monitor(ceiling.counter(), args->expect);
  const absl::Status st = ceiling.run();
  monitor.stop();
  if (!st.ok()) {
    kbench::emit_error(std::string(st.message()));
    return 1;
  }
  return 0;
}
