#include "stream_thread.h"

#include "offset_reset.h"

#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <thread>

#include "global_state_task.h"
#include "kstreams/common/fault_points.h"
#include "kstreams/common/logging.h"
#include "record_collector.h"
#include "stream_task.h"

namespace kstreams::runtime {

using namespace std::chrono_literals;

// The per-task collector: output and dead-letter records go through the thread's producer;
// changelog records to `<application.id>-<store>-changelog` at the task's partition.
class TaskCollector final : public RecordCollector {
 public:
  TaskCollector(KafkaProducer* producer, DeferredSends* deferred, std::string application_id, int32_t partition,
                ErrorPolicy production_policy, std::string dead_letter_topic, Counter* production_errors)
      : producer_(producer),
        deferred_(deferred),
        application_id_(std::move(application_id)),
        partition_(partition),
        policy_(production_policy),
        dead_letter_topic_(std::move(dead_letter_topic)),
        production_errors_(production_errors) {}

  // While a pipelined commit is in flight the producer belongs to the committer: records wait in
  // `deferred` (in send order) and replay() sends them once the commit returned.
  void send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
            const Headers& headers, TimestampMs timestamp, int32_t partition) override {
    if (deferred_->active) {
      deferred_->bytes += (key ? key->size() : 0) + (value ? value->size() : 0) + topic.size();
      deferred_->entries.push_back(
          {this, false, topic, std::move(key), std::move(value), headers, timestamp, partition});
      return;
    }
    send_now(topic, key, value, headers, timestamp, partition);
  }
  // Changelog records are never skipped: a store without its changelog would diverge.
  void append(const std::string& store, std::string_view key, std::optional<std::string_view> value,
              TimestampMs timestamp) override {
    std::optional<std::string> v;
    if (value) v.emplace(*value);
    if (deferred_->active) {
      deferred_->bytes += key.size() + (v ? v->size() : 0) + store.size();
      deferred_->entries.push_back({this,
                                    true,
                                    changelog_topic(application_id_, store),
                                    std::string(key),
                                    std::move(v),
                                    {},
                                    timestamp,
                                    partition_});
      return;
    }
    record(producer_->send(changelog_topic(application_id_, store), partition_, std::string(key), v, Headers{},
                           timestamp));
  }
  // Sends a deferred record as send()/append() would have at the time.
  void replay(const DeferredSend& d) {
    if (d.changelog) {
      record(producer_->send(d.topic, d.partition, d.key, d.value, Headers{}, d.timestamp));
    } else {
      send_now(d.topic, d.key, d.value, d.headers, d.timestamp, d.partition);
    }
  }

  // Output records: a record the client refuses (too large, ...) goes to the production handler
  // (default.production.exception.handler): fail stops the thread, continue drops and counts it,
  // dead-letter sends it to the dead-letter topic with headers saying why.
  void send_now(const std::string& topic, const std::optional<std::string>& key,
                const std::optional<std::string>& value, const Headers& headers, TimestampMs timestamp,
                int32_t partition) {
    absl::Status st = producer_->send(topic, partition, key, value, headers, timestamp);
    if (st.code() != absl::StatusCode::kInvalidArgument || policy_ == ErrorPolicy::kFail) {
      record(std::move(st));
      return;
    }
    production_errors_->increment();
    KS_LOG_WARN("task [{}] production error ({}): {}", partition_,
                policy_ == ErrorPolicy::kContinue ? "continue" : "dead-letter", std::string(st.message()));
    if (policy_ == ErrorPolicy::kDeadLetter) {
      Headers dlq = headers;
      dlq.set("dlq.error", "PRODUCTION");
      dlq.set("dlq.message", std::string(st.message()));
      dlq.set("dlq.target.topic", topic);
      // The refused record may be too large for the dead-letter topic as well: then the value (and
      // if need be the key) is left out and flagged, so that the loss is visible, never silent.
      absl::Status dead = producer_->send(dead_letter_topic_, -1, key, value, dlq, timestamp);
      if (dead.code() == absl::StatusCode::kInvalidArgument) {
        dlq.set("dlq.value.dropped", "true");
        dead = producer_->send(dead_letter_topic_, -1, key, std::nullopt, dlq, timestamp);
      }
      if (dead.code() == absl::StatusCode::kInvalidArgument) {  // the key alone is too large
        dlq.set("dlq.key.dropped", "true");
        dead = producer_->send(dead_letter_topic_, -1, std::nullopt, std::nullopt, dlq, timestamp);
      }
      record(std::move(dead));
    }
  }
  // The first send error since the last call.
  absl::Status take_error() {
    absl::Status st = error_;
    error_ = absl::OkStatus();
    return st;
  }

 private:
  void record(absl::Status st) {
    if (!st.ok() && error_.ok()) error_ = std::move(st);
  }
  KafkaProducer* producer_;
  DeferredSends* deferred_;
  std::string application_id_;
  int32_t partition_;
  ErrorPolicy policy_;
  std::string dead_letter_topic_;
  Counter* production_errors_;
  absl::Status error_;
};

CommitWorker::CommitWorker(std::string name, std::function<void()> on_done) : on_done_(std::move(on_done)) {
  thread_ = std::thread([this, name = std::move(name)] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    loop();
  });
}

CommitWorker::~CommitWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CommitWorker::start(std::function<absl::Status()> job) {
  {
    std::lock_guard lock(mu_);
    job_ = std::move(job);
    done_.store(false, std::memory_order_release);
  }
  cv_.notify_all();
}

absl::Status CommitWorker::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_.load(std::memory_order_acquire); });
  return result_;
}

void CommitWorker::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || job_ != nullptr; });
    if (job_ == nullptr) return;  // stop_ with nothing to run
    auto job = std::move(job_);
    job_ = nullptr;
    lock.unlock();
    absl::Status result = job();
    lock.lock();
    result_ = std::move(result);
    done_.store(true, std::memory_order_release);
    cv_.notify_all();
    if (on_done_) on_done_();
  }
}

namespace {

// An integer client setting from `props`, or `fallback` when it is not set (or not a number).
int64_t setting_of(const std::map<std::string, std::string>& props, const char* key, int64_t fallback) {
  auto it = props.find(key);
  if (it == props.end()) return fallback;
  int64_t n = 0;
  const auto r = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return r.ec == std::errc() ? n : fallback;
}

ErrorPolicy parse_policy(const std::string& name) {
  if (name == "continue") return ErrorPolicy::kContinue;
  if (name == "fail") return ErrorPolicy::kFail;
  return ErrorPolicy::kDeadLetter;
}

const char* to_string(ThreadState s) {
  switch (s) {
    case ThreadState::kCreated:
      return "CREATED";
    case ThreadState::kStarting:
      return "STARTING";
    case ThreadState::kPartitionsRevoked:
      return "PARTITIONS_REVOKED";
    case ThreadState::kPartitionsAssigned:
      return "PARTITIONS_ASSIGNED";
    case ThreadState::kRunning:
      return "RUNNING";
    case ThreadState::kPendingShutdown:
      return "PENDING_SHUTDOWN";
    case ThreadState::kDead:
      return "DEAD";
  }
  return "?";
}
}  // namespace

StreamThread::StreamThread(int index, ThreadContext context)
    : index_(index),
      name_(context.config->application_id() + "-StreamThread-" + std::to_string(index + 1)),
      ctx_(std::move(context)) {
  changelog_cache_ = std::make_unique<state::ChangelogCache>(
      static_cast<size_t>(ctx_.config->get_long(config::kStateStoreCacheMaxBytes) /
                          std::max<int64_t>(1, ctx_.config->get_long(config::kNumStreamThreads))));
  const Labels labels{{"thread", name_}};
  auto& m = *ctx_.metrics;
  processed_total_ = &m.counter("kstreams_thread_process_records_total", "Records processed by the thread", labels);
  commits_total_ = &m.counter("kstreams_thread_commits_total", "Commits (transactions under EOS) completed", labels);
  aborts_total_ = &m.counter("kstreams_thread_transaction_aborts_total", "Transactions aborted", labels);
  rebalances_total_ = &m.counter("kstreams_thread_rebalances_total", "Partition assignments received", labels);
  commit_latency_ =
      &m.histogram("kstreams_thread_commit_latency_ms", "Duration of a commit", labels, latency_buckets_ms());
  static constexpr const char* kPhases[] = {"prepare", "flush", "offsets", "end", "stores"};
  for (size_t i = 0; i < std::size(kPhases); ++i) {
    commit_phase_[i] = &m.histogram("kstreams_thread_commit_phase_ms",
                                    "Duration of each phase of a commit: prepare (tasks hand over their output), flush "
                                    "(every record acknowledged), offsets (input offsets into the transaction), end "
                                    "(EndTxn), stores (local stores apply the committed writes)",
                                    {{"thread", name_}, {"phase", kPhases[i]}}, latency_buckets_ms());
  }
  lag_ = &m.gauge("kstreams_thread_consumer_lag_records", "Records behind the end of the assigned partitions", labels);
  restore_remaining_ = &m.gauge("kstreams_restore_remaining_records", "Changelog records left to restore", labels);
  restored_total_ = &m.counter("kstreams_restore_records_total", "Changelog records restored", labels);
  production_errors_ = &m.counter("kstreams_thread_production_errors_total",
                                  "Output records the client refused (production handler)", labels);
  fetcher_kicks_ = &m.counter("kstreams_thread_fetcher_wakeups_total",
                              "Times the thread woke a consumer fetcher stalled on its full prefetch queue", labels);
  degraded_gauge_ =
      &m.gauge("kstreams_thread_degraded",
               "1 while the thread retries a retriable error (the broker is away or slow), else 0", labels);
  retriable_errors_ = &m.counter("kstreams_thread_retriable_errors_total",
                                 "Retriable errors the thread backed off from and retried", labels);
  commit_backpressure_ = &m.counter(
      "kstreams_thread_commit_backpressure_total",
      "Times processing waited for a commit in flight (commit.pipelined.max.buffered.bytes reached)", labels);
}

StreamThread::~StreamThread() {
  shutdown();
  join();
}

void StreamThread::start() {
  set_state(ThreadState::kStarting);
  thread_ = std::thread([this] { run(); });
}

void StreamThread::shutdown(std::chrono::steady_clock::time_point deadline) {
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    shutdown_deadline_ns_.store(deadline.time_since_epoch().count(), std::memory_order_relaxed);
  }
  shutdown_requested_ = true;
}

void StreamThread::join() {
  if (thread_.joinable()) thread_.join();
}

