// What the processor nodes of a task see of the task that runs them. Implemented by the runtime's
// StreamTask and GlobalStateTask (and nothing else); declared here because topology sits below runtime.
//
// Thread-safety: a task and its context belong to one stream thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kstreams/common/record.h"
#include "kstreams/common/status.h"
#include "kstreams/common/types.h"
#include "kstreams/state/store.h"
#include "kstreams/topology/record.h"

namespace kstreams {

enum class PunctuationType { kStreamTime, kWallClockTime };

// Called with the time that triggered it (stream time or wall-clock time, in ms).
using Punctuator = std::function<void(TimestampMs)>;

namespace internal {

class TaskContext {
 public:
  virtual ~TaskContext() = default;
  [[nodiscard]] virtual TaskId task_id() const = 0;
  [[nodiscard]] virtual const std::string& application_id() const = 0;
  [[nodiscard]] virtual const RecordMetadata& record_metadata() const = 0;
  [[nodiscard]] virtual TimestampMs stream_time() const = 0;
  [[nodiscard]] virtual TimestampMs wall_clock_ms() const = 0;
  // A store of this task or a global store; null when there is none of that name.
  [[nodiscard]] virtual state::StateStore* store(std::string_view name) = 0;
  // Returns an id for cancel_punctuator().
  virtual int64_t schedule(std::chrono::milliseconds interval, PunctuationType type, Punctuator fn) = 0;
  virtual void cancel_punctuator(int64_t id) = 0;
  virtual void request_commit() = 0;
  // Produces a record; partition -1 means murmur2 of the key over the topic's partitions.
  virtual void send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
                    const Headers& headers, TimestampMs timestamp, int32_t partition) = 0;
  // A built-in processor hit an error it cannot handle (e.g. a store write failed): the task stops
  // processing the current record and reports `status` through its error handling.
  virtual void fail(absl::Status status) = 0;
  // A record was dropped on purpose (late for its window, null key for an aggregation, ...).
  virtual void record_dropped(std::string_view reason) = 0;
  // The full name of a topic as named in the topology (prefixes internal topics with application.id).
  [[nodiscard]] virtual std::string resolve_topic(const std::string& topic, bool internal) const = 0;
  // A named int64 of task state that is not in a store (the stream time a windowed node has seen,
  // the last window it emitted). The task commits it atomically with its input offsets (in the
  // committed offsets' metadata), rolls it back to the committed value when a transaction aborts,
  // and restores it when the task is reopened, here or on another instance. Call from init();
  // `key` must be unique in the task and stable across restarts (prefix it with the node name).
  // The pointer stays valid while the task runs; `initial` is its value before any commit.
  virtual int64_t* progress(const std::string& key, int64_t initial) = 0;
};

}  // namespace internal
}  // namespace kstreams
