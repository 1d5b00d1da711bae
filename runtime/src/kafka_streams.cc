#include "kstreams/runtime/kafka_streams.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>
#include "kstreams/common/logging.h"
#include "kstreams/runtime/clients.h"
#include "kstreams/state/state_manager.h"

#include "instance_directory.h"
#include "kstreams/common/partitioner.h"
#include "prometheus_metrics.h"
#include "query_backend.h"
#include "query_server.h"
#include "stream_task.h"
#include "stream_thread.h"

namespace kstreams::runtime {

using namespace std::chrono_literals;

namespace {

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal = sig; }

std::string random_id() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

bool allowed_transition(KafkaStreams::State from, KafkaStreams::State to) {
  using S = KafkaStreams::State;
  switch (from) {
    case S::kCreated:
      return to == S::kRebalancing || to == S::kPendingShutdown || to == S::kError;
    case S::kRebalancing:
      return to == S::kRunning || to == S::kPendingShutdown || to == S::kError;
    case S::kRunning:
      return to == S::kRebalancing || to == S::kPendingShutdown || to == S::kError;
    case S::kPendingShutdown:
      return to == S::kNotRunning;
    case S::kNotRunning:
      return false;
    case S::kError:
      return to == S::kPendingShutdown;
  }
  return false;
}

}  // namespace

class KafkaStreams::Impl {
 public:
  Impl(const Topology& topology, StreamsConfig config) : topology_(topology), config_(std::move(config)) {}

  absl::Status start();
  bool close(std::chrono::milliseconds timeout);
  [[noreturn]] void quarantine_and_exit(const StreamThread& thread, const RecordCoordinates& record);
  void set_state(State s);
  [[nodiscard]] absl::Status prepare_topics(std::vector<std::string>* source_topics);
  [[nodiscard]] absl::Status open_state_dir();
  void monitor();

  const Topology& topology_;
  StreamsConfig config_;
  StateListener listener_;
  std::shared_ptr<RestoreListener> restore_listener_;  // set before start(), read by the threads
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  State state_ = State::kCreated;
  absl::Status error_;
  std::unique_ptr<PrometheusMetrics> metrics_ = std::make_unique<PrometheusMetrics>();
  std::unique_ptr<state::StateDirectory> state_dir_;
  std::unique_ptr<state::StoreResources> resources_;
  std::string process_id_;
  int process_lock_fd_ = -1;
  std::unique_ptr<Quarantine> quarantine_;  // records that hung a thread in an earlier run
  std::vector<std::unique_ptr<StreamThread>> threads_;
  std::thread monitor_;
  std::atomic<bool> stop_monitor_{false};
  bool closing_ = false;
  std::map<std::string, int32_t> resolved_partitions_;

  // Interactive queries.
  struct StoreRoute {
    StoreInfo info;
    int32_t subtopology = -1;  // -1: a global store (every instance holds all of it)
    int64_t window_size_ms = 0;
  };
  std::map<std::string, QueryCodec> codecs_;
  std::vector<std::pair<std::string, std::function<HttpReply(const HttpQuery&)>>> routes_;
  std::map<std::string, StoreRoute> store_routes_;
  std::unique_ptr<QueryBackend> backend_;
  std::unique_ptr<QueryServer> server_;
  std::unique_ptr<InstanceDirectory> directory_;
  std::mutex publish_mu_;

  [[nodiscard]] absl::Status start_http(const std::map<std::string, int32_t>& partitions);
  void publish_assignment();
  [[nodiscard]] const QueryCodec& codec(const std::string& store) const;
  // Runs `fn(stores)` on the stream thread owning `task` (its stores: those of a restoring task hold
  // what was restored so far); kUnavailable when the task restores and !stale_ok, kNotFound when no
  // local thread has it.
  [[nodiscard]] absl::Status with_task(TaskId task, const std::function<void(state::ProcessorStateManager*)>& fn,
                                       bool stale_ok);
  [[nodiscard]] absl::Status with_global(const std::function<void(StreamThread*)>& fn);
  [[nodiscard]] absl::StatusOr<KeyOwner> owner(const std::string& store, const std::string& key);
  [[nodiscard]] QueryResponse reply_for(absl::StatusOr<QueryEntry> entry);
  [[nodiscard]] State state_for_http() const {
    std::lock_guard lock(mu_);
    return state_;
  }
};

