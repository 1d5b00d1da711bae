// KafkaStreams: runs a Topology on a Kafka cluster.
//
//   kstreams::runtime::KafkaStreams app(topology, config);
//   app.set_state_listener([](auto now, auto before) { ... });
//   if (auto st = app.start(); !st.ok()) { ... }   // creates internal topics, starts the threads
//   return app.run_until_signal();                  // SIGTERM/SIGINT: commit, close, leave the group
//
// Lifecycle (checked transitions, as Kafka Streams):
//   CREATED -> REBALANCING <-> RUNNING -> PENDING_SHUTDOWN -> NOT_RUNNING
//   any -> ERROR when a stream thread dies of a fatal error (ERROR -> PENDING_SHUTDOWN on close()).
//
// Every instance started with the same `application.id` joins one consumer group; tasks
// (subtopology x partition) spread over the instances' stream threads, and move when instances come
// and go. Internal topics (`<application.id>-<name>-repartition`, `<application.id>-<store>-changelog`)
// are created at start() with the partition counts of their inputs; an existing one with another
// count is an error, never a silent mismatch.
//
// Ownership: the topology must outlive the KafkaStreams object. Thread-safety: every public method
// may be called from any thread; the state listener runs on an internal monitor thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kstreams/common/metrics.h"
#include "kstreams/common/status.h"
#include "kstreams/runtime/streams_config.h"
#include "kstreams/topology/topology.h"

namespace kstreams::runtime {

// How interactive queries turn a key typed in a URL into the store's key bytes, and store bytes
// into JSON. The default codec treats keys as UTF-8 strings and renders values that are JSON as
// they are, other UTF-8 text as a JSON string, 8-byte values as int64 (counts), else base64.
struct QueryCodec {
  std::function<absl::StatusOr<std::string>(const std::string& text)> key_from_text;
  std::function<std::string(std::string_view bytes)> key_to_text;
  std::function<std::string(std::string_view bytes)> value_to_json;
};

// An application route on the HTTP endpoint (GET only).
struct HttpQuery {
  std::string target;                              // path?query as received
  std::map<std::string, std::string> path_params;  // "{id}" -> decoded segment
  std::map<std::string, std::string> query;        // decoded query parameters
  std::string forwarded_by;                        // set when another instance forwarded it
};
struct HttpReply {
  int status = 200;
  std::string body;  // JSON
};
// One window of a window store as rendered for a route.
struct WindowValue {
  std::string key;
  int64_t window_start = 0;
  int64_t window_end = 0;
  std::string value_json;
};
// Restoration progress (as Kafka Streams' StateRestoreListener), per logged store and changelog
// partition of a task that restores when it is assigned to this instance.
//   on_restore_start:  restoration of `store` from `changelog_topic`/`partition` begins at
//                      `start_offset` (the store's checkpointed position, or the log start) and runs
//                      to `end_offset` (the changelog's high watermark when the task was assigned;
//                      under exactly_once_v2 restoration may stop earlier, at the last stable offset).
//   on_batch_restored: a batch of `num_restored` records was written to the store; its last record
//                      has offset `batch_end_offset`.
//   on_restore_end:    the store is current; `total_restored` records were applied.
// A task revoked while restoring gets no on_restore_end (it restarts from its store's position
// wherever it is assigned next). Nothing is called for stores that have nothing to restore.
// Threading: the callbacks run on the stream threads, inside their loop, so they must be quick
// (restoration and processing wait for them) and, with num.stream.threads > 1, may run
// concurrently from several threads: an implementation must be thread-safe.
struct RestoreListener {
  virtual ~RestoreListener() = default;
  virtual void on_restore_start([[maybe_unused]] const std::string& changelog_topic, [[maybe_unused]] int32_t partition,
                                [[maybe_unused]] const std::string& store, [[maybe_unused]] int64_t start_offset,
                                [[maybe_unused]] int64_t end_offset) {}
  virtual void on_batch_restored([[maybe_unused]] const std::string& changelog_topic,
                                 [[maybe_unused]] int32_t partition, [[maybe_unused]] const std::string& store,
                                 [[maybe_unused]] int64_t batch_end_offset, [[maybe_unused]] int64_t num_restored) {}
  virtual void on_restore_end([[maybe_unused]] const std::string& changelog_topic, [[maybe_unused]] int32_t partition,
                              [[maybe_unused]] const std::string& store, [[maybe_unused]] int64_t total_restored) {}
};

// Turn a local read into the route's response body (the owner instance runs the same route, so a
// forwarded reply is already rendered).
using ValueRender = std::function<std::string(const std::string& value_json)>;
using WindowRender = std::function<std::string(const std::vector<WindowValue>& windows)>;

// The exit status of a process whose stream thread hung on one record past
// processing.record.budget.ms (EX_SOFTWARE): the record is quarantined in the state directory and
// dead-lettered (processing.exception.handler) when the instance runs again on that directory.
inline constexpr int kExitRecordBudgetExceeded = 70;

class KafkaStreams {
 public:
  enum class State { kCreated, kRebalancing, kRunning, kPendingShutdown, kNotRunning, kError };
  using StateListener = std::function<void(State new_state, State old_state)>;