absl::Status StreamThread::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void StreamThread::set_state(ThreadState s) {
  const ThreadState old = state_.exchange(s);
  if (old != s) KS_LOG_DEBUG("stream-thread [{}] state {} -> {}", name_, to_string(old), to_string(s));
}

absl::Status StreamThread::run_on_thread(const std::function<void()>& fn, std::chrono::milliseconds timeout) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    fn();
    return absl::OkStatus();
  }
  if (state_.load() == ThreadState::kDead) return absl::UnavailableError("stream thread is not running");
  return mailbox_.call(fn, timeout);
}

void StreamThread::drain_mailbox() { mailbox_.drain(); }

std::vector<TaskId> StreamThread::active_tasks() const {
  std::lock_guard lock(mu_);
  return snapshot_tasks_;
}
std::vector<TaskId> StreamThread::restoring_tasks() const {
  std::lock_guard lock(mu_);
  return snapshot_restoring_;
}
std::vector<std::pair<std::string, int32_t>> StreamThread::assigned_partitions() const {
  std::lock_guard lock(mu_);
  return snapshot_partitions_;
}

StreamTask* StreamThread::task(TaskId id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second.task.get();
}

state::ProcessorStateManager* StreamThread::state_manager(TaskId id) {
  if (auto it = tasks_.find(id); it != tasks_.end()) return it->second.task->state_manager();
  if (auto it = restoring_.find(id); it != restoring_.end()) return it->second.manager.get();
  return nullptr;
}

state::StateStore* StreamThread::global_store(std::string_view name) {
  return global_ ? global_->store(name) : nullptr;
}

absl::Status StreamThread::create_clients() {
  const auto& cfg = *ctx_.config;
  auto props = cfg.client_settings_with_defaults("consumer.");
  props["group.id"] = cfg.application_id();
  props["client.id"] = ctx_.process_id + "-" + name_ + "-consumer";
  // Static membership (consumer.group.instance.id): each thread is its own static member, so the
  // thread number is appended (as Kafka Streams does). Restarted within session.timeout.ms, the
  // member gets its partitions back without a rebalance; a clean close does not leave the group.
  if (auto it = props.find("group.instance.id"); it != props.end() && !it->second.empty()) {
    it->second += "-" + name_.substr(name_.rfind('-') + 1);
  }
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props.emplace("session.timeout.ms", cfg.get_string(config::kSessionTimeoutMs));
  props["enable.partition.eof"] = "true";  // positions of caught-up partitions (max.task.idle.ms)
  read_committed_ = props["isolation.level"] == "read_committed";
  KSTREAMS_ASSIGN_OR_RETURN(auto conf, rdk::make_conf(props));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &StreamThread::rebalance_cb);
  rd_kafka_conf_set_opaque(conf.get(), this);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof(err));
  if (rk == nullptr) return absl::InvalidArgumentError(std::string("creating consumer: ") + err);
  conf.release();
  consumer_.reset(rk);
  rd_kafka_poll_set_consumer(rk);
  consumer_queue_.reset(rd_kafka_queue_get_consumer(rk));
  main_fetch_ = FetchQueueWatch{};
  main_fetch_.max_records = setting_of(props, "queued.min.messages", 100000);
  main_fetch_.max_bytes = setting_of(props, "queued.max.messages.kbytes", 65536) * 1024;

  // Throughput: restoration reads changelogs from start to end, so large fetches and a deep
  // prefetch queue pay (see the table; restore_step wakes a stalled fetcher).
  auto rprops = cfg.client_settings_with_defaults("restore.consumer.");
  rprops["enable.auto.commit"] = "false";
  rprops["isolation.level"] = "read_committed";
  rprops["enable.partition.eof"] = "true";
  rprops["client.id"] = ctx_.process_id + "-" + name_ + "-restore-consumer";
  restore_fetch_.max_records = setting_of(rprops, "queued.min.messages", 100000);
  restore_fetch_.max_bytes = setting_of(rprops, "queued.max.messages.kbytes", 65536) * 1024;
  KSTREAMS_ASSIGN_OR_RETURN(restore_consumer_, PartitionReader::create(rprops, "restore consumer"));

  const std::string txn_id =
      cfg.exactly_once() ? cfg.application_id() + "-" + ctx_.process_id + "-" + std::to_string(index_) : "";
  KSTREAMS_ASSIGN_OR_RETURN(producer_, KafkaProducer::create(cfg, txn_id, ctx_.process_id + "-" + name_ + "-producer"));
  producer_->set_deadline(&shutdown_deadline_ns_);
  KSTREAMS_RETURN_IF_ERROR(producer_->init_transactions());
  std::vector<std::string> outputs = {cfg.dead_letter_topic()};
  for (const auto& sub : ctx_.topology->subtopologies()) {
    for (const auto& sink : sub.sink_topics) outputs.push_back(sink.full_name(cfg.application_id()));
  }
  for (const auto& [changelog, sub] : ctx_.topology->changelog_topics(cfg.application_id()))
    outputs.push_back(changelog);
  producer_->warm_up(outputs);

  KSTREAMS_RETURN_IF_ERROR(init_global());

  rdk::TopicPartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(ctx_.source_topics.size())));
  for (const auto& t : ctx_.source_topics)
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  return rdk::to_status(rd_kafka_subscribe(consumer_.get(), topics.get()), "subscribe");
}

absl::Status StreamThread::init_global() {
  if (ctx_.topology->global_stores().empty()) return absl::OkStatus();
  const auto& cfg = *ctx_.config;
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::path(cfg.get_string(config::kStateDir)) / cfg.application_id() / ("global-" + std::to_string(index_));
  std::error_code ec;
  fs::remove_all(dir, ec);  // the global topics are the changelog: rebuild the copy from them
  if (global_) (void)global_->close();
  global_.reset();
  state::StateManagerOptions opts;
  opts.task = TaskId{-1, index_};
  opts.task_dir = dir;
  opts.resources = ctx_.store_resources;
  opts.metrics = ctx_.metrics;
  KSTREAMS_ASSIGN_OR_RETURN(auto manager,
                            state::ProcessorStateManager::open(opts, GlobalStateTask::store_specs(*ctx_.topology)));
  global_ = std::make_unique<GlobalStateTask>(*ctx_.topology, std::move(manager));

  auto props = cfg.client_settings("consumer.");
  props["enable.auto.commit"] = "false";
  props["isolation.level"] = "read_committed";
  props["enable.partition.eof"] = "true";
  props.emplace("client.id", ctx_.process_id + "-" + name_ + "-global-consumer");
  KSTREAMS_ASSIGN_OR_RETURN(global_consumer_, PartitionReader::create(props, "global consumer"));
  rd_kafka_t* rk = global_consumer_->handle();
  std::vector<PartitionReader::Start> starts;
  for (const auto& g : ctx_.topology->global_stores()) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, g.topic.c_str(), nullptr);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 30000);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return rdk::to_status(e, "metadata of global topic " + g.topic);
    const int n = md->topic_cnt > 0 ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (n == 0) return absl::FailedPreconditionError("global topic '" + g.topic + "' does not exist");
    for (int p = 0; p < n; ++p) starts.push_back({g.topic, p, RD_KAFKA_OFFSET_BEGINNING});
  }
  global_partitions_ = starts.size();
  KSTREAMS_RETURN_IF_ERROR(global_consumer_->assign(starts));
  // Bootstrap: every global partition read to its end before any stream task processes.
  const auto t0 = std::chrono::steady_clock::now();
  bool at_end = false;
  while (!at_end) {
    KSTREAMS_RETURN_IF_ERROR(poll_global(500, &at_end));
    if (std::chrono::steady_clock::now() - t0 > std::chrono::minutes(5)) {
      return absl::UnavailableError("global stores did not finish bootstrapping within 5 minutes");
    }
  }
  KS_LOG_INFO("stream-thread [{}] global stores bootstrapped from {} partition(s)", name_, global_partitions_);
  return absl::OkStatus();
}

absl::Status StreamThread::poll_global(int timeout_ms, bool* at_end) {
  std::map<std::pair<std::string, int32_t>, std::vector<RawRecord>> batches;
  int wait = timeout_ms;
  for (int i = 0; i < 10000; ++i) {
    rd_kafka_message_t* msg = rd_kafka_consume_queue(global_consumer_->queue(), wait);
    wait = 0;
    if (msg == nullptr) break;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(msg, rd_kafka_message_destroy);
    if (msg->rkt == nullptr) {  // a client-level event (e.g. all brokers down), not a partition's
      if (msg->err == RD_KAFKA_RESP_ERR__FATAL) return rdk::to_status(msg->err, "global consumer");
      KS_LOG_WARN("stream-thread [{}] global consumer: {}", name_, rd_kafka_err2str(msg->err));
      continue;
    }
    const std::pair<std::string, int32_t> tp{rd_kafka_topic_name(msg->rkt), msg->partition};
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      global_at_end_.insert(tp);
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) return rdk::to_status(msg->err, "global consumer");
    global_at_end_.erase(tp);
    rdk::to_raw_record(msg, &batches[tp].emplace_back());
  }
  for (auto& [tp, records] : batches) KSTREAMS_RETURN_IF_ERROR(global_->add_records(tp.first, tp.second, records));
  if (!batches.empty()) KSTREAMS_RETURN_IF_ERROR(global_->commit());
  *at_end = global_at_end_.size() >= global_partitions_;
  return absl::OkStatus();
}

