#include "instance_directory.h"

#include "kstreams/common/logging.h"

#include <algorithm>
#include <cctype>
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

namespace {

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) out += c > 0x20 && c < 0x7f ? c : '?';
  return out;
}

}  // namespace

bool is_valid_server_address(std::string_view server) {
  const size_t colon = server.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view port = server.substr(colon + 1);
  int p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || port.size() > 5 || ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535) {
    return false;
  }
  const std::string_view host = server.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    return true;
  }
  if (host.size() > 253) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      const std::string_view label = host.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    const char c = host[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

InstanceTable::InstanceTable(std::string self, Limits limits) : self_(std::move(self)), limits_(limits) {}

absl::Status InstanceTable::apply(const std::string& key, const std::optional<std::string>& value, int64_t now_ms) {
  if (key == self_) return absl::OkStatus();  // self is authoritative locally
  if (!value) {
    entries_.erase(key);
    return absl::OkStatus();
  }
  if (!is_valid_server_address(key)) return absl::InvalidArgumentError("not a host:port: '" + printable(key) + "'");
  json j = json::parse(*value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("malformed record for " + key);
  Entry e;
  try {
    if (j.value("application_server", key) != key) {
      return absl::InvalidArgumentError("record keyed " + key + " names another application_server");
    }
    e.updated_at = j.at("updated_at").get<int64_t>();
    e.assigned_at = j.value("assigned_at", e.updated_at);
    e.tasks = j.value("tasks", std::vector<std::string>{});
    e.partitions = j.value("partitions", std::vector<std::string>{});
  } catch (const json::exception& ex) {
    return absl::InvalidArgumentError("record of the wrong shape for " + key + ": " + ex.what());
  }
  // Overflow-free: now_ms and the skew are far from the int64 limits.
  if (e.updated_at > now_ms + limits_.max_clock_skew.count()) {
    return absl::InvalidArgumentError("record for " + key + " is " + std::to_string(e.updated_at - now_ms) +
                                      " ms ahead of this clock (more than the allowed skew)");
  }
  if (e.assigned_at < 0 || e.assigned_at > e.updated_at) {
    return absl::InvalidArgumentError("record for " + key + " has assigned_at outside [0, updated_at]");
  }
  entries_[key] = std::move(e);
  return absl::OkStatus();
}

InstanceTable::Entry& InstanceTable::self_entry() { return entries_[self_]; }

void InstanceTable::erase_self() { entries_.erase(self_); }

bool InstanceTable::has_self() const { return entries_.count(self_) > 0; }

bool InstanceTable::live(const std::string& server, const Entry& e, int64_t now_ms) const {
  return server == self_ || e.updated_at >= now_ms - limits_.ttl.count();
}

std::vector<std::string> InstanceTable::expire(int64_t now_ms) {
  std::vector<std::string> dropped;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!live(it->first, it->second, now_ms)) {
      dropped.push_back(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::vector<InstanceInfo> InstanceTable::instances(int64_t now_ms) const {
  std::vector<InstanceInfo> out;
  for (const auto& [server, e] : entries_) {
    if (!live(server, e, now_ms)) continue;
    out.push_back(InstanceInfo{server, server == self_, e.tasks, e.partitions, e.updated_at});
  }
  return out;  // std::map order: sorted by application_server
}

std::string InstanceTable::owner_of(const std::string& topic, int32_t partition, int64_t now_ms) const {
  std::string owner;
  int64_t newest = -1;  // assigned_at of `owner`
  for (const auto& [server, e] : entries_) {
    if (!live(server, e, now_ms) || e.assigned_at <= newest) continue;
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

InstanceDirectory::InstanceDirectory(InstanceDirectoryOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::instance()),
      topic_(topic_for(options_.application_id)),
      table_(options_.application_server, InstanceTable::Limits{options_.ttl, options_.max_clock_skew}) {
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
    table_.self_entry() = InstanceTable::Entry{std::move(tasks), std::move(partitions), now, now};
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
    InstanceTable::Entry& self = table_.self_entry();
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
  if (!record.key) return;
  std::lock_guard lock(mu_);
  absl::Status st = table_.apply(*record.key, record.value, clock_.now_ms());
  if (!st.ok()) KS_LOG_WARN("instance directory: ignoring a record on {}: {}", topic_, st.ToString());
}

void InstanceDirectory::expire(int64_t now) {
  std::lock_guard lock(mu_);
  for (const std::string& server : table_.expire(now)) {
    KS_LOG_INFO("instance directory: {} expired (no heartbeat for {} ms)", server, options_.ttl.count());
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
  std::lock_guard lock(mu_);
  return table_.instances(now);
}

std::string InstanceDirectory::owner_of(const std::string& topic, int32_t partition) const {
  const int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  return table_.owner_of(topic, partition, now);
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
    table_.erase_self();
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
