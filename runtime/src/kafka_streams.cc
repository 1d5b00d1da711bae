#include "kstreams/runtime/kafka_streams.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "kstreams/common/logging.h"
#include "kstreams/runtime/clients.h"
#include "kstreams/state/state_manager.h"
#include "prometheus_metrics.h"
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
  void set_state(State s);
  [[nodiscard]] absl::Status prepare_topics(std::vector<std::string>* source_topics);
  [[nodiscard]] absl::Status open_state_dir();
  void monitor();

  const Topology& topology_;
  StreamsConfig config_;
  StateListener listener_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  State state_ = State::kCreated;
  absl::Status error_;
  std::unique_ptr<PrometheusMetrics> metrics_ = std::make_unique<PrometheusMetrics>();
  std::unique_ptr<state::StateDirectory> state_dir_;
  std::unique_ptr<state::StoreResources> resources_;
  std::string process_id_;
  int process_lock_fd_ = -1;
  std::vector<std::unique_ptr<StreamThread>> threads_;
  std::thread monitor_;
  std::atomic<bool> stop_monitor_{false};
  bool closing_ = false;
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
  KSTREAMS_ASSIGN_OR_RETURN(
      state_dir_, state::StateDirectory::open(config_.get_string(config::kStateDir), config_.application_id()));
  resources_ = state::StoreResources::create(static_cast<size_t>(config_.get_long(config::kRocksDbMemoryBytes)));
  return absl::OkStatus();
}

absl::Status KafkaStreams::Impl::prepare_topics(std::vector<std::string>* source_topics) {
  auto admin_props = config_.client_settings("admin.");
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, AdminClient::create(admin_props));
  const auto& app = config_.application_id();
  const auto user_topics = topology_.user_source_topics();
  KSTREAMS_ASSIGN_OR_RETURN(auto user_counts, admin->partition_counts(user_topics, 30s));
  for (const auto& t : user_topics) {
    if (user_counts.count(t) == 0) {
      return absl::FailedPreconditionError("source topic '" + t + "' does not exist; create it before starting");
    }
  }
  KSTREAMS_ASSIGN_OR_RETURN(auto wanted, topology_.resolve_partitions(app, user_counts));
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
    threads_.push_back(std::make_unique<StreamThread>(i, std::move(ctx)));
  }
  for (auto& t : threads_) t->start();
  monitor_ = std::thread([this] { monitor(); });
  return absl::OkStatus();
}

// Derives the instance state from its threads (and reports fatal thread errors).
void KafkaStreams::Impl::monitor() {
  while (!stop_monitor_.load()) {
    bool all_running = !threads_.empty();
    for (auto& t : threads_) {
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
  for (auto& t : threads_) t->shutdown();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
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
  threads_.clear();  // joins
  if (process_lock_fd_ >= 0) {
    ::close(process_lock_fd_);
    process_lock_fd_ = -1;
  }
  set_state(State::kNotRunning);
  return true;
}

KafkaStreams::KafkaStreams(const Topology& topology, StreamsConfig config)
    : impl_(std::make_unique<Impl>(topology, std::move(config))) {}

KafkaStreams::~KafkaStreams() { close(); }

void KafkaStreams::set_state_listener(StateListener listener) {
  std::lock_guard lock(impl_->mu_);
  impl_->listener_ = std::move(listener);
}

absl::Status KafkaStreams::start() {
  absl::Status st = impl_->start();
  if (!st.ok()) KS_LOG_ERROR("kafka-streams [{}] start failed: {}", impl_->config_.application_id(), st.ToString());
  return st;
}

bool KafkaStreams::close(std::chrono::milliseconds timeout) { return impl_->close(timeout); }

int KafkaStreams::run_until_signal() {
  g_signal = 0;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  while (g_signal.load() == 0 && state() != State::kError && state() != State::kNotRunning) {
    std::this_thread::sleep_for(50ms);
  }
  const bool failed = state() == State::kError;
  if (g_signal.load() != 0) KS_LOG_INFO("kafka-streams: signal {} received, shutting down", g_signal.load());
  const bool clean = close();
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
