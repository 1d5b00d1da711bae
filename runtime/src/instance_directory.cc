#include "instance_directory.h"

#include "kstreams/common/logging.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace kstreams::runtime {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// "orders-3" -> ("orders", 3); false when the text has no numeric suffix.
bool split_partition(const std::string& text, std::string* topic, int32_t* partition) {
  const size_t dash = text.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == text.size()) return false;
  const auto [end, ec] = std::from_chars(text.data() + dash + 1, text.data() + text.size(), *partition);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *topic = text.substr(0, dash);
  return true;
}

}  // namespace

InstanceDirectory::InstanceDirectory(InstanceDirectoryOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::instance()),
      topic_(topic_for(options_.application_id)) {
  KSTREAMS_CHECK(!options_.application_id.empty(), "InstanceDirectory needs an application.id");
  KSTREAMS_CHECK(!options_.application_server.empty(), "InstanceDirectory needs this instance's application.server");
  KSTREAMS_CHECK(options_.ttl > options_.heartbeat_interval, "the instance TTL must exceed the heartbeat interval");
}

InstanceDirectory::~InstanceDirectory() { stop(); }

std::string InstanceDirectory::topic_for(const std::string& application_id) { return application_id + "-instances"; }

absl::Status InstanceDirectory::start() {
  KSTREAMS_CHECK(state_ == State::kCreated, "InstanceDirectory::start() called twice or after stop()");
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, AdminClient::create(options_.client_config));
  TopicSpec spec{topic_, 1, options_.replication_factor, {{"cleanup.policy", "compact"}}};
  KSTREAMS_RETURN_IF_ERROR(admin->create_topics({spec}, /*ignore_existing=*/true, options_.admin_timeout));

  Properties producer_config = options_.client_config;
  producer_config.emplace("linger.ms", "0");
  KSTREAMS_ASSIGN_OR_RETURN(producer_, ProducerClient::create(producer_config));

  Properties consumer_config = options_.client_config;
  // Plain (non-transactional) records: no need to wait for the last stable offset.
  consumer_config["isolation.level"] = "read_uncommitted";
  consumer_config.emplace("group.id", options_.application_id + "-instances-reader");
  KSTREAMS_ASSIGN_OR_RETURN(consumer_, ConsumerClient::create(consumer_config));
  KSTREAMS_RETURN_IF_ERROR(consumer_->assign({{topic_, 0, -2}}));

  state_ = State::kRunning;
  thread_ = std::thread([this] { run(); });
  KS_LOG_INFO("instance directory: {} announces itself on {}", options_.application_server, topic_);
  return absl::OkStatus();
}

absl::Status InstanceDirectory::publish(std::vector<std::string> tasks, std::vector<std::string> partitions) {
  if (state_ != State::kRunning) {
    return absl::FailedPreconditionError("InstanceDirectory::publish() outside start()..stop()");
  }
  {
    std::lock_guard lock(mu_);
    const int64_t now = clock_.now_ms();
    entries_[options_.application_server] = Entry{std::move(tasks), std::move(partitions), now, now};
    published_ = true;
  }
  return send_self();
}

absl::Status InstanceDirectory::send_self() {
  std::lock_guard send_lock(send_mu_);
  // stop() flips the state before it writes the tombstone under send_mu_: nothing follows the tombstone.
  if (state_ != State::kRunning) return absl::FailedPreconditionError("the instance directory is stopped");
  RawRecord record;
  record.topic = topic_;
  record.partition = Partition(0);
  record.key = options_.application_server;
  {
    std::lock_guard lock(mu_);
    Entry& self = entries_[options_.application_server];
    self.updated_at = clock_.now_ms();
    record.value = json({{"application_server", options_.application_server},
                         {"tasks", self.tasks},
                         {"partitions", self.partitions},
                         {"assigned_at", self.assigned_at},
                         {"updated_at", self.updated_at}})
                       .dump();
    record.timestamp = self.updated_at;
  }
  absl::Status st;
  // A full local queue is transient: serve delivery reports and retry briefly.
  for (int attempt = 0; attempt < 50; ++attempt) {
    st = producer_->send(record);
    if (st.code() != absl::StatusCode::kUnavailable) break;
    producer_->poll(milliseconds(10));
  }
  return st;
}