void KafkaStreams::Impl::set_state(State s) {
  StateListener listener;
  State old;
  {
    std::lock_guard lock(mu_);
    old = state_;
    if (old == s) return;
    if (!allowed_transition(old, s)) {
      KS_LOG_DEBUG("kafka-streams: ignoring transition {} -> {}", KafkaStreams::to_string(old),
                   KafkaStreams::to_string(s));
      return;
    }
    state_ = s;
    listener = listener_;
  }
  KS_LOG_INFO("kafka-streams [{}] state {} -> {}", config_.application_id(), KafkaStreams::to_string(old),
              KafkaStreams::to_string(s));
  cv_.notify_all();
  if (listener) listener(s, old);
}

absl::Status KafkaStreams::Impl::open_state_dir() {
  namespace fs = std::filesystem;
  const fs::path app_dir = fs::path(config_.get_string(config::kStateDir)) / config_.application_id();
  std::error_code ec;
  fs::create_directories(app_dir, ec);
  if (ec)
    return absl::FailedPreconditionError("cannot create state directory " + app_dir.string() + ": " + ec.message());
  // One instance per state directory: the process lock also guards the process id, which names the
  // transactional producers (a restarted instance fences its own previous incarnation).
  const std::string lock_path = (app_dir / ".process.lock").string();
  process_lock_fd_ = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (process_lock_fd_ < 0 || ::flock(process_lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError("state directory " + app_dir.string() +
                                         " is in use by another instance (set a different state.dir)");
  }
  const fs::path id_file = app_dir / "kstreams.process.id";
  std::ifstream in(id_file);
  if (!(in >> process_id_) || process_id_.empty()) {
    process_id_ = random_id();
    std::ofstream out(id_file);
    out << process_id_ << "\n";
  }
  KSTREAMS_ASSIGN_OR_RETURN(quarantine_, Quarantine::load((app_dir / "quarantine").string()));
  if (quarantine_->size() > 0) {
    KS_LOG_WARN(
        "kafka-streams [{}] {} record(s) exceeded processing.record.budget.ms in an earlier run ({}): "
        "they go to processing.exception.handler when read again",
        config_.application_id(), quarantine_->size(), quarantine_->path());
  }
  KSTREAMS_ASSIGN_OR_RETURN(
      state_dir_, state::StateDirectory::open(config_.get_string(config::kStateDir), config_.application_id()));
  const std::string background = config_.get_string(config::kRocksDbBackgroundPriority);
  resources_ =
      state::StoreResources::create(static_cast<size_t>(config_.get_long(config::kRocksDbMemoryBytes)),
                                    std::chrono::milliseconds(config_.get_long(config::kStateStoreFlushIntervalMs)),
                                    background == "idle"  ? state::BackgroundCpuPriority::kIdle
                                    : background == "low" ? state::BackgroundCpuPriority::kLow
                                                          : state::BackgroundCpuPriority::kNormal);
  return absl::OkStatus();
}

absl::Status KafkaStreams::Impl::prepare_topics(std::vector<std::string>* source_topics) {
  auto admin_props = config_.client_settings("admin.");
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, AdminClient::create(admin_props));
  const auto& app = config_.application_id();
  const auto user_topics = topology_.user_source_topics();
  // A topic created a moment ago may not be in every broker's metadata yet: look again for a while
  // before calling it missing.
  std::map<std::string, int32_t> user_counts;
  for (int attempt = 0;; ++attempt) {
    KSTREAMS_ASSIGN_OR_RETURN(user_counts, admin->partition_counts(user_topics, 30s));
    std::string missing;
    for (const auto& t : user_topics) {
      if (user_counts.count(t) == 0) missing = t;
    }
    if (missing.empty()) break;
    if (attempt >= 20) {
      return absl::FailedPreconditionError("source topic '" + missing + "' does not exist; create it before starting");
    }
    std::this_thread::sleep_for(250ms);
  }
  KSTREAMS_ASSIGN_OR_RETURN(auto wanted, topology_.resolve_partitions(app, user_counts));
  resolved_partitions_ = wanted;
  for (const auto& [t, n] : user_counts) resolved_partitions_.emplace(t, n);
  std::vector<std::string> internal;
  for (const auto& [topic, n] : wanted) {
    if (user_counts.count(topic) == 0) internal.push_back(topic);
  }
  KSTREAMS_ASSIGN_OR_RETURN(auto existing, admin->partition_counts(internal, 30s));
  std::map<std::string, const state::StoreSpec*> changelog_specs;
  for (const auto& sub : topology_.subtopologies()) {
    for (const auto& spec : sub.stores) changelog_specs[changelog_topic(app, spec.name)] = &spec;
  }
  std::vector<TopicSpec> to_create;
  const auto rf = static_cast<int16_t>(config_.get_long(config::kReplicationFactor));
  for (const auto& topic : internal) {
    const int32_t n = wanted.at(topic);
    auto it = existing.find(topic);
    if (it != existing.end()) {
      if (it->second != n) {
        return absl::FailedPreconditionError("internal topic '" + topic + "' has " + std::to_string(it->second) +
                                             " partitions but the topology needs " + std::to_string(n) +
                                             " (reset the application or delete the topic)");
      }
      continue;
    }
    TopicSpec spec{topic, n, rf, {}};
    auto cs = changelog_specs.find(topic);
    if (cs != changelog_specs.end()) {
      if (cs->second->type == state::StoreType::kKeyValue) {
        spec.configs["cleanup.policy"] = "compact";
      } else {
        spec.configs["cleanup.policy"] = "compact,delete";
        spec.configs["retention.ms"] = std::to_string(cs->second->retention_ms + 24LL * 3600 * 1000);
      }
    }
    to_create.push_back(std::move(spec));
  }
  int32_t max_partitions = 1;
  for (const auto& [t, n] : user_counts) max_partitions = std::max(max_partitions, n);
  const std::string dlq = config_.dead_letter_topic();
  KSTREAMS_ASSIGN_OR_RETURN(auto dlq_existing, admin->partition_counts({dlq}, 30s));
  if (dlq_existing.empty()) to_create.push_back({dlq, max_partitions, rf, {}});
  if (!to_create.empty()) {
    for (const auto& t : to_create)
      KS_LOG_INFO("kafka-streams: creating topic {} ({} partitions)", t.name, t.partitions);
    KSTREAMS_RETURN_IF_ERROR(admin->create_topics(to_create, /*ignore_existing=*/true, 30s));
  }
  source_topics->clear();
  for (const auto& sub : topology_.subtopologies()) {
    for (const auto& src : sub.source_topics) source_topics->push_back(src.full_name(app));
  }
  std::sort(source_topics->begin(), source_topics->end());
  source_topics->erase(std::unique(source_topics->begin(), source_topics->end()), source_topics->end());
  return absl::OkStatus();
}