void StreamThread::run() {
  // "ks-stream-<n>" in top -H, perf and gdb (the kernel keeps 15 characters).
  pthread_setname_np(pthread_self(), ("ks-stream-" + std::to_string(index_ + 1)).substr(0, 15).c_str());
  absl::Status st = create_clients_retrying();
  last_commit_ms_ = ctx_.clock->now_ms();
  // The thread stays STARTING until its first assignment (the instance is REBALANCING until then).
  while (st.ok() && !shutdown_requested_.load()) {
    st = run_once();
    if (st.ok()) {
      if (degraded_.load() && !rewind_pending_) set_degraded(absl::OkStatus());
      continue;
    }
    if (st.code() == absl::StatusCode::kUnavailable) {
      // Retriable (the broker is away or slow): report degraded, back off, try again. Nothing is
      // lost meanwhile: a rewind that did not happen stays pending (rewind_pending_).
      set_degraded(st);
      backoff_while_degraded();
      st = absl::OkStatus();
      continue;
    }
    if (st.code() == absl::StatusCode::kFailedPrecondition) {
      // Task migrated / producer fenced: our tasks now belong to someone else. Close them dirty,
      // start over with new clients and rejoin the group.
      KS_LOG_WARN("stream-thread [{}] {}: closing tasks dirty and rejoining", name_, st.ToString());
      close_all_tasks(/*clean=*/false);
      producer_.reset();
      consumer_queue_.reset();
      // Leave the group now (the broker answers: we were fenced, or our stores diverged), so the
      // rebalance that gives the tasks back does not wait for this member's session to time out.
      if (consumer_) rd_kafka_consumer_close(consumer_.get());
      consumer_.reset();
      restore_consumer_.reset();
      rewind_pending_ = false;  // the new consumer starts from the committed offsets
      st = create_clients_retrying();
    }
  }
  bool leave_group = true;
  if (!st.ok()) {
    KS_LOG_ERROR("stream-thread [{}] failed: {}", name_, st.ToString());
    {
      std::lock_guard lock(mu_);
      error_ = st;
    }
    close_all_tasks(/*clean=*/false);
  } else {
    set_state(ThreadState::kPendingShutdown);
    absl::Status commit = commit_all();
    if (!commit.ok()) {
      KS_LOG_WARN("stream-thread [{}] final commit failed: {}", name_, commit.ToString());
      if (producer_) (void)producer_->abort_transaction();  // bounded by the shutdown deadline
      leave_group = false;  // most likely the broker is unreachable: leaving would wait for it
      close_all_tasks(/*clean=*/false);
    }
    // Committed: the tasks stay open until the group is left, so that their partitions move to the
    // other instances at once; closing the stores (a RocksDB flush each, seconds under load) comes
    // after that.
  }
  consumer_queue_.reset();
  const bool in_time = std::chrono::steady_clock::now().time_since_epoch().count() <
                       shutdown_deadline_ns_.load(std::memory_order_relaxed);
  if (consumer_ && leave_group && in_time) {
    rd_kafka_consumer_close(consumer_.get());  // leaves the group (the revoke callback runs)
  } else if (consumer_) {
    // The broker is unreachable or time is up: leaving the group would wait for it. The group
    // coordinator drops this member after session.timeout.ms instead.
    KS_LOG_WARN("stream-thread [{}] closing without leaving the group ({})", name_,
                in_time ? "the final commit failed" : "shutdown deadline reached");
    rd_kafka_destroy_flags(consumer_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
  close_all_tasks(/*clean=*/true);  // what is still open was committed (suspended by the revocation)
  consumer_.reset();
  producer_.reset();
  // These consumers have no group: nothing to leave, nothing to wait for.
  restore_consumer_.reset();
  if (global_) (void)global_->close();
  global_.reset();
  global_consumer_.reset();
  set_state(ThreadState::kDead);
  mailbox_.close();  // runs what is queued: never leave a query waiting
}

absl::Status StreamThread::create_clients_retrying() {
  for (;;) {
    absl::Status st = create_clients();
    if (st.code() != absl::StatusCode::kUnavailable || shutdown_requested_.load()) {
      if (st.ok() && degraded_.load()) set_degraded(absl::OkStatus());
      return st;
    }
    set_degraded(st);
    producer_.reset();
    consumer_queue_.reset();
    if (consumer_) rd_kafka_destroy_flags(consumer_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    restore_consumer_.reset();
    backoff_while_degraded();
  }
}

void StreamThread::set_degraded(const absl::Status& why) {
  const bool now = !why.ok();
  if (now) {
    retriable_errors_->increment();
    KS_LOG_WARN("stream-thread [{}] degraded, retrying: {}", name_, why.ToString());
  } else {
    KS_LOG_INFO("stream-thread [{}] recovered", name_);
    degraded_backoff_ms_ = 0;
  }
  {
    std::lock_guard lock(mu_);
    degraded_reason_ = now ? why.ToString() : "";
  }
  degraded_.store(now);
  degraded_gauge_->set(now ? 1 : 0);
}

void StreamThread::backoff_while_degraded() {
  degraded_backoff_ms_ = std::clamp<int64_t>(degraded_backoff_ms_ * 2, 100, 5000);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(degraded_backoff_ms_);
  while (std::chrono::steady_clock::now() < until && !shutdown_requested_.load()) {
    // Queries keep being served; the consumer keeps its rebalance callbacks served by run_once().
    drain_mailbox();
    std::this_thread::sleep_for(10ms);
  }
}

std::string StreamThread::degraded_reason() const {
  std::lock_guard lock(mu_);
  return degraded_reason_;
}

absl::Status StreamThread::run_once() {
  if (rewind_pending_) {
    // An abort happened and the consumer could not be rewound yet (the broker did not answer).
    // Nothing may be processed before it is: what the consumer delivers meanwhile is dropped (the
    // rewind re-reads it), and polling serves the rebalance callbacks.
    for (int i = 0; i < 1000; ++i) {
      rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer_.get(), 0);
      if (msg == nullptr) break;
      rd_kafka_message_destroy(msg);
    }
    KSTREAMS_RETURN_IF_ERROR(rewind_to_committed());
  }
  absl::Status commit = finish_pipelined_commit(/*wait=*/false, /*replay=*/true, /*hold=*/true);
  if (!commit.ok()) return handle_commit_error(commit);
  bool buffered = false;
  bool waiting = false;  // a task holds records back for an empty partition (max.task.idle.ms)
  const int64_t now = ctx_.clock->now_ms();
  for (auto& [id, e] : tasks_) {
    if (!e.task->has_buffered()) continue;
    const bool ready = e.task->ready_to_process(now);
    buffered = buffered || ready;
    waiting = waiting || !ready;
  }
  const int64_t poll_ms = ctx_.config->get_long(config::kPollMs);
  auto poll_timeout = buffered ? 0ms : std::chrono::milliseconds(waiting ? std::min<int64_t>(poll_ms, 5) : poll_ms);
  if (!restoring_.empty() && !buffered) {
    // Restoring: the restore consumer does the waiting (unless restore.throttle.ms holds it back).
    poll_timeout = std::chrono::milliseconds(std::clamp<int64_t>(next_restore_ms_ - ctx_.clock->now_ms(), 0, poll_ms));
  }
  // The CommitWorker wakes the poll when the commit returns (rd_kafka_queue_yield); the bound is a
  // safety net only.
  if (inflight_.active) poll_timeout = std::min(poll_timeout, std::chrono::milliseconds(5));
  KSTREAMS_RETURN_IF_ERROR(poll_and_route(poll_timeout));
  KSTREAMS_RETURN_IF_ERROR(retry_deferred_tasks());
  if (global_) {
    bool at_end = false;
    KSTREAMS_RETURN_IF_ERROR(poll_global(0, &at_end));
  }
  drain_mailbox();
  if (!restoring_.empty()) {
    KSTREAMS_RETURN_IF_ERROR(restore_step(buffered ? 0ms : 10ms));
    drain_mailbox();
  }
  size_t processed = 0;
  absl::Status st = process_tasks(&processed);
  if (processed > 0) KS_LOG_DEBUG("stream-thread [{}] processed {}", name_, processed);
  if (!st.ok()) return handle_commit_error(st);
  processed_total_->increment(static_cast<double>(processed));
  if (processed > 0) uncommitted_ = true;
  for (auto& [id, e] : tasks_) {
    st = e.task->punctuate(ctx_.clock->now_ms());
    if (!st.ok()) return handle_commit_error(st);
  }
  if (!inflight_.active) producer_->poll();  // else the CommitWorker serves the delivery reports
  update_pauses();
  record_lag();
  st = maybe_commit();
  if (!st.ok()) return handle_commit_error(st);
  return absl::OkStatus();
}

absl::Status StreamThread::poll_and_route(std::chrono::milliseconds timeout) {
  // Records are grouped per partition and handed to their task once per poll (librdkafka delivers
  // runs of one partition, so the owner lookup happens once per run, not once per record).
  struct Batch {
    std::string topic;
    int32_t partition;
    StreamTask* task;
    std::vector<RawRecord> records;
  };
  std::vector<Batch> batches;
  const rd_kafka_topic_t* run_rkt = nullptr;
  int32_t run_partition = -1;
  Batch* run = nullptr;                     // null with run_rkt set: the run's partition has no running task here
  std::vector<RawRecord>* early = nullptr;  // the run's partition belongs to a restoring task
  int wait = static_cast<int>(timeout.count());
  main_fetch_.observe(rd_kafka_queue_length(consumer_queue_.get()));
  bool drained = false;
  size_t sampled_bytes = 0;
  size_t sampled = 0;
  uint64_t epoch = assignment_epoch_;
  for (int i = 0; i < 5000; ++i) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer_.get(), wait);
    wait = 0;
    if (assignment_epoch_ != epoch) {
      // The rebalance callback ran inside this poll: the tasks (and restoring buffers) the batches
      // point to are closed, and a new task may live at a freed task's address. What was batched
      // belongs to revoked partitions: dropped, their owners re-read it from the committed offsets.
      epoch = assignment_epoch_;
      batches.clear();
      run_rkt = nullptr;
      run_partition = -1;
      run = nullptr;
      early = nullptr;
    }
    if (msg == nullptr) {
      drained = true;
      break;
    }
    if (i < 16) {
      // librdkafka accounts a message as its key + value (rd_kafka_msg_t overhead not counted).
      sampled_bytes += msg->len + msg->key_len;
      ++sampled;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(msg, rd_kafka_message_destroy);
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        end_of_partition(msg);
        continue;
      }
      if (msg->err == RD_KAFKA_RESP_ERR__FATAL) return rdk::to_status(msg->err, "consumer");
      KS_LOG_WARN("stream-thread [{}] consumer: {}", name_, rd_kafka_message_errstr(msg));
      if (msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        return absl::FailedPreconditionError(std::string("source topic missing: ") + rd_kafka_message_errstr(msg));
      }
      continue;
    }
    if (msg->rkt != run_rkt || msg->partition != run_partition) {
      run_rkt = msg->rkt;
      run_partition = msg->partition;
      run = nullptr;
      early = nullptr;
      const std::pair<std::string, int32_t> tp{rd_kafka_topic_name(msg->rkt), msg->partition};
      auto it = partition_to_task_.find(tp);
      auto rit = it == partition_to_task_.end() ? restoring_inputs_.find(tp) : restoring_inputs_.end();
      if (rit != restoring_inputs_.end()) {
        // Delivered before the pause took effect: kept for the task (the consumer's position has
        // moved past them, so dropping them would lose them).
        early = &restoring_.at(rit->second).early[tp];
      } else if (it == partition_to_task_.end()) {
        KS_LOG_DEBUG("stream-thread [{}] dropping records of {}-{}: no task owns it", name_, tp.first, tp.second);
      } else {
        for (auto& b : batches) {
          if (b.partition == tp.second && b.topic == tp.first) run = &b;
        }
        if (run == nullptr)
          run = &batches.emplace_back(Batch{tp.first, tp.second, tasks_.at(it->second).task.get(), {}});
      }
    }
    if (run == nullptr) {
      if (early != nullptr) rdk::to_raw_record(msg, &early->emplace_back());
      continue;  // else revoked meanwhile: it will be re-fetched by its owner
    }
    rdk::to_raw_record(msg, &run->records.emplace_back());
  }
  for (auto& b : batches) b.task->add_records(b.topic, b.partition, std::move(b.records));
  main_fetch_.sample(sampled_bytes, sampled);
  consumer_drained_ = drained;
  bool wake = main_fetch_.should_wake(drained ? 0 : rd_kafka_queue_length(consumer_queue_.get()));
  const std::pair<std::string, int32_t>* behind = nullptr;
  if (drained) {
    // The safety net: nothing left to poll, yet the last fetch responses showed more records than
    // were delivered (the fetcher stopped on a full queue that the sampling above did not see).
    const int64_t now = ctx_.clock->now_ms();
    if (now - last_fetch_check_ms_ >= 100) {
      last_fetch_check_ms_ = now;
      behind = partition_behind();
      wake = wake || behind != nullptr;
    }
  }
  if (wake) {
    main_fetch_.filled = false;
    if (behind == nullptr) {
      for (const auto& entry : partition_to_task_) {
        if (paused_.count(entry.first) == 0) {
          behind = &entry.first;
          break;
        }
      }
    }
    if (behind != nullptr) kick_stalled_fetcher(consumer_.get(), behind->first, behind->second);
  }
  return absl::OkStatus();
}

