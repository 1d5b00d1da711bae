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
#include <memory>
#include <string>
#include <vector>

#include "kstreams/common/metrics.h"
#include "kstreams/common/status.h"
#include "kstreams/runtime/streams_config.h"
#include "kstreams/topology/topology.h"

namespace kstreams::runtime {

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

  // Validates the topology against the cluster, creates internal topics, opens the state directory
  // (locked: two instances cannot share one) and starts the stream threads and the HTTP server.
  // Errors: kInvalidArgument / kFailedPrecondition (fix the configuration or the topics),
  // kUnavailable (the cluster did not answer).
  [[nodiscard]] absl::Status start();

  // Commits, closes the tasks, leaves the group, stops HTTP. Idempotent. Returns false if the
  // threads did not stop within `timeout`.
  bool close(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Blocks until SIGTERM or SIGINT (or until the instance reaches ERROR), then close().
  // Returns 0 after a clean shutdown, 1 after an error.
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