absl::Status KafkaStreams::Impl::start() {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kCreated) return absl::FailedPreconditionError("start() may be called once");
  }
  KSTREAMS_RETURN_IF_ERROR(open_state_dir());
  std::vector<std::string> sources;
  KSTREAMS_RETURN_IF_ERROR(prepare_topics(&sources));
  set_state(State::kRebalancing);
  const int n = static_cast<int>(config_.get_long(config::kNumStreamThreads));
  std::shared_ptr<RestoreListener> restore_listener;
  {
    std::lock_guard lock(mu_);
    restore_listener = restore_listener_;
  }
  for (int i = 0; i < n; ++i) {
    ThreadContext ctx;
    ctx.topology = &topology_;
    ctx.config = &config_;
    ctx.state_directory = state_dir_.get();
    ctx.store_resources = resources_.get();
    ctx.metrics = metrics_.get();
    ctx.clock = &SystemClock::instance();
    ctx.process_id = process_id_;
    ctx.source_topics = sources;
    ctx.on_assignment_changed = [this] { publish_assignment(); };
    ctx.restore_listener = restore_listener;
    ctx.quarantine = quarantine_.get();
    threads_.push_back(std::make_unique<StreamThread>(i, std::move(ctx)));
  }
  KSTREAMS_RETURN_IF_ERROR(start_http(resolved_partitions_));
  for (auto& t : threads_) t->start();
  monitor_ = std::thread([this] { monitor(); });
  return absl::OkStatus();
}

// Derives the instance state from its threads (and reports fatal thread errors); enforces
// processing.record.budget.ms.
void KafkaStreams::Impl::monitor() {
  const auto budget = std::chrono::milliseconds(config_.get_long(config::kProcessingRecordBudgetMs));
  while (!stop_monitor_.load()) {
    bool all_running = !threads_.empty();
    for (auto& t : threads_) {
      if (budget.count() > 0) {
        if (auto hung = t->in_flight().overdue(budget, InFlightRecord::now_ns())) quarantine_and_exit(*t, *hung);
      }
      absl::Status err = t->error();
      if (!err.ok()) {
        {
          std::lock_guard lock(mu_);
          if (error_.ok()) error_ = err;
        }
        set_state(State::kError);
        return;
      }
      all_running = all_running && t->state() == ThreadState::kRunning;
    }
    set_state(all_running ? State::kRunning : State::kRebalancing);
    std::this_thread::sleep_for(50ms);
  }
}