// A running, unpaused partition whose cached high watermark (from its last fetch response) is
// beyond the position this thread consumed up to; null when there is none.
const std::pair<std::string, int32_t>* StreamThread::partition_behind() {
  for (const auto& entry : partition_to_task_) {
    if (paused_.count(entry.first) == 0 && cached_lag(entry.first) > 0) return &entry.first;
  }
  return nullptr;
}

// The fetcher of librdkafka 2.0 skips a partition whose prefetch queue is at a threshold and
// decides again only when its broker thread wakes up: on a network response (none is due, it sent
// no fetch), a request to send, or its one-second timer. Draining a full queue takes this thread
// far less than a second under a backlog, so it would then wait, idle, for the rest of the second
// (about two thirds of the time at a few hundred thousand records/s; 2.1 added
// fetch.queue.backoff.ms for this). A watermark query of one running partition is a request to the
// partition's leader, whose broker thread also runs the fetcher: it wakes up, sees the queue below
// its threshold and fetches at once. The polling code asks once a full queue is half drained, so
// the fetch refills it while the rest is processed. (Pausing and resuming does not wake it: those
// operations are served by librdkafka's main thread.) Nothing is re-fetched or thrown away; the
// query costs one round trip, bounded here so that a slow broker cannot hold the thread.
void StreamThread::kick_stalled_fetcher(rd_kafka_t* consumer, const std::string& topic, int32_t partition) {
  int64_t low = 0;
  int64_t high = 0;
  const rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(consumer, topic.c_str(), partition, &low, &high, 200);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    KS_LOG_DEBUG("stream-thread [{}] waking the fetcher: {}", name_, rd_kafka_err2str(err));
  }
  fetcher_kicks_->increment();
}

void StreamThread::end_of_partition(const rd_kafka_message_t* msg) {
  // Only after the batches of this poll would be wrong: records of the partition delivered before
  // the EOF are still in `batches`. The task takes max(position, offset), so order does not matter.
  if (msg->rkt == nullptr) return;
  const std::pair<std::string, int32_t> tp{rd_kafka_topic_name(msg->rkt), msg->partition};
  auto it = partition_to_task_.find(tp);
  if (it != partition_to_task_.end()) tasks_.at(it->second).task->end_of_partition(tp.first, tp.second, msg->offset);
}

absl::Status StreamThread::process_tasks(size_t* processed) {
  const int64_t budget_end =
      ctx_.clock->now_ms() + std::max<int64_t>(10, ctx_.config->get_long(config::kCommitIntervalMs));
  const auto max_deferred = static_cast<size_t>(ctx_.config->get_long(config::kCommitPipelinedMaxBytes));
  bool any = true;
  while (any && ctx_.clock->now_ms() < budget_end) {
    any = false;
    for (auto& [id, e] : tasks_) {
      // Back-pressure: a commit in flight holds what is produced meanwhile in memory; past the bound
      // the thread waits for it (the loop polls, serves queries and finishes the commit meanwhile).
      if (deferred_.active && deferred_.bytes >= max_deferred) {
        if (!deferred_full_) commit_backpressure_->increment();
        deferred_full_ = true;
        break;
      }
      deferred_full_ = false;
      if (!e.task->has_buffered()) continue;
      KSTREAMS_ASSIGN_OR_RETURN(size_t n, e.task->process(200));
      commit_requested_ = commit_requested_ || e.task->commit_requested();
      KSTREAMS_RETURN_IF_ERROR(e.collector->take_error());
      *processed += n;
      any = any || n > 0;
    }
    if (mailbox_.pending()) drain_mailbox();
    // Tests: processing fails while a commit is in flight (the error belongs to the next transaction).
    if (inflight_.active && any) KSTREAMS_FAULT_POINT("runtime.process.during_commit");
    // A pipelined commit that returned: its deferred records go out now, not after the budget.
    // (Its stores apply it in maybe_commit(), after the next commit started.)
    if (inflight_.active && committer_->done()) {
      KSTREAMS_RETURN_IF_ERROR(finish_pipelined_commit(/*wait=*/false, /*replay=*/true, /*hold=*/true));
    }
  }
  return absl::OkStatus();
}

absl::Status StreamThread::maybe_commit() {
  // A pipelined commit that returned (here or earlier in this loop, held_): the next transaction
  // starts (below) before the stores apply it, so that their writes overlap the next flush.
  if (inflight_.active) {
    KSTREAMS_RETURN_IF_ERROR(finish_pipelined_commit(/*wait=*/false, /*replay=*/true, /*hold=*/true));
    if (inflight_.active) return absl::OkStatus();  // not returned yet (and nothing is held meanwhile)
  }
  absl::Status next = start_commit_if_due();
  KSTREAMS_RETURN_IF_ERROR(post_held());
  return next;
}

absl::Status StreamThread::start_commit_if_due() {
  const int64_t now = ctx_.clock->now_ms();
  bool idle = true;
  for (auto& [id, e] : tasks_) idle = idle && !e.task->has_buffered();
  const bool due = now - last_commit_ms_ >= ctx_.config->get_long(config::kCommitIntervalMs);
  // Idle = every task drained its buffer *and* the last poll emptied the consumer's queue: under a
  // backlog a poll returns a full batch, and committing after each batch would spend the time in
  // transactions instead of processing.
  const bool eager =
      ctx_.config->get_bool(config::kCommitWhenIdle) && idle && consumer_drained_ && ctx_.config->exactly_once();
  if (!(uncommitted_ || producer_->in_transaction()) && !commit_requested_) {
    if (due) last_commit_ms_ = now;
    return absl::OkStatus();
  }
  if (!due && !eager && !commit_requested_) return absl::OkStatus();
  if (producer_->transactional() && ctx_.config->get_bool(config::kCommitPipelined)) {
    return begin_pipelined_commit();
  }
  return commit_all();  // applies held_ first
}

absl::Status StreamThread::prepare_tasks(CommitOffsets* offsets, std::vector<TaskId>* sealed) {
  for (auto& [id, e] : tasks_) {
    KSTREAMS_RETURN_IF_ERROR(e.task->prepare_commit());
    KSTREAMS_RETURN_IF_ERROR(e.collector->take_error());
    KSTREAMS_RETURN_IF_ERROR(e.task->seal_commit());
    sealed->push_back(id);
    // Every offset of the task carries its progress (stream time, window emit progress): it is
    // committed atomically with the offsets and read back when the task opens (start_task).
    const std::string metadata = e.task->commit_metadata();
    for (const auto& [tp, off] : e.task->committable_offsets()) (*offsets)[tp] = OffsetAndMetadata{off, metadata};
  }
  return absl::OkStatus();
}

absl::Status StreamThread::post_commit_tasks(const std::vector<TaskId>& tasks,
                                             const std::map<TopicPartitionKey, int64_t>& changelog) {
  if (stores_diverged_) return absl::FailedPreconditionError("stores diverged: no later transaction is applied");
  for (const TaskId& id : tasks) {
    auto it = tasks_.find(id);
    // Tasks leave only through a rebalance or a close, which finish or discard the commit first.
    KSTREAMS_CHECK(it != tasks_.end(), "a task sealed for a commit is gone before its stores applied it");
    std::map<std::string, int64_t> store_offsets;
    for (const auto& spec : ctx_.topology->subtopologies().at(id.subtopology).stores) {
      auto pos = changelog.find({changelog_topic(ctx_.config->application_id(), spec.name), id.partition});
      if (pos != changelog.end()) store_offsets[spec.name] = pos->second;
    }
    absl::Status st = it->second.task->post_commit(store_offsets);
    if (!st.ok()) {
      // The transaction is committed in Kafka but not in this task's stores, and its sealed layer
      // stays the oldest: applying anything later would pair writes and offsets wrongly. Closing
      // the tasks dirty and restoring them from the changelogs is exact (each store's content and
      // changelog position were written in one atomic batch).
      stores_diverged_ = true;
      return absl::FailedPreconditionError("task " + id.to_string() +
                                           " could not apply a committed transaction to its stores: " + st.ToString());
    }
  }
  return absl::OkStatus();
}

