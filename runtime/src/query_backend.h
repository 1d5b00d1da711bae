// What the HTTP query server asks of the runtime. KafkaStreams implements it; tests use a fake.
//
// Thread-safety: every method may be called from any HTTP worker thread concurrently. An
// implementation runs store reads on the owning stream thread (or otherwise safely) and returns
// within `timeout`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kstreams/common/status.h"

namespace kstreams::runtime {

struct StoreInfo {
  std::string name;
  std::string type;          // "key-value", "window", "session"
  std::string source_topic;  // the topic whose partitioning decides which instance owns a key
  int32_t partitions = 0;
};

struct InstanceInfo {
  std::string application_server;  // host:port
  bool self = false;
  std::vector<std::string> tasks;       // "0_3", ...
  std::vector<std::string> partitions;  // "topic-3", ...
  int64_t updated_at_ms = 0;
};

// The owner of a key of a store: which instance, and whether its task is ready.
struct KeyOwner {
  std::string application_server;  // "" when no instance owns the partition right now
  bool self = false;
  int32_t partition = -1;
};

// One entry of a query result; values are JSON text (the store's value rendered as JSON).
struct QueryEntry {
  std::string key;
  std::optional<int64_t> window_start;  // window stores
  std::optional<int64_t> window_end;    // window and session stores
  std::string value_json;
};

class QueryBackend {
 public:
  virtual ~QueryBackend() = default;
  [[nodiscard]] virtual std::vector<StoreInfo> stores() = 0;
  [[nodiscard]] virtual std::vector<InstanceInfo> instances() = 0;
  // kNotFound for an unknown store.
  [[nodiscard]] virtual absl::StatusOr<KeyOwner> owner(const std::string& store, const std::string& key) = 0;
  // Local reads (the caller has checked ownership or wants a local/stale read).
  // kNotFound: unknown store or key; kUnavailable: the task holding the key is restoring (unless
  // `stale_ok`); kInvalidArgument: bad key for the store's key type.
  [[nodiscard]] virtual absl::StatusOr<QueryEntry> get(const std::string& store, const std::string& key,
                                                       bool stale_ok) = 0;
  // Keys in [from, to] (inclusive; empty `to` = unbounded) of a key-value store held locally, at most `limit`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<QueryEntry>> range(const std::string& store, const std::string& from,
                                                                      const std::string& to, size_t limit,
                                                                      bool stale_ok) = 0;
  // Windows of `key` with start in [from_ms, to_ms] of a window or session store held locally.
  [[nodiscard]] virtual absl::StatusOr<std::vector<QueryEntry>> fetch_windows(const std::string& store,
                                                                              const std::string& key, int64_t from_ms,
                                                                              int64_t to_ms, bool stale_ok) = 0;
  // Prometheus text exposition of every metric of the instance.
  [[nodiscard]] virtual std::string metrics_text() = 0;
  // "RUNNING", "REBALANCING", ... (healthz is 200 for RUNNING and REBALANCING).
  [[nodiscard]] virtual std::string state() = 0;
  // Why the instance is degraded (a stream thread backs off from retriable broker errors); empty
  // when it is not. /healthz reports it and stays 200: the instance recovers by itself.
  [[nodiscard]] virtual std::string degraded() { return ""; }
};

}  // namespace kstreams::runtime