// A record hangs a stream thread past processing.record.budget.ms. Nothing can interrupt the thread
// (user code in an endless loop or a call that never returns), and an instance that keeps it would
// hold its partitions, transaction and group membership forever: name the record, keep it in the
// quarantine so that the next run dead-letters it instead of processing it, and exit.
void KafkaStreams::Impl::quarantine_and_exit(const StreamThread& thread, const RecordCoordinates& record) {
  const std::string where = record.topic + "-" + std::to_string(record.partition) + "@" + std::to_string(record.offset);
  KS_LOG_ERROR(
      "kafka-streams [{}] stream-thread [{}] has been processing the record at {} for more than "
      "processing.record.budget.ms ({} ms): it is quarantined in {} and the process exits (status {}); restarted, "
      "the instance hands it to processing.exception.handler instead of processing it",
      config_.application_id(), thread.name(), where, config_.get_long(config::kProcessingRecordBudgetMs),
      quarantine_->path(), kExitRecordBudgetExceeded);
  absl::Status added = quarantine_->add(record);
  if (!added.ok())
    KS_LOG_ERROR("kafka-streams [{}] cannot quarantine {}: {}", config_.application_id(), where, added.ToString());
  ::kstreams::log::get()->flush();
  std::_Exit(kExitRecordBudgetExceeded);
}

bool KafkaStreams::Impl::close(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mu_);
    if (state_ == State::kNotRunning) return true;
    if (closing_) return cv_.wait_for(lock, timeout, [this] { return state_ == State::kNotRunning; });
    closing_ = true;
  }
  stop_monitor_ = true;
  if (monitor_.joinable()) monitor_.join();
  set_state(State::kPendingShutdown);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // The threads' broker calls end a little before `deadline`, leaving them time to close clients.
  const auto thread_deadline = deadline - std::min<std::chrono::milliseconds>(timeout / 4, 2000ms);
  for (auto& t : threads_) t->shutdown(thread_deadline);
  bool stopped = true;
  for (auto& t : threads_) {
    while (t->state() != ThreadState::kDead && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    stopped = stopped && t->state() == ThreadState::kDead;
  }
  if (!stopped) {
    KS_LOG_ERROR("kafka-streams [{}] stream threads did not stop within {} ms", config_.application_id(),
                 timeout.count());
    return false;
  }
  // The HTTP handlers read threads_: the server stops (and its handlers return) before it goes.
  if (server_) server_->stop();
  threads_.clear();  // joins
  if (directory_) directory_->stop();
  if (process_lock_fd_ >= 0) {
    ::close(process_lock_fd_);
    process_lock_fd_ = -1;
  }
  set_state(State::kNotRunning);
  return true;
}

namespace {

std::string base64(std::string_view in) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kChars[(buf >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kChars[(buf << (6 - bits)) & 0x3f]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

bool printable_utf8(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict).size() > 0;
}

std::string default_value_json(std::string_view bytes) {
  auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) return j.dump();
  if (bytes.size() == 8) {
    uint64_t v = 0;
    for (unsigned char c : bytes) v = (v << 8) | c;
    return std::to_string(static_cast<int64_t>(v));
  }
  try {
    if (printable_utf8(bytes)) return nlohmann::json(std::string(bytes)).dump();
  } catch (const nlohmann::json::exception&) {
  }
  return nlohmann::json("base64:" + base64(bytes)).dump();
}

QueryCodec default_codec() {
  QueryCodec c;
  c.key_from_text = [](const std::string& text) -> absl::StatusOr<std::string> { return text; };
  c.key_to_text = [](std::string_view bytes) { return std::string(bytes); };
  c.value_to_json = default_value_json;
  return c;
}

HttpQuery to_http_query(const QueryRequest& r) { return HttpQuery{r.target, r.path_params, r.query, r.forwarded_by}; }
QueryRequest to_query_request(const HttpQuery& q) {
  return QueryRequest{q.target, q.path_params, q.query, q.forwarded_by};
}
HttpReply to_reply(const QueryResponse& r) { return HttpReply{r.status, r.body}; }

}  // namespace

const QueryCodec& KafkaStreams::Impl::codec(const std::string& store) const {
  static const QueryCodec kDefault = default_codec();
  auto it = codecs_.find(store);
  return it == codecs_.end() ? kDefault : it->second;
}