// The commit protocol, in named phases (ARCHITECTURE.md "Exactly-once"):
//   prepare: every task flushes what it buffered to the producer and seals its store writes;
//   flush:   every record is acknowledged (delivery errors surface here);
//   commit:  EOS: offsets into the transaction, commit it; ALOS: commit offsets to the group;
//   post:    every task's stores apply their sealed writes with the changelog offsets.
// Pipelined (commit.pipelined, EOS): flush and commit run on the CommitWorker while the thread
// processes on; when they returned, maybe_commit() starts the next transaction and then does
// "post" of the one that returned (its stores' writes overlap with the next flush).
absl::Status StreamThread::commit_all() {
  if (!producer_ || !consumer_) return absl::OkStatus();
  KSTREAMS_RETURN_IF_ERROR(post_held());  // older than the one in flight
  KSTREAMS_RETURN_IF_ERROR(finish_pipelined_commit(/*wait=*/true));
  const int64_t start = ctx_.clock->monotonic_ns();
  int64_t mark = start;
  const auto phase_done = [this, &mark](int phase) {
    const int64_t now = ctx_.clock->monotonic_ns();
    commit_phase_[phase]->observe(static_cast<double>(now - mark) / 1e6);
    mark = now;
  };
  CommitOffsets offsets;
  std::vector<TaskId> sealed;
  KSTREAMS_RETURN_IF_ERROR(prepare_tasks(&offsets, &sealed));
  phase_done(0);
  KSTREAMS_RETURN_IF_ERROR(producer_->flush(30s));
  phase_done(1);
  absl::Status delivery = producer_->take_delivery_error();
  if (!delivery.ok()) {
    return producer_->transactional() ? absl::AbortedError(delivery.message()) : delivery;
  }
  if (producer_->transactional()) {
    KafkaProducer::CommitTimings timings;
    KSTREAMS_RETURN_IF_ERROR(producer_->commit_transaction(offsets, consumer_.get(), &timings));
    commit_phase_[2]->observe(static_cast<double>(timings.offsets_ns) / 1e6);
    commit_phase_[3]->observe(static_cast<double>(timings.end_ns) / 1e6);
    mark = ctx_.clock->monotonic_ns();
  } else if (!offsets.empty()) {
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [tp, off] : offsets)
      set_commit_offset(rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second), off);
    KSTREAMS_RETURN_IF_ERROR(rdk::to_status(rd_kafka_commit(consumer_.get(), list.get(), 0), "commit offsets"));
    phase_done(2);
  }
  KSTREAMS_RETURN_IF_ERROR(post_commit_tasks(sealed, producer_->changelog_next_offsets()));
  phase_done(4);
  commits_total_->increment();
  commit_latency_->observe(static_cast<double>(ctx_.clock->monotonic_ns() - start) / 1e6);
  KS_LOG_DEBUG("stream-thread [{}] committed {} offsets in {:.1f} ms", name_, offsets.size(),
               static_cast<double>(ctx_.clock->monotonic_ns() - start) / 1e6);
  last_commit_ms_ = ctx_.clock->now_ms();
  uncommitted_ = false;
  commit_requested_ = false;
  return absl::OkStatus();
}

absl::Status StreamThread::begin_pipelined_commit() {
  const int64_t start = ctx_.clock->monotonic_ns();
  CommitOffsets offsets;
  std::vector<TaskId> sealed;
  KSTREAMS_RETURN_IF_ERROR(prepare_tasks(&offsets, &sealed));
  commit_phase_[0]->observe(static_cast<double>(ctx_.clock->monotonic_ns() - start) / 1e6);
  if (!committer_) {
    committer_ = std::make_unique<CommitWorker>("ks-commit-" + std::to_string(index_ + 1), [this] {
      // Wake the stream thread if it waits in its consumer poll: the next transaction may start.
      if (consumer_queue_) rd_kafka_queue_yield(consumer_queue_.get());
    });
  }
  inflight_ = InFlightCommit{};
  inflight_.active = true;
  inflight_.start_ns = start;
  inflight_.tasks = std::move(sealed);
  deferred_.active = true;
  committer_->start([this, offsets = std::move(offsets)]() -> absl::Status {
    const auto t0 = std::chrono::steady_clock::now();
    absl::Status st = producer_->flush(30s);
    inflight_.flush_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    if (!st.ok()) return st;
    absl::Status delivery = producer_->take_delivery_error();
    if (!delivery.ok()) return absl::AbortedError(delivery.message());
    KSTREAMS_FAULT_POINT("runtime.pipelined_commit.before_end");  // tests: a commit that fails
    KSTREAMS_RETURN_IF_ERROR(producer_->commit_transaction(offsets, consumer_.get(), &inflight_.timings));
    // Every record of this transaction is acknowledged and none of the next one is sent yet (they
    // wait in `deferred_`): the producer's changelog positions are this transaction's.
    inflight_.changelog_offsets = producer_->changelog_next_offsets();
    return absl::OkStatus();
  });
  last_commit_ms_ = ctx_.clock->now_ms();
  uncommitted_ = false;
  commit_requested_ = false;
  return absl::OkStatus();
}

absl::Status StreamThread::finish_pipelined_commit(bool wait, bool replay, bool hold) {
  if (!inflight_.active) return absl::OkStatus();
  if (!wait && !committer_->done()) return absl::OkStatus();
  absl::Status st = committer_->wait();
  inflight_.active = false;
  deferred_.active = false;
  std::vector<DeferredSend> deferred;
  deferred.swap(deferred_.entries);
  deferred_.bytes = 0;
  if (!st.ok()) return st;
  commit_phase_[1]->observe(static_cast<double>(inflight_.flush_ns) / 1e6);
  commit_phase_[2]->observe(static_cast<double>(inflight_.timings.offsets_ns) / 1e6);
  commit_phase_[3]->observe(static_cast<double>(inflight_.timings.end_ns) / 1e6);
  CommittedTransaction committed{std::move(inflight_.tasks), std::move(inflight_.changelog_offsets),
                                 inflight_.start_ns};
  KS_LOG_DEBUG(
      "stream-thread [{}] pipelined commit returned after {:.1f} ms (flush {:.1f}, offsets {:.1f}, end {:.1f}), "
      "{} records deferred",
      name_, static_cast<double>(ctx_.clock->monotonic_ns() - inflight_.start_ns) / 1e6,
      static_cast<double>(inflight_.flush_ns) / 1e6, static_cast<double>(inflight_.timings.offsets_ns) / 1e6,
      static_cast<double>(inflight_.timings.end_ns) / 1e6, deferred.size());
  // An older held transaction goes first (a thread that did not reach maybe_commit() in between).
  KSTREAMS_RETURN_IF_ERROR(post_held());
  if (hold) {
    held_.emplace(std::move(committed));
  } else {
    KSTREAMS_RETURN_IF_ERROR(post_committed(committed));
  }
  if (!replay) return absl::OkStatus();
  for (const DeferredSend& d : deferred) d.collector->replay(d);
  if (!deferred.empty()) uncommitted_ = true;
  return absl::OkStatus();
}

absl::Status StreamThread::post_held() {
  if (!held_) return absl::OkStatus();
  CommittedTransaction committed = std::move(*held_);
  held_.reset();
  return post_committed(committed);
}

absl::Status StreamThread::post_committed(const CommittedTransaction& committed) {
  const int64_t post_start = ctx_.clock->monotonic_ns();
  KSTREAMS_RETURN_IF_ERROR(post_commit_tasks(committed.tasks, committed.changelog_offsets));
  const int64_t now = ctx_.clock->monotonic_ns();
  commit_phase_[4]->observe(static_cast<double>(now - post_start) / 1e6);
  commits_total_->increment();
  commit_latency_->observe(static_cast<double>(now - committed.start_ns) / 1e6);
  KS_LOG_DEBUG("stream-thread [{}] pipelined commit applied to the stores in {:.1f} ms", name_,
               static_cast<double>(now - post_start) / 1e6);
  return absl::OkStatus();
}

void StreamThread::discard_pipelined_commit() {
  // Dirty close: a held transaction is committed in Kafka but not in the stores, which reopen at
  // what they applied and restore the rest from their changelogs.
  held_.reset();
  if (inflight_.active) {
    absl::Status st = committer_->wait();
    if (!st.ok()) KS_LOG_WARN("stream-thread [{}] commit in flight failed: {}", name_, st.ToString());
    inflight_.active = false;
  }
  deferred_.active = false;
  deferred_.clear();
}

absl::Status StreamThread::handle_commit_error(absl::Status st) {
  // An error while a pipelined commit was in flight belongs to the next transaction: the commit in
  // flight decides what is committed. If it succeeded, its sealed writes reach the stores first;
  // either way what was processed since (deferred records, pending writes) is aborted below.
  const bool next_dropped = inflight_.active || !deferred_.entries.empty();
  if (absl::Status held = post_held(); !held.ok()) {
    KS_LOG_WARN("stream-thread [{}] a committed transaction could not be applied either: {}", name_, held.ToString());
    if (st.code() != absl::StatusCode::kFailedPrecondition) st = held;  // close dirty, restore
  }
  if (inflight_.active) {
    absl::Status commit = finish_pipelined_commit(/*wait=*/true, /*replay=*/false);
    if (!commit.ok()) KS_LOG_WARN("stream-thread [{}] commit in flight failed as well: {}", name_, commit.ToString());
  }
  deferred_.active = false;
  deferred_.clear();
  if (st.code() == absl::StatusCode::kFailedPrecondition) return st;  // fenced: caller rejoins
  if (st.code() == absl::StatusCode::kAborted || next_dropped || (producer_ && producer_->in_transaction())) {
    KS_LOG_WARN("stream-thread [{}] aborting the transaction: {}", name_, st.ToString());
    aborts_total_->increment();
    absl::Status abort = producer_->abort_transaction();
    if (!abort.ok()) return absl::FailedPreconditionError("abort failed: " + std::string(abort.message()));
    for (auto& [id, e] : tasks_) {
      e.task->abort();
      (void)e.collector->take_error();
    }
    uncommitted_ = false;
    if (st.code() == absl::StatusCode::kAborted || st.code() == absl::StatusCode::kUnavailable) {
      return rewind_to_committed();
    }
    KSTREAMS_RETURN_IF_ERROR(rewind_to_committed());
  }
  return st;
}

absl::Status StreamThread::rewind_to_committed() {
  rewind_pending_ = true;  // until the seek below succeeded
  rd_kafka_topic_partition_list_t* raw = nullptr;
  KSTREAMS_RETURN_IF_ERROR(rdk::to_status(rd_kafka_assignment(consumer_.get(), &raw), "assignment"));
  rdk::TopicPartitionList all(raw);
  // Restoring tasks processed nothing: their (paused) inputs stay where they are; neither did
  // tasks waiting to be created (retry_deferred_tasks() seeks theirs).
  std::vector<std::pair<std::string, int32_t>> parts;
  for (int i = 0; i < all->cnt; ++i) {
    const std::pair<std::string, int32_t> tp{all->elems[i].topic, all->elems[i].partition};
    if (restoring_inputs_.count(tp) == 0 && partition_to_task_.count(tp) > 0) parts.push_back(tp);
  }
  if (!parts.empty()) KSTREAMS_RETURN_IF_ERROR(seek_to_committed(parts));
  rewind_pending_ = false;
  return absl::OkStatus();
}

