// InstanceDirectory: which instance of an application serves which partitions, and at which
// application.server, learned without assignor user-data (ARCHITECTURE.md, "Interactive queries").
//
// Protocol: a compacted internal topic `<application.id>-instances` with one partition. Each instance
// writes one record keyed by its application.server whose value is
//   {"application_server": "host:port", "tasks": ["0_3", ...], "partitions": ["orders-3", ...],
//    "assigned_at": <epoch ms of the last publish()>, "updated_at": <epoch ms of this write>}
// whenever its assignment changes (publish()) and again every heartbeat interval; a clean stop()
// writes a tombstone (null value). Every instance consumes the topic from the beginning on a
// background thread (manual assignment, no group) and keeps the latest record per key; entries whose
// `updated_at` is older than `ttl` are dropped (a crashed instance disappears after the TTL). The
// TTL compares wall clocks of different hosts: keep it well above heartbeat interval + clock skew.
// This instance's own entry is authoritative locally (records of its own key read back from the topic
// are ignored, so a previous incarnation's record cannot shadow the current assignment).
//
// Lifecycle: constructed -> start() -> publish()* -> stop() (the destructor stops). publish() before
// start() or after stop() is a kFailedPrecondition; a stopped directory cannot be restarted.
// Thread-safety: publish(), instances() and owner_of() may be called from any thread concurrently;
// start()/stop() belong to the owner thread. The background thread owns the consumer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kstreams/common/clock.h"
#include "kstreams/common/status.h"
#include "kstreams/runtime/clients.h"
#include "query_backend.h"

namespace kstreams::runtime {

// "host:port" as application.server must be: a DNS name (letters, digits, '-', '.'; labels not
// starting or ending with '-'), an IPv4 address or a bracketed IPv6 address, and a port in 1..65535.
[[nodiscard]] bool is_valid_server_address(std::string_view server);

// The directory's view of the group, built from the records of the instances topic; no I/O, so
// that what is believed can be tested on records alone. Not thread-safe: InstanceDirectory guards it.
//
// A record is believed only when its key is a valid host:port equal to its `application_server`,
// its `updated_at` is not ahead of this instance's clock by more than `max_clock_skew`, and
// `0 <= assigned_at <= updated_at`. An instance is live while `updated_at >= now - ttl`; a claim
// on a partition therefore ends `ttl` after its last heartbeat, whatever its assigned_at.
class InstanceTable {
 public:
  struct Limits {
    std::chrono::milliseconds ttl{45'000};
    std::chrono::milliseconds max_clock_skew{30'000};
  };
  struct Entry {
    std::vector<std::string> tasks;
    std::vector<std::string> partitions;
    int64_t assigned_at = 0;  // the last publish(): orders competing claims on a partition
    int64_t updated_at = 0;   // the last write (publish or heartbeat): drives the TTL
  };

  InstanceTable(std::string self, Limits limits);

  // Applies one record (`value` nullopt = tombstone) read at wall time `now_ms`. Records of this
  // instance's own key are ignored (ok): its own entry is authoritative locally. kInvalidArgument
  // (and the table unchanged) for a record that is not believed.
  [[nodiscard]] absl::Status apply(const std::string& key, const std::optional<std::string>& value, int64_t now_ms);
  // This instance's own entry (never expires; erased by erase_self()).
  Entry& self_entry();
  void erase_self();
  // Drops entries of other instances that are not live at `now_ms`; returns the servers dropped.
  std::vector<std::string> expire(int64_t now_ms);
  [[nodiscard]] std::vector<InstanceInfo> instances(int64_t now_ms) const;
  [[nodiscard]] std::string owner_of(const std::string& topic, int32_t partition, int64_t now_ms) const;
  [[nodiscard]] bool has_self() const;

 private:
  [[nodiscard]] bool live(const std::string& server, const Entry& e, int64_t now_ms) const;

  std::string self_;
  Limits limits_;
  std::map<std::string, Entry> entries_;  // application_server -> latest announcement (incl. self)
};

struct InstanceDirectoryOptions {
  std::string application_id;
  std::string application_server;  // this instance's host:port (the record key); must not be empty
  Properties client_config;        // bootstrap.servers and pass-through librdkafka settings
  std::chrono::milliseconds heartbeat_interval{10'000};
  std::chrono::milliseconds ttl{45'000};
  // Records whose timestamps are further ahead of this instance's clock are not believed.
  std::chrono::milliseconds max_clock_skew{30'000};
  std::chrono::milliseconds poll_interval{200};  // consumer poll timeout; bounds stop() latency
  int16_t replication_factor = 1;                // of the instances topic when this instance creates it
  std::chrono::milliseconds admin_timeout{30'000};
  const Clock* clock = nullptr;  // wall clock for updated_at and the TTL; nullptr = SystemClock
};

class InstanceDirectory {
 public:
  explicit InstanceDirectory(InstanceDirectoryOptions options);
  ~InstanceDirectory();
  InstanceDirectory(const InstanceDirectory&) = delete;
  InstanceDirectory& operator=(const InstanceDirectory&) = delete;

  // `<application.id>-instances`.
  [[nodiscard]] static std::string topic_for(const std::string& application_id);

  // Creates the topic if missing (cleanup.policy=compact), the producer and the consumer, and starts
  // the background thread. Errors of the admin/client creation are returned as they are.
  [[nodiscard]] absl::Status start();
  // Records this instance's current assignment and writes it to the topic (enqueued; delivery is
  // asynchronous, and the next heartbeat repeats it anyway). Visible locally at once.
  [[nodiscard]] absl::Status publish(std::vector<std::string> tasks, std::vector<std::string> partitions);
  // Live instances (not expired), sorted by application_server; this one has self = true once it has
  // published.
  [[nodiscard]] std::vector<InstanceInfo> instances() const;
  // The application_server of the instance that announced `<topic>-<partition>`, "" when none. If
  // two announce it (a rebalance in flight), the most recent publish() (assigned_at, not the
  // heartbeat) wins.
  [[nodiscard]] std::string owner_of(const std::string& topic, int32_t partition) const;
  // Stops the background thread, writes a tombstone for this instance (if it published) and waits up
  // to `flush_timeout` for it to be delivered. Idempotent.
  void stop(std::chrono::milliseconds flush_timeout = std::chrono::milliseconds(5'000));

 private:
  void run();
  void apply(const RawRecord& record);
  void expire(int64_t now);
  [[nodiscard]] absl::Status send_self();

  const InstanceDirectoryOptions options_;
  const Clock& clock_;
  const std::string topic_;
  std::unique_ptr<ProducerClient> producer_;
  std::unique_ptr<ConsumerClient> consumer_;  // used by the background thread only

  mutable std::mutex mu_;
  InstanceTable table_;     // guarded by mu_
  bool published_ = false;  // guarded by mu_

  std::mutex send_mu_;  // serializes copy-and-send of the self entry, so sends keep state order
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
  enum class State { kCreated, kRunning, kStopped };
  std::atomic<State> state_{State::kCreated};  // kCreated -> kRunning -> kStopped, never back
  std::thread thread_;
};

}  // namespace kstreams::runtime