absl::Status KafkaStreams::Impl::with_task(TaskId task, const std::function<void(state::ProcessorStateManager*)>& fn,
                                           bool stale_ok) {
  for (auto& t : threads_) {
    const auto tasks = t->active_tasks();
    if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) continue;
    const auto restoring = t->restoring_tasks();
    if (!stale_ok && std::find(restoring.begin(), restoring.end(), task) != restoring.end()) {
      return absl::UnavailableError("task " + task.to_string() + " is restoring");
    }
    StreamThread* thread = t.get();
    bool found = false;
    KSTREAMS_RETURN_IF_ERROR(thread->run_on_thread(
        [&] {
          state::ProcessorStateManager* stores = thread->state_manager(task);
          if (stores == nullptr) return;
          found = true;
          fn(stores);
        },
        std::chrono::seconds(5)));
    if (found) return absl::OkStatus();
  }
  return absl::NotFoundError("task " + task.to_string() + " is not on this instance");
}

absl::Status KafkaStreams::Impl::with_global(const std::function<void(StreamThread*)>& fn) {
  if (threads_.empty()) return absl::UnavailableError("no stream thread");
  StreamThread* thread = threads_.front().get();
  return thread->run_on_thread([&] { fn(thread); }, std::chrono::seconds(5));
}

absl::StatusOr<KeyOwner> KafkaStreams::Impl::owner(const std::string& store, const std::string& key) {
  auto it = store_routes_.find(store);
  if (it == store_routes_.end()) return absl::NotFoundError("unknown store '" + store + "'");
  const StoreRoute& route = it->second;
  KeyOwner o;
  if (route.subtopology < 0) {  // global store: every instance holds all of it
    o.self = true;
    o.application_server = config_.get_string(config::kApplicationServer);
    return o;
  }
  KSTREAMS_ASSIGN_OR_RETURN(std::string key_bytes, codec(store).key_from_text(key));
  o.partition = partition_for_key(key_bytes, route.info.partitions);
  const TaskId task{route.subtopology, o.partition};
  for (auto& t : threads_) {
    const auto tasks = t->active_tasks();
    if (std::find(tasks.begin(), tasks.end(), task) != tasks.end()) {
      o.self = true;
      o.application_server = config_.get_string(config::kApplicationServer);
      return o;
    }
  }
  if (directory_) o.application_server = directory_->owner_of(route.info.source_topic, o.partition);
  return o;
}

// The backend the HTTP server asks (QueryBackend): reads run on the stream thread owning the task,
// against the stores' committed state.
class StreamsQueryBackend final : public QueryBackend {
 public:
  explicit StreamsQueryBackend(KafkaStreams::Impl& impl) : impl_(impl) {}

  std::vector<StoreInfo> stores() override {
    std::vector<StoreInfo> out;
    for (const auto& [name, route] : impl_.store_routes_) out.push_back(route.info);
    return out;
  }

  std::vector<InstanceInfo> instances() override {
    if (impl_.directory_) return impl_.directory_->instances();
    InstanceInfo self;
    self.self = true;
    self.application_server = impl_.config_.get_string(config::kApplicationServer);
    return {self};
  }

  absl::StatusOr<KeyOwner> owner(const std::string& store, const std::string& key) override {
    return impl_.owner(store, key);
  }

  absl::StatusOr<QueryEntry> get(const std::string& store, const std::string& key, bool stale_ok) override {
    KSTREAMS_ASSIGN_OR_RETURN(KeyOwner o, impl_.owner(store, key));
    const auto& route = impl_.store_routes_.at(store);
    const QueryCodec& codec = impl_.codec(store);
    KSTREAMS_ASSIGN_OR_RETURN(std::string key_bytes, codec.key_from_text(key));
    absl::StatusOr<std::optional<std::string>> value = absl::NotFoundError("no value");
    absl::Status st;
    if (route.subtopology < 0) {
      st = impl_.with_global([&](StreamThread* thread) {
        auto* kv = dynamic_cast<state::KeyValueBytesStore*>(thread->global_store(store));
        value = kv != nullptr ? kv->get(key_bytes) : absl::NotFoundError("not a key-value store");
      });
    } else {
      if (route.info.type != "key-value") {
        return absl::InvalidArgumentError("store '" + store + "' is a " + route.info.type + " store: use /windows");
      }
      st = impl_.with_task(
          TaskId{route.subtopology, o.partition},
          [&](state::ProcessorStateManager* stores) {
            auto* view = stores->read_only_key_value_store(store);
            value = view != nullptr ? view->get(key_bytes) : absl::NotFoundError("store not readable");
          },
          stale_ok);
    }
    KSTREAMS_RETURN_IF_ERROR(st);
    if (!value.ok()) return value.status();
    if (!value->has_value()) return absl::NotFoundError("key '" + key + "' not found in store '" + store + "'");
    return QueryEntry{key, std::nullopt, std::nullopt, codec.value_to_json(**value)};
  }