void StreamThread::update_pauses() {
  const int64_t limit = ctx_.config->get_long(config::kBufferedRecordsPerPartition);
  std::vector<std::pair<std::string, int32_t>> to_pause;
  std::vector<std::pair<std::string, int32_t>> to_resume;
  for (const auto& [tp, id] : partition_to_task_) {
    const size_t n = tasks_.at(id).task->buffered(tp.first, tp.second);
    const bool paused = paused_.count(tp) > 0;
    if (!paused && static_cast<int64_t>(n) >= limit) to_pause.push_back(tp);
    if (paused && static_cast<int64_t>(n) < limit / 2) to_resume.push_back(tp);
  }
  auto apply = [this](const std::vector<std::pair<std::string, int32_t>>& tps, bool pause) {
    if (tps.empty()) return;
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
    for (const auto& tp : tps) rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second);
    if (pause) {
      rd_kafka_pause_partitions(consumer_.get(), list.get());
      paused_.insert(tps.begin(), tps.end());
    } else {
      rd_kafka_resume_partitions(consumer_.get(), list.get());
      for (const auto& tp : tps) paused_.erase(tp);
    }
  };
  apply(to_pause, true);
  apply(to_resume, false);
}

void StreamThread::record_lag() {
  const int64_t now = ctx_.clock->now_ms();
  if (now - last_lag_ms_ < 1000) return;
  last_lag_ms_ = now;
  int64_t lag = 0;
  for (const auto& [tp, id] : partition_to_task_) {
    lag += std::max<int64_t>(0, cached_lag(tp));
  }
  lag_->set(static_cast<double>(lag));
}

int64_t StreamThread::cached_lag(const std::pair<std::string, int32_t>& tp) const {
  int64_t low = 0;
  int64_t high = 0;
  if (rd_kafka_get_watermark_offsets(consumer_.get(), tp.first.c_str(), tp.second, &low, &high) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      high < 0) {
    return -1;
  }
  rdk::TopicPartitionList one(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(one.get(), tp.first.c_str(), tp.second);
  if (rd_kafka_position(consumer_.get(), one.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  const int64_t position = one->elems[0].offset;
  return position >= 0 && high >= position ? high - position : -1;
}

void StreamThread::rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                                void* opaque) {
  auto* self = static_cast<StreamThread*>(opaque);
  ++self->assignment_epoch_;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->rebalances_total_->increment();
    KS_LOG_INFO("stream-thread [{}] assigned {} partitions", self->name_, parts->cnt);
    rd_kafka_assign(rk, parts);
    // librdkafka may keep a partition's pause across a rebalance that hands it back to this
    // consumer, while the revocation cleared what this thread knew of its pauses (paused_, the
    // inputs of tasks that were restoring or waiting): every assigned partition starts unpaused, and
    // the tasks created below pause what they must (restoring, waiting for their directory).
    rd_kafka_resume_partitions(rk, parts);
    self->paused_.clear();
    self->on_partitions_assigned(parts);
  } else {
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    KS_LOG_INFO("stream-thread [{}] partitions revoked{}", self->name_, lost ? " (lost)" : "");
    self->on_partitions_revoked(lost);
    rd_kafka_assign(rk, nullptr);
  }
}

void StreamThread::on_partitions_revoked(bool lost) {
  set_state(ThreadState::kPartitionsRevoked);
  // Lost: the tasks close dirty (their stores keep the offsets they hold). Else commit_all() below
  // finishes a commit in flight first.
  if (lost) discard_pipelined_commit();
  bool clean = !lost;
  if (!lost && !tasks_.empty()) {
    // The generation is still valid here: commit what the revoked tasks did (ARCHITECTURE.md).
    absl::Status st = commit_all();
    if (!st.ok()) {
      KS_LOG_WARN("stream-thread [{}] commit on revocation failed: {}", name_, st.ToString());
      clean = false;
    }
  }
  if (!clean && producer_) {
    (void)producer_->abort_transaction();
    for (auto& [id, e] : tasks_) e.task->abort();
  }
  // Committed and clean: the tasks wait, open, for the assignment that follows; most come back to
  // this thread (Kafka Streams' suspended tasks) and go on without closing or restoring anything.
  if (clean) {
    suspend_all_tasks();
  } else {
    close_all_tasks(/*clean=*/false);
  }
  if (ctx_.on_assignment_changed) ctx_.on_assignment_changed();
}

void StreamThread::suspend_all_tasks() {
  std::map<TaskId, TaskEntry> running;
  running.swap(tasks_);
  close_all_tasks(/*clean=*/true);  // restoring tasks close; maps and snapshots clear
  for (auto& [id, e] : running) {
    e.task->suspend();
    suspended_[id] = std::move(e);
  }
}

bool StreamThread::resume_task(TaskId id, const std::vector<std::pair<std::string, int32_t>>& inputs) {
  auto it = suspended_.find(id);
  if (it == suspended_.end()) return false;
  TaskEntry& e = it->second;
  bool same = e.inputs.size() == inputs.size();
  for (const auto& tp : inputs) same = same && std::find(e.inputs.begin(), e.inputs.end(), tp) != e.inputs.end();
  // Another member may have processed the task between our revocation and this assignment: its
  // committed offsets then moved past ours, and our state is stale.
  if (same && consumer_) {
    rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(inputs.size())));
    for (const auto& tp : inputs) rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second);
    same = rd_kafka_committed(consumer_.get(), list.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    const auto mine = e.task->committed_offsets();
    for (int i = 0; same && i < list->cnt; ++i) {
      const auto& p = list->elems[i];
      auto m = mine.find({p.topic, p.partition});
      const int64_t held = m == mine.end() ? -1 : m->second;
      same = p.err == RD_KAFKA_RESP_ERR_NO_ERROR && (p.offset == held || (p.offset < 0 && held < 0));
    }
  }
  if (!same) {
    KS_LOG_INFO("stream-thread [{}] task [{}] comes back changed: closing the suspended copy", name_, id.to_string());
    absl::Status st = e.task->close(/*clean=*/true);
    if (!st.ok()) KS_LOG_WARN("stream-thread [{}] task [{}] close: {}", name_, id.to_string(), st.ToString());
    ctx_.state_directory->unlock(id);
    ctx_.metrics->remove_matching({{"task", id.to_string()}});
    suspended_.erase(it);
    return false;
  }
  for (const auto& tp : inputs) partition_to_task_[tp] = id;
  tasks_[id] = std::move(e);
  suspended_.erase(it);
  KS_LOG_INFO("stream-thread [{}] task [{}] resumed after the rebalance (kept open, nothing restored)", name_,
              id.to_string());
  return true;
}

void StreamThread::defer_task(TaskId id, const std::vector<std::pair<std::string, int32_t>>& inputs,
                              const absl::Status& why) {
  KS_LOG_WARN("stream-thread [{}] task [{}] cannot be created yet, retrying: {}", name_, id.to_string(),
              why.ToString());
  deferred_tasks_[id] = inputs;
  pause_inputs(inputs, true);
  deferred_backoff_ms_ = 100;
  deferred_retry_ms_ = ctx_.clock->now_ms() + deferred_backoff_ms_;
}

absl::Status StreamThread::retry_deferred_tasks() {
  if (deferred_tasks_.empty() || ctx_.clock->now_ms() < deferred_retry_ms_) return absl::OkStatus();
  for (auto it = deferred_tasks_.begin(); it != deferred_tasks_.end();) {
    const TaskId id = it->first;
    const auto inputs = it->second;
    // Records the consumer delivered before the pause took effect were dropped (no task owned
    // them): the task starts again from its committed offsets.
    absl::Status st = seek_to_committed(inputs);
    if (st.ok()) st = create_task(id, inputs);
    if (st.code() == absl::StatusCode::kUnavailable) {
      KS_LOG_DEBUG("stream-thread [{}] task [{}] still waiting: {}", name_, id.to_string(), st.ToString());
      ++it;
      continue;
    }
    KSTREAMS_RETURN_IF_ERROR(st);
    it = deferred_tasks_.erase(it);
    if (tasks_.count(id) > 0) pause_inputs(inputs, false);  // a restoring task resumes them when restored
    KS_LOG_INFO("stream-thread [{}] task [{}] created after waiting", name_, id.to_string());
  }
  if (!restoring_.empty()) KSTREAMS_RETURN_IF_ERROR(assign_restore_consumer());
  deferred_backoff_ms_ = std::min<int64_t>(deferred_backoff_ms_ * 2, 5000);
  deferred_retry_ms_ = ctx_.clock->now_ms() + deferred_backoff_ms_;
  publish_snapshot();
  if (deferred_tasks_.empty() && restoring_.empty() && state_.load() == ThreadState::kPartitionsAssigned)
    set_state(ThreadState::kRunning);
  return absl::OkStatus();
}

absl::Status StreamThread::seek_to_committed(const std::vector<std::pair<std::string, int32_t>>& inputs) {
  rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(inputs.size())));
  for (const auto& tp : inputs) rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second);
  KSTREAMS_RETURN_IF_ERROR(rdk::to_status(rd_kafka_committed(consumer_.get(), list.get(), 10000), "committed"));
  // A partition with no committed offset starts where auto.offset.reset says, as the consumer
  // itself would have started it.
  const std::string reset = ctx_.config->client_settings_with_defaults("consumer.").at("auto.offset.reset");
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset >= 0) continue;
    auto start = parse_offset_reset(reset);
    if (!start.ok()) {
      return absl::FailedPreconditionError(
          "partition " + std::string(list->elems[i].topic) + "-" + std::to_string(list->elems[i].partition) +
          " has no committed offset to start from: " + std::string(start.status().message()));
    }
    list->elems[i].offset = *start == OffsetReset::kEarliest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  }
  rdk::Error err(rd_kafka_seek_partitions(consumer_.get(), list.get(), 10000));
  if (err) return absl::UnavailableError(std::string("seek: ") + rd_kafka_error_string(err.get()));
  return absl::OkStatus();
}

void StreamThread::close_suspended(bool clean, bool moved) {
  for (auto& [id, e] : suspended_) {
    absl::Status st = moved ? e.task->close_moved() : e.task->close(clean);
    if (!st.ok()) KS_LOG_WARN("stream-thread [{}] task [{}] close: {}", name_, id.to_string(), st.ToString());
    ctx_.state_directory->unlock(id);
    ctx_.metrics->remove_matching({{"task", id.to_string()}});
    KS_LOG_INFO("stream-thread [{}] task [{}] closed{}", name_, id.to_string(), moved ? ": assigned elsewhere" : "");
  }
  suspended_.clear();
}