void InstanceDirectory::apply(const RawRecord& record) {
  if (!record.key || *record.key == options_.application_server) return;  // self is authoritative locally
  std::lock_guard lock(mu_);
  if (!record.value) {
    entries_.erase(*record.key);
    return;
  }
  json j = json::parse(*record.value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    KS_LOG_WARN("instance directory: ignoring a malformed record for {} on {}", *record.key, topic_);
    return;
  }
  try {
    const auto updated_at = j.value("updated_at", int64_t{0});
    Entry e{j.value("tasks", std::vector<std::string>{}), j.value("partitions", std::vector<std::string>{}),
            j.value("assigned_at", updated_at), updated_at};
    entries_[*record.key] = std::move(e);
  } catch (const json::exception& ex) {
    KS_LOG_WARN("instance directory: ignoring a record for {} of the wrong shape: {}", *record.key, ex.what());
  }
}

bool InstanceDirectory::live(const Entry& e, int64_t now) const { return e.updated_at >= now - options_.ttl.count(); }

void InstanceDirectory::expire(int64_t now) {
  std::lock_guard lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool self = it->first == options_.application_server;
    if (!self && !live(it->second, now)) {
      KS_LOG_INFO("instance directory: {} expired (no heartbeat for {} ms)", it->first, now - it->second.updated_at);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void InstanceDirectory::run() {
  int64_t last_heartbeat = clock_.now_ms();
  int64_t last_error_log = 0;
  while (true) {
    {
      std::unique_lock lock(stop_mu_);
      if (stopping_) return;
    }
    auto batch = consumer_->poll(options_.poll_interval, 500);
    if (batch.ok()) {
      for (const RawRecord& r : *batch) apply(r);
    } else {
      const int64_t now = clock_.now_ms();
      if (now - last_error_log > 10'000) {
        KS_LOG_WARN("instance directory: reading {} failed: {}", topic_, batch.status().ToString());
        last_error_log = now;
      }
      std::unique_lock lock(stop_mu_);
      stop_cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    }
    producer_->poll(milliseconds(0));
    const int64_t now = clock_.now_ms();
    bool published = false;
    {
      std::lock_guard lock(mu_);
      published = published_;
    }
    if (published && state_ == State::kRunning && now - last_heartbeat >= options_.heartbeat_interval.count()) {
      last_heartbeat = now;
      if (absl::Status st = send_self(); !st.ok()) {
        KS_LOG_WARN("instance directory: heartbeat of {} failed: {}", options_.application_server, st.ToString());
      }
    }
    expire(now);
  }
}

std::vector<InstanceInfo> InstanceDirectory::instances() const {
  const int64_t now = clock_.now_ms();
  std::vector<InstanceInfo> out;
  std::lock_guard lock(mu_);
  for (const auto& [server, e] : entries_) {
    const bool self = server == options_.application_server;
    if (!self && !live(e, now)) continue;
    out.push_back(InstanceInfo{server, self, e.tasks, e.partitions, e.updated_at});
  }
  return out;  // std::map order: sorted by application_server
}

std::string InstanceDirectory::owner_of(const std::string& topic, int32_t partition) const {
  const int64_t now = clock_.now_ms();
  std::string owner;
  int64_t newest = -1;  // assigned_at of `owner`
  std::lock_guard lock(mu_);
  for (const auto& [server, e] : entries_) {
    const bool self = server == options_.application_server;
    if ((!self && !live(e, now)) || e.assigned_at <= newest) continue;
    for (const std::string& p : e.partitions) {
      std::string t;
      int32_t n = -1;
      if (split_partition(p, &t, &n) && n == partition && t == topic) {
        owner = server;
        newest = e.assigned_at;
        break;
      }
    }
  }
  return owner;
}

void InstanceDirectory::stop(milliseconds flush_timeout) {
  State expected = State::kRunning;
  if (!state_.compare_exchange_strong(expected, State::kStopped)) return;
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  bool published = false;
  {
    std::lock_guard lock(mu_);
    published = published_;
    published_ = false;
    entries_.erase(options_.application_server);
  }
  if (published) {
    std::lock_guard send_lock(send_mu_);
    RawRecord tombstone;
    tombstone.topic = topic_;
    tombstone.partition = Partition(0);
    tombstone.key = options_.application_server;
    tombstone.timestamp = clock_.now_ms();
    absl::Status st = producer_->send(tombstone);
    if (st.ok()) st = producer_->flush(flush_timeout);
    if (!st.ok()) {
      KS_LOG_WARN("instance directory: tombstone of {} not delivered ({}); others drop it after the TTL",
                  options_.application_server, st.ToString());
    }
  }
  consumer_->close();
}

}  // namespace kstreams::runtime