  absl::StatusOr<std::vector<QueryEntry>> range(const std::string& store, const std::string& from,
                                                const std::string& to, size_t limit, bool stale_ok) override {
    auto it = impl_.store_routes_.find(store);
    if (it == impl_.store_routes_.end()) return absl::NotFoundError("unknown store '" + store + "'");
    const auto& route = it->second;
    const QueryCodec& codec = impl_.codec(store);
    KSTREAMS_ASSIGN_OR_RETURN(std::string from_bytes, codec.key_from_text(from));
    std::string to_bytes;
    if (!to.empty()) {
      KSTREAMS_ASSIGN_OR_RETURN(to_bytes, codec.key_from_text(to));
    }
    std::vector<QueryEntry> out;
    auto collect = [&](state::KeyValueIterator* iter) {
      for (; iter != nullptr && iter->valid() && out.size() < limit; iter->next()) {
        out.push_back(
            QueryEntry{codec.key_to_text(iter->key()), std::nullopt, std::nullopt, codec.value_to_json(iter->value())});
      }
    };
    if (route.subtopology < 0) {
      KSTREAMS_RETURN_IF_ERROR(impl_.with_global([&](StreamThread* thread) {
        auto* kv = dynamic_cast<state::KeyValueBytesStore*>(thread->global_store(store));
        if (kv != nullptr) {
          auto iter = kv->range(from_bytes, to_bytes);
          collect(iter.get());
        }
      }));
    } else {
      for (int32_t p = 0; p < route.info.partitions; ++p) {
        absl::Status st = impl_.with_task(
            TaskId{route.subtopology, p},
            [&](state::ProcessorStateManager* stores) {
              auto* view = stores->read_only_key_value_store(store);
              if (view == nullptr) return;
              auto iter = view->range(from_bytes, to_bytes);
              collect(iter.get());
            },
            stale_ok);
        if (!st.ok() && st.code() != absl::StatusCode::kNotFound) return st;
      }
    }
    std::sort(out.begin(), out.end(), [](const QueryEntry& a, const QueryEntry& b) { return a.key < b.key; });
    if (out.size() > limit) out.resize(limit);
    return out;
  }

  absl::StatusOr<std::vector<QueryEntry>> fetch_windows(const std::string& store, const std::string& key,
                                                        int64_t from_ms, int64_t to_ms, bool stale_ok) override {
    KSTREAMS_ASSIGN_OR_RETURN(KeyOwner o, impl_.owner(store, key));
    const auto& route = impl_.store_routes_.at(store);
    if (route.info.type != "window") {
      return absl::InvalidArgumentError("store '" + store + "' is not a window store");
    }
    const QueryCodec& codec = impl_.codec(store);
    KSTREAMS_ASSIGN_OR_RETURN(std::string key_bytes, codec.key_from_text(key));
    std::vector<QueryEntry> out;
    KSTREAMS_RETURN_IF_ERROR(impl_.with_task(
        TaskId{route.subtopology, o.partition},
        [&](state::ProcessorStateManager* stores) {
          auto* view = stores->read_only_window_store(store);
          if (view == nullptr) return;
          auto iter = view->fetch(key_bytes, from_ms, to_ms);
          for (; iter && iter->valid(); iter->next()) {
            const auto& e = iter->entry();
            out.push_back(
                QueryEntry{key, e.window_start, e.window_start + route.window_size_ms, codec.value_to_json(e.value)});
          }
        },
        stale_ok));
    return out;
  }

  std::string metrics_text() override { return impl_.metrics_->text(); }
  std::string state() override { return KafkaStreams::to_string(impl_.state_for_http()); }
  std::string degraded() override {
    std::lock_guard lock(impl_.mu_);  // threads_ changes only under close(), after the server stopped
    for (const auto& t : impl_.threads_) {
      if (t->degraded()) return t->name() + ": " + t->degraded_reason();
    }
    return "";
  }

 private:
  KafkaStreams::Impl& impl_;
};