void StreamThread::on_partitions_assigned(rd_kafka_topic_partition_list_t* parts) {
  set_state(ThreadState::kPartitionsAssigned);
  // Map each source partition to its task: (subtopology reading the topic, partition).
  std::map<TaskId, std::vector<std::pair<std::string, int32_t>>> wanted;
  const auto& app = ctx_.config->application_id();
  for (int i = 0; i < parts->cnt; ++i) {
    const std::string topic = parts->elems[i].topic;
    for (const auto& sub : ctx_.topology->subtopologies()) {
      for (const auto& src : sub.source_topics) {
        if (src.full_name(app) == topic)
          wanted[TaskId{sub.id, parts->elems[i].partition}].push_back({topic, parts->elems[i].partition});
      }
    }
  }
  for (const auto& [id, inputs] : wanted) {
    if (resume_task(id, inputs)) continue;
    absl::Status st = create_task(id, inputs);
    if (st.code() == absl::StatusCode::kUnavailable) {
      defer_task(id, inputs, st);
      continue;
    }
    if (!st.ok()) {
      KS_LOG_ERROR("stream-thread [{}] task [{}] could not be created: {}", name_, id.to_string(), st.ToString());
      std::lock_guard lock(mu_);
      if (error_.ok()) error_ = st;
      shutdown_requested_ = true;
    }
  }
  close_suspended(/*clean=*/true, /*moved=*/true);  // what the new assignment did not give back
  if (!restoring_.empty()) {
    absl::Status st = assign_restore_consumer();
    if (!st.ok()) {
      KS_LOG_ERROR("stream-thread [{}] restore consumer: {}", name_, st.ToString());
      std::lock_guard lock(mu_);
      if (error_.ok()) error_ = st;
      shutdown_requested_ = true;
    }
  }
  publish_snapshot();
  // The thread is RUNNING once no task restores or waits (complete_restored() and
  // retry_deferred_tasks() move it on).
  if (restoring_.empty() && deferred_tasks_.empty()) set_state(ThreadState::kRunning);
  if (ctx_.on_assignment_changed) ctx_.on_assignment_changed();
}

absl::Status StreamThread::create_task(TaskId id, const std::vector<std::pair<std::string, int32_t>>& inputs) {
  KSTREAMS_RETURN_IF_ERROR(ctx_.state_directory->lock(id));
  const auto& sub = ctx_.topology->subtopologies().at(id.subtopology);
  auto collector =
      std::make_unique<TaskCollector>(producer_.get(), &deferred_, ctx_.config->application_id(), id.partition,
                                      parse_policy(ctx_.config->get_string(config::kProductionHandler)),
                                      ctx_.config->dead_letter_topic(), production_errors_);
  state::StateManagerOptions opts;
  opts.task = id;
  opts.task_dir = ctx_.state_directory->task_dir(id);
  opts.changelog = collector.get();
  opts.changelog_cache = changelog_cache_.get();
  opts.resources = ctx_.store_resources;
  opts.metrics = ctx_.metrics;
  auto manager = state::ProcessorStateManager::open(opts, sub.stores);
  if (!manager.ok()) {
    ctx_.state_directory->unlock(id);
    return manager.status();
  }
  // Which logged stores are behind their changelog partition (the task's partition).
  RestoringTask r;
  const auto& app = ctx_.config->application_id();
  for (const auto& spec : (*manager)->specs()) {
    if (!spec.logging) continue;
    const std::string topic = changelog_topic(app, spec.name);
    int64_t low = 0;
    int64_t high = 0;
    // The broker answers "not leader" / "unknown partition" for a changelog created a moment ago
    // (first start), and for a partition whose leader moved (a broker crashed). librdkafka does not
    // refresh its metadata after a failed watermark query (only every
    // topic.metadata.refresh.interval.ms, 5 minutes): ask for the topic's metadata, then query
    // again. Bounded to a few seconds: past that the task's creation is deferred and retried with
    // backoff, and the thread's other tasks keep running meanwhile.
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);;) {
      err =
          rd_kafka_query_watermark_offsets(restore_consumer_->handle(), topic.c_str(), id.partition, &low, &high, 5000);
      const bool transient = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                             err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                             err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__TIMED_OUT;
      if (!transient || std::chrono::steady_clock::now() >= deadline) break;
      rdk::refresh_topic_metadata(restore_consumer_->handle(), topic, std::chrono::milliseconds(2000));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    absl::Status wm = rdk::to_status(err, "watermarks of " + topic);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      wm = absl::UnavailableError(wm.message());  // still transient: the task's creation is retried
    }
    if (!wm.ok()) {
      (void)(*manager)->close();
      ctx_.state_directory->unlock(id);
      return wm;
    }
    const int64_t start = (*manager)->restore_offset(spec.name).value_or(low);
    if (start > high) {
      // The store has applied records the changelog does not hold (it was deleted and recreated,
      // or truncated, while the state directory stayed): the local state is not the changelog's,
      // and keeping it would mix old and new state. Start over from the changelog.
      KS_LOG_WARN(
          "stream-thread [{}] task [{}] store {} is at changelog offset {}, past the end {} of {}-{} (the changelog "
          "was recreated or truncated): wiping the task's local state and restoring it from the changelog",
          name_, id.to_string(), spec.name, start, high, topic, id.partition);
      (void)(*manager)->close();
      absl::Status wiped = ctx_.state_directory->wipe(id);
      ctx_.state_directory->unlock(id);
      KSTREAMS_RETURN_IF_ERROR(wiped);
      return create_task(id, inputs);  // a wiped store restores from the changelog's start
    }
    if (start >= high) continue;  // nothing after the checkpointed position
    ChangelogRestore c;
    c.store = spec.name;
    c.topic = topic;
    c.partition = id.partition;
    c.start = start;
    c.end = high;
    c.next = start;
    c.fetched = start;
    r.changelogs.push_back(std::move(c));
  }
  if (r.changelogs.empty()) return start_task(id, std::move(collector), std::move(*manager), inputs);

  if (restoring_.empty()) {
    restore_period_start_ = std::chrono::steady_clock::now();
    restore_period_records_ = 0;
    restore_period_tasks_ = 0;
  }
  ++restore_period_tasks_;
  for (size_t i = 0; i < r.changelogs.size(); ++i) {
    auto& c = r.changelogs[i];
    c.started = std::chrono::steady_clock::now();
    changelog_owner_[{c.topic, c.partition}] = {id, i};
    restore_remaining_->add(static_cast<double>(c.end - c.start));
    KS_LOG_INFO("stream-thread [{}] task [{}] restoring {} of {}-{} from offset {} to {}", name_, id.to_string(),
                c.store, c.topic, c.partition, c.start, c.end);
    if (ctx_.restore_listener) ctx_.restore_listener->on_restore_start(c.topic, c.partition, c.store, c.start, c.end);
  }
  r.collector = std::move(collector);
  r.manager = std::move(*manager);
  r.inputs = inputs;
  for (const auto& tp : inputs) restoring_inputs_[tp] = id;
  pause_inputs(inputs, true);
  restoring_[id] = std::move(r);
  return absl::OkStatus();
}

absl::Status StreamThread::start_task(TaskId id, std::unique_ptr<TaskCollector> collector,
                                      std::unique_ptr<state::ProcessorStateManager> manager,
                                      const std::vector<std::pair<std::string, int32_t>>& inputs) {
  TaskOptions topts;
  topts.application_id = ctx_.config->application_id();
  topts.thread_name = name_;
  topts.dead_letter_topic = ctx_.config->dead_letter_topic();
  topts.deserialization_policy = parse_policy(ctx_.config->get_string(config::kDeserializationHandler));
  topts.processing_policy = parse_policy(ctx_.config->get_string(config::kProcessingHandler));
  topts.global_stores = [this](std::string_view store) -> state::StateStore* {
    return global_ ? global_->store(store) : nullptr;
  };
  topts.max_task_idle_ms = ctx_.config->get_long(config::kMaxTaskIdleMs);
  topts.read_committed = read_committed_;
  if (ctx_.config->get_long(config::kProcessingRecordBudgetMs) > 0) topts.in_flight = &in_flight_;
  topts.quarantine = ctx_.quarantine;
  topts.watermarks = [this](const std::string& topic, int32_t partition) {
    int64_t low = -1;
    int64_t high = -1;
    if (!consumer_ || rd_kafka_get_watermark_offsets(consumer_.get(), topic.c_str(), partition, &low, &high) !=
                          RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::pair<int64_t, int64_t>{-1, -1};
    return std::pair<int64_t, int64_t>{low, high};
  };
  auto task = std::make_unique<StreamTask>(id, *ctx_.topology, id.subtopology, std::move(manager), collector.get(),
                                           *ctx_.clock, ctx_.metrics, topts);
  absl::Status init = task->initialize();
  if (init.ok()) init = restore_progress(task.get(), inputs);
  if (!init.ok()) {
    (void)task->close(false);
    ctx_.state_directory->unlock(id);
    return init;
  }
  for (const auto& tp : inputs) partition_to_task_[tp] = id;
  tasks_[id] = TaskEntry{std::move(collector), std::move(task), inputs};
  KS_LOG_INFO("stream-thread [{}] task [{}] running with {} input partition(s)", name_, id.to_string(), inputs.size());
  return absl::OkStatus();
}

absl::Status StreamThread::restore_progress(StreamTask* task,
                                            const std::vector<std::pair<std::string, int32_t>>& inputs) {
  if (!consumer_ || inputs.empty()) return absl::OkStatus();
  rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(inputs.size())));
  for (const auto& tp : inputs) rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second);
  KSTREAMS_RETURN_IF_ERROR(rdk::to_status(rd_kafka_committed(consumer_.get(), list.get(), 30000),
                                          "committed offsets of task " + task->id().to_string()));
  std::vector<std::string> metadata;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return rdk::to_status(e.err, "committed offset of " + std::string(e.topic) + "-" + std::to_string(e.partition));
    }
    if (e.metadata != nullptr && e.metadata_size > 0)
      metadata.emplace_back(static_cast<const char*>(e.metadata), e.metadata_size);
  }
  if (task->restore_progress(metadata)) {
    KS_LOG_INFO("stream-thread [{}] task [{}] resumes at stream time {}", name_, task->id().to_string(),
                task->current_stream_time());
  }
  return absl::OkStatus();
}