  KafkaStreams(const Topology& topology, StreamsConfig config);
  ~KafkaStreams();
  KafkaStreams(const KafkaStreams&) = delete;
  KafkaStreams& operator=(const KafkaStreams&) = delete;

  // Before start().
  void set_state_listener(StateListener listener);
  // Before start(): restoration callbacks (see RestoreListener: they run on the stream threads and
  // must be thread-safe). Shared so that the caller may keep observing it; null removes it.
  void set_restore_listener(std::shared_ptr<RestoreListener> listener);
  // Before start(): the codec of a store (see QueryCodec; the default suits string keys).
  void set_query_codec(const std::string& store, QueryCodec codec);
  // Before start(): an application GET route, e.g. "/v1/orders/{id}", served on application.server
  // next to the built-in /v1/stores, /v1/metadata, /metrics and /healthz. Runs on an HTTP thread.
  void add_route(const std::string& pattern, std::function<HttpReply(const HttpQuery&)> route);

  // For routes: the value (JSON) of `key` in `store`, answered locally or forwarded to the instance
  // that owns the key (so any instance answers any key). 404 unknown store/key, 503 restoring
  // (unless `stale`), 503 owner unreachable.
  [[nodiscard]] HttpReply lookup(const std::string& store, const std::string& key, const HttpQuery& request,
                                 bool stale = false, const ValueRender& render = nullptr);
  // For routes: windows of `key` in a window store with start in [from_ms, to_ms], by default as a
  // JSON array of {"key","window_start","window_end","value"}, locally or forwarded to the owner.
  [[nodiscard]] HttpReply lookup_windows(const std::string& store, const std::string& key, int64_t from_ms,
                                         int64_t to_ms, const HttpQuery& request, bool stale = false,
                                         const WindowRender& render = nullptr);
  // The bound HTTP port (after start(); 0 when application.server is empty).
  [[nodiscard]] int http_port() const;

  // Validates the topology against the cluster, creates internal topics, opens the state directory
  // (locked: two instances cannot share one) and starts the stream threads and the HTTP server.
  // Errors: kInvalidArgument / kFailedPrecondition (fix the configuration or the topics),
  // kUnavailable (the cluster did not answer).
  [[nodiscard]] absl::Status start();

  // Stops HTTP, commits, closes the tasks, leaves the group. Idempotent. The stream threads' broker
  // calls end before `timeout` (with the broker unreachable: uncommitted work is aborted, tasks close
  // dirty, the group is left by session timeout). Returns false if a thread did not stop in time.
  bool close(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Blocks until SIGTERM or SIGINT (or until the instance reaches ERROR), then close() within
  // `shutdown.timeout.ms`. Returns 0 after a clean shutdown, 1 after an error. If a stream thread
  // is still stuck when the timeout ends, logs it and ends the process with status 1 (safe: what
  // was not committed is aborted and reprocessed after the restart).
  int run_until_signal();

  [[nodiscard]] State state() const;
  [[nodiscard]] static const char* to_string(State s);
  // The first fatal error of a stream thread (ok while there is none).
  [[nodiscard]] absl::Status error() const;
  // Waits until state() == `target` (or ERROR); false on timeout.
  bool wait_for_state(State target, std::chrono::milliseconds timeout) const;

  [[nodiscard]] MetricsRegistry& metrics();
  // Tasks this instance runs now ("0_3", ...).
  [[nodiscard]] std::vector<std::string> active_tasks() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kstreams::runtime