absl::Status KafkaStreams::Impl::start_http(const std::map<std::string, int32_t>& partitions) {
  const auto& app = config_.application_id();
  for (const auto& sub : topology_.subtopologies()) {
    if (sub.source_topics.empty()) continue;
    const std::string source = sub.source_topics.front().full_name(app);
    for (const auto& spec : sub.stores) {
      if (!spec.queryable) continue;
      StoreRoute r;
      r.subtopology = sub.id;
      r.window_size_ms = spec.window_size_ms;
      r.info = StoreInfo{spec.name, state::to_string(spec.type), source,
                         partitions.count(source) ? partitions.at(source) : 0};
      store_routes_[spec.name] = r;
    }
  }
  for (const auto& g : topology_.global_stores()) {
    StoreRoute r;
    r.subtopology = -1;
    r.info = StoreInfo{g.spec.name, state::to_string(g.spec.type), g.topic,
                       partitions.count(g.topic) ? partitions.at(g.topic) : 0};
    store_routes_[g.spec.name] = r;
  }
  const std::string server = config_.get_string(config::kApplicationServer);
  if (server.empty()) return absl::OkStatus();
  const auto colon = server.rfind(':');
  const std::string host = server.substr(0, colon);
  const int port = std::stoi(server.substr(colon + 1));
  InstanceDirectoryOptions dopts;
  dopts.application_id = app;
  dopts.application_server = server;
  dopts.client_config = config_.client_settings("admin.");
  const auto rf = config_.get_long(config::kReplicationFactor);
  dopts.replication_factor = static_cast<int16_t>(rf > 0 ? rf : 1);
  directory_ = std::make_unique<InstanceDirectory>(dopts);
  KSTREAMS_RETURN_IF_ERROR(directory_->start());
  backend_ = std::make_unique<StreamsQueryBackend>(*this);
  KSTREAMS_ASSIGN_OR_RETURN(QueryServerOptions sopts, query_server_options(config_, host, port));
  sopts.advertised_server = server;
  server_ = std::make_unique<QueryServer>(*backend_, sopts);
  for (auto& [pattern, route] : routes_) {
    server_->add_get_route(pattern, [route = route](const QueryRequest& r) {
      HttpReply reply = route(to_http_query(r));
      QueryResponse out;
      out.status = reply.status;
      out.body = std::move(reply.body);
      return out;
    });
  }
  return server_->start();
}

void KafkaStreams::Impl::publish_assignment() {
  if (!directory_) return;
  std::lock_guard lock(publish_mu_);
  std::vector<std::string> tasks;
  std::vector<std::string> parts;
  for (const auto& t : threads_) {
    for (const auto& id : t->active_tasks()) tasks.push_back(id.to_string());
    for (const auto& [topic, p] : t->assigned_partitions()) parts.push_back(topic + "-" + std::to_string(p));
  }
  absl::Status st = directory_->publish(tasks, parts);
  if (!st.ok()) KS_LOG_WARN("kafka-streams: publishing the assignment failed: {}", st.ToString());
}

QueryResponse KafkaStreams::Impl::reply_for(absl::StatusOr<QueryEntry> entry) {
  if (entry.ok()) return QueryResponse{200, entry->value_json};
  switch (entry.status().code()) {
    case absl::StatusCode::kNotFound:
      return QueryServer::error(404, "not_found", std::string(entry.status().message()));
    case absl::StatusCode::kInvalidArgument:
      return QueryServer::error(400, "bad_request", std::string(entry.status().message()));
    case absl::StatusCode::kUnavailable:
      return QueryServer::error(503, "unavailable", std::string(entry.status().message()));
    default:
      return QueryServer::error(500, "internal", std::string(entry.status().message()));
  }
}

KafkaStreams::KafkaStreams(const Topology& topology, StreamsConfig config)
    : impl_(std::make_unique<Impl>(topology, std::move(config))) {}

KafkaStreams::~KafkaStreams() { close(); }

void KafkaStreams::set_state_listener(StateListener listener) {
  std::lock_guard lock(impl_->mu_);
  impl_->listener_ = std::move(listener);
}

void KafkaStreams::set_restore_listener(std::shared_ptr<RestoreListener> listener) {
  std::lock_guard lock(impl_->mu_);
  impl_->restore_listener_ = std::move(listener);
}

absl::Status KafkaStreams::start() {
  absl::Status st = impl_->start();
  if (!st.ok()) KS_LOG_ERROR("kafka-streams [{}] start failed: {}", impl_->config_.application_id(), st.ToString());
  return st;
}

bool KafkaStreams::close(std::chrono::milliseconds timeout) { return impl_->close(timeout); }

void KafkaStreams::set_query_codec(const std::string& store, QueryCodec codec) {
  QueryCodec base = default_codec();
  if (!codec.key_from_text) codec.key_from_text = base.key_from_text;
  if (!codec.key_to_text) codec.key_to_text = base.key_to_text;
  if (!codec.value_to_json) codec.value_to_json = base.value_to_json;
  impl_->codecs_[store] = std::move(codec);
}