void StreamThread::pause_inputs(const std::vector<std::pair<std::string, int32_t>>& tps, bool pause) {
  if (tps.empty() || !consumer_) return;
  rdk::TopicPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
  for (const auto& tp : tps) rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second);
  // On resume librdkafka fetches from the position after the last record it delivered to us.
  const rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(consumer_.get(), list.get())
                                        : rd_kafka_resume_partitions(consumer_.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    KS_LOG_WARN("stream-thread [{}] {} partitions: {}", name_, pause ? "pausing" : "resuming", rd_kafka_err2str(err));
  }
}

absl::Status StreamThread::assign_restore_consumer() {
  std::vector<PartitionReader::Start> starts;
  for (const auto& [id, r] : restoring_) {
    for (const auto& c : r.changelogs) {
      if (!c.done) starts.push_back({c.topic, c.partition, c.fetched});
    }
  }
  return restore_consumer_->assign(starts);
}

absl::Status StreamThread::restore_step(std::chrono::milliseconds wait) {
  if (restoring_.empty()) return absl::OkStatus();
  const int64_t throttle = ctx_.config->get_long(config::kRestoreThrottleMs);
  if (throttle > 0) {
    const int64_t now = ctx_.clock->now_ms();
    if (now < next_restore_ms_) return absl::OkStatus();
    next_restore_ms_ = now + throttle;
  }
  const size_t limit = static_cast<size_t>(std::max<int64_t>(1, ctx_.config->get_long(config::kRestoreBatchRecords)));
  // 1. Take what the restore consumer has, up to a bound on what waits in memory.
  const size_t bound = std::max<size_t>(4 * limit, 100000);
  size_t pending = 0;
  for (const auto& [id, r] : restoring_) {
    for (const auto& c : r.changelogs) pending += c.pending.size();
  }
  rd_kafka_queue_t* queue = restore_consumer_->queue();
  restore_fetch_.observe(rd_kafka_queue_length(queue));
  constexpr size_t kChunk = 1024;
  std::vector<rd_kafka_message_t*> msgs(kChunk);
  int timeout = pending > 0 ? 0 : static_cast<int>(wait.count());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  bool drained = false;
  size_t sampled_bytes = 0;
  size_t sampled = 0;
  while (pending < bound) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, timeout, msgs.data(), kChunk);
    timeout = 0;
    if (n <= 0) {
      drained = true;
      break;
    }
    absl::Status st;
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* msg = msgs[i];
      if (i < 16) {
        sampled_bytes += msg->len + msg->key_len;
        ++sampled;
      }
      if (msg->rkt == nullptr) {  // a client-level event (e.g. all brokers down), not a partition's
        if (msg->err == RD_KAFKA_RESP_ERR__FATAL && st.ok()) st = rdk::to_status(msg->err, "restore consumer");
        if (msg->err != RD_KAFKA_RESP_ERR__FATAL)
          KS_LOG_WARN("stream-thread [{}] restore consumer: {}", name_, rd_kafka_err2str(msg->err));
        rd_kafka_message_destroy(msg);
        continue;
      }
      auto it =
          st.ok() ? changelog_owner_.find({rd_kafka_topic_name(msg->rkt), msg->partition}) : changelog_owner_.end();
      if (it != changelog_owner_.end()) {
        ChangelogRestore& c = restoring_.at(it->second.first).changelogs[it->second.second];
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          // read_committed: the end is the last stable offset; the fetch position has passed any
          // trailing transaction marker, which the record offsets alone never show.
          c.eof = true;
        } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          st = rdk::to_status(msg->err, "restoring " + c.topic + "-" + std::to_string(c.partition));
        } else if (msg->offset >= c.fetched) {
          rdk::to_raw_record(msg, &c.pending.emplace_back());
          c.fetched = msg->offset + 1;
          ++pending;
        }
      }
      rd_kafka_message_destroy(msg);
    }
    KSTREAMS_RETURN_IF_ERROR(st);
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  restore_fetch_.sample(sampled_bytes, sampled);
  if (restore_fetch_.should_wake(drained ? 0 : rd_kafka_queue_length(queue))) {
    for (const auto& [id, r] : restoring_) {
      auto open = std::find_if(r.changelogs.begin(), r.changelogs.end(), [](const auto& c) { return !c.eof; });
      if (open == r.changelogs.end()) continue;
      kick_stalled_fetcher(restore_consumer_->handle(), open->topic, open->partition);
      break;
    }
  }
  // 2. Apply at most restore.batch.records of them (one atomic store write per changelog).
  size_t budget = limit;
  for (auto& [id, r] : restoring_) {
    for (auto& c : r.changelogs) {
      if (budget > 0 && !c.pending.empty()) {
        const size_t take = std::min(budget, c.pending.size());
        std::vector<RawRecord> batch;
        if (take == c.pending.size()) {
          batch.swap(c.pending);
        } else {
          batch.assign(std::make_move_iterator(c.pending.begin()), std::make_move_iterator(c.pending.begin() + take));
          c.pending.erase(c.pending.begin(), c.pending.begin() + take);
        }
        budget -= take;
        const int64_t next = batch.back().offset.value() + 1;
        KSTREAMS_RETURN_IF_ERROR(r.manager->restore_batch(c.store, batch, next));
        c.next = next;
        const auto n = static_cast<int64_t>(batch.size());
        c.restored += n;
        restore_period_records_ += n;
        restored_total_->increment(static_cast<double>(n));
        restore_remaining_->add(-static_cast<double>(n));
        if (ctx_.restore_listener) ctx_.restore_listener->on_batch_restored(c.topic, c.partition, c.store, next - 1, n);
      }
      c.done = c.pending.empty() && (c.eof || c.next >= c.end);
    }
  }
  return complete_restored();
}

absl::Status StreamThread::complete_restored() {
  std::vector<TaskId> finished;
  for (auto& [id, r] : restoring_) {
    const bool all = std::all_of(r.changelogs.begin(), r.changelogs.end(), [](const auto& c) { return c.done; });
    if (all) finished.push_back(id);
  }
  if (finished.empty()) return absl::OkStatus();
  for (const TaskId& id : finished) {
    auto node = restoring_.extract(id);
    RestoringTask& r = node.mapped();
    for (const auto& c : r.changelogs) {
      changelog_owner_.erase({c.topic, c.partition});
      // Records counted at the start but never delivered (transaction markers, aborted records).
      restore_remaining_->add(-static_cast<double>(c.end - c.start - c.restored));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - c.started).count();
      KS_LOG_INFO("stream-thread [{}] task [{}] restored {} records of {} in {:.2f} s ({:.0f} records/s)", name_,
                  id.to_string(), c.restored, c.topic, secs, secs > 0 ? static_cast<double>(c.restored) / secs : 0.0);
      if (ctx_.restore_listener) ctx_.restore_listener->on_restore_end(c.topic, c.partition, c.store, c.restored);
    }
    for (const auto& tp : r.inputs) restoring_inputs_.erase(tp);
    KSTREAMS_RETURN_IF_ERROR(start_task(id, std::move(r.collector), std::move(r.manager), r.inputs));
    StreamTask* task = tasks_.at(id).task.get();
    for (auto& [tp, records] : r.early) task->add_records(tp.first, tp.second, std::move(records));
    pause_inputs(r.inputs, false);
  }
  KSTREAMS_RETURN_IF_ERROR(assign_restore_consumer());
  if (restoring_.empty()) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_period_start_).count();
    KS_LOG_INFO("stream-thread [{}] restoration finished: {} records of {} task(s) in {:.2f} s ({:.0f} records/s)",
                name_, restore_period_records_, restore_period_tasks_, secs,
                secs > 0 ? static_cast<double>(restore_period_records_) / secs : 0.0);
  }
  publish_snapshot();
  if (restoring_.empty() && deferred_tasks_.empty() && state_.load() == ThreadState::kPartitionsAssigned)
    set_state(ThreadState::kRunning);
  return absl::OkStatus();
}

void StreamThread::publish_snapshot() {
  std::lock_guard lock(mu_);
  snapshot_tasks_.clear();
  snapshot_partitions_.clear();
  snapshot_restoring_.clear();
  for (const auto& [id, e] : tasks_) {
    snapshot_tasks_.push_back(id);
    snapshot_partitions_.insert(snapshot_partitions_.end(), e.inputs.begin(), e.inputs.end());
  }
  for (const auto& [id, r] : restoring_) {
    snapshot_tasks_.push_back(id);
    snapshot_restoring_.push_back(id);
    snapshot_partitions_.insert(snapshot_partitions_.end(), r.inputs.begin(), r.inputs.end());
  }
}

void StreamThread::close_all_tasks(bool clean) {
  close_suspended(clean, /*moved=*/false);
  deferred_tasks_.clear();     // never created: nothing to close
  discard_pipelined_commit();  // after commit_all() (clean) there is none
  stores_diverged_ = false;    // the stores close with what they applied; reopening restores the rest
  for (auto& [id, e] : tasks_) {
    absl::Status st = e.task->close(clean);
    if (!st.ok()) KS_LOG_WARN("stream-thread [{}] task [{}] close: {}", name_, id.to_string(), st.ToString());
    ctx_.state_directory->unlock(id);
    // The task's series leave /metrics with it (a task that comes back registers them again).
    ctx_.metrics->remove_matching({{"task", id.to_string()}});
  }
  // Restoring tasks never processed: nothing of theirs is committed or to commit. What they restored
  // is in their stores with its changelog position (each batch is atomic), so whoever gets the task
  // next resumes from there.
  for (auto& [id, r] : restoring_) {
    int64_t left = 0;
    for (const auto& c : r.changelogs) left += c.end - c.start - c.restored;
    restore_remaining_->add(-static_cast<double>(left));
    absl::Status st = r.manager->close();
    if (!st.ok()) KS_LOG_WARN("stream-thread [{}] restoring task [{}] close: {}", name_, id.to_string(), st.ToString());
    KS_LOG_INFO("stream-thread [{}] task [{}] closed while restoring ({} records left)", name_, id.to_string(), left);
    ctx_.state_directory->unlock(id);
    ctx_.metrics->remove_matching({{"task", id.to_string()}});
  }
  const bool had_restoring = !restoring_.empty();
  restoring_.clear();
  restoring_inputs_.clear();
  changelog_owner_.clear();
  if (had_restoring && restore_consumer_) (void)restore_consumer_->assign({});
  tasks_.clear();
  partition_to_task_.clear();
  paused_.clear();
  std::lock_guard lock(mu_);
  snapshot_tasks_.clear();
  snapshot_partitions_.clear();
  snapshot_restoring_.clear();
}

}  // namespace kstreams::runtime