void KafkaStreams::add_route(const std::string& pattern, std::function<HttpReply(const HttpQuery&)> route) {
  impl_->routes_.emplace_back(pattern, std::move(route));
}

HttpReply KafkaStreams::lookup(const std::string& store, const std::string& key, const HttpQuery& request, bool stale,
                               const ValueRender& render) {
  if (!impl_->backend_) return HttpReply{503, R"({"error":"unavailable","message":"interactive queries are off"})"};
  auto o = impl_->owner(store, key);
  if (!o.ok()) return to_reply(impl_->reply_for(o.status()));
  if (!o->self) return to_reply(impl_->server_->forward_to(o->application_server, to_query_request(request)));
  auto entry = impl_->backend_->get(store, key, stale);
  if (entry.ok() && render) return HttpReply{200, render(entry->value_json)};
  return to_reply(impl_->reply_for(std::move(entry)));
}

HttpReply KafkaStreams::lookup_windows(const std::string& store, const std::string& key, int64_t from_ms, int64_t to_ms,
                                       const HttpQuery& request, bool stale, const WindowRender& render) {
  if (!impl_->backend_) return HttpReply{503, R"({"error":"unavailable","message":"interactive queries are off"})"};
  auto o = impl_->owner(store, key);
  if (!o.ok()) return to_reply(impl_->reply_for(o.status()));
  if (!o->self) return to_reply(impl_->server_->forward_to(o->application_server, to_query_request(request)));
  auto entries = impl_->backend_->fetch_windows(store, key, from_ms, to_ms, stale);
  if (!entries.ok()) return to_reply(impl_->reply_for(entries.status()));
  if (render) {
    std::vector<WindowValue> windows;
    for (const auto& e : *entries) windows.push_back(WindowValue{e.key, *e.window_start, *e.window_end, e.value_json});
    return HttpReply{200, render(windows)};
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : *entries) {
    arr.push_back({{"key", e.key},
                   {"window_start", *e.window_start},
                   {"window_end", *e.window_end},
                   {"value", nlohmann::json::parse(e.value_json, nullptr, false)}});
  }
  return HttpReply{200, arr.dump()};
}

int KafkaStreams::http_port() const { return impl_->server_ ? impl_->server_->port() : 0; }

int KafkaStreams::run_until_signal() {
  g_signal = 0;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  while (g_signal.load() == 0 && state() != State::kError && state() != State::kNotRunning) {
    std::this_thread::sleep_for(50ms);
  }
  const bool failed = state() == State::kError;
  if (g_signal.load() != 0) KS_LOG_INFO("kafka-streams: signal {} received, shutting down", g_signal.load());
  const auto timeout = std::chrono::milliseconds(impl_->config_.get_long(config::kShutdownTimeoutMs));
  const bool clean = close(timeout);
  if (!clean && state() != State::kNotRunning) {
    // A stream thread is stuck in a call that did not honour the deadline. Waiting for it would
    // make the shutdown unbounded; everything uncommitted is aborted by the transaction timeout and
    // restored from the changelogs, so ending the process here is safe.
    KS_LOG_ERROR("kafka-streams: not closed within shutdown.timeout.ms ({} ms): exiting", timeout.count());
    ::kstreams::log::get()->flush();
    std::_Exit(1);
  }
  return failed || !clean ? 1 : 0;
}

KafkaStreams::State KafkaStreams::state() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->state_;
}

const char* KafkaStreams::to_string(State s) {
  switch (s) {
    case State::kCreated:
      return "CREATED";
    case State::kRebalancing:
      return "REBALANCING";
    case State::kRunning:
      return "RUNNING";
    case State::kPendingShutdown:
      return "PENDING_SHUTDOWN";
    case State::kNotRunning:
      return "NOT_RUNNING";
    case State::kError:
      return "ERROR";
  }
  return "?";
}

absl::Status KafkaStreams::error() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->error_;
}

bool KafkaStreams::wait_for_state(State target, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu_);
  return impl_->cv_.wait_for(lock, timeout, [&] {
    return impl_->state_ == target || impl_->state_ == State::kError;
  }) && impl_->state_ == target;
}

MetricsRegistry& KafkaStreams::metrics() { return *impl_->metrics_; }

std::vector<std::string> KafkaStreams::active_tasks() const {
  std::vector<std::string> out;
  for (const auto& t : impl_->threads_) {
    for (const auto& id : t->active_tasks()) out.push_back(id.to_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kstreams::runtime
