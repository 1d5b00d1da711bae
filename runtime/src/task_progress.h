// TaskProgress: the part of a task's state that does not live in its stores — the task's stream
// time, the next due time of its stream-time punctuators and the named values its nodes keep with
// TaskContext::progress() (the stream time a windowed node has seen, the last window it emitted).
//
// It must move exactly as the task's input offsets do, or a restart re-emits closed windows and an
// abort loses them. So, as Kafka Streams does with partition time, it is committed in the metadata
// of the task's committed input offsets: in the same transaction as the output under exactly-once,
// with the offsets under at-least-once. A task that opens (after a restart, a crash or a move to
// another instance) reads the metadata of its partitions' committed offsets and takes the newest
// (highest `sequence`); an aborted transaction returns the task to the last committed progress.
//
// Encoding: a compact JSON object with a version tag, bounded by Kafka's default
// offset.metadata.max.bytes (4096). Metadata that is not ours (empty, another tool's, malformed,
// another version) decodes to kInvalidArgument and is ignored by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "kstreams/common/status.h"
#include "kstreams/common/types.h"

namespace kstreams::runtime {

// Kafka's default offset.metadata.max.bytes: committed metadata above it is refused by the broker.
inline constexpr size_t kMaxCommitMetadataBytes = 4096;

struct TaskProgress {
  int64_t sequence = 0;  // commits of the task, across instances; the highest is the newest
  TimestampMs stream_time = kNoTimestamp;
  std::map<int64_t, TimestampMs> punctuations;         // stream-time punctuator id -> next due time
  std::map<std::string, int64_t, std::less<>> values;  // TaskContext::progress() by key

  bool operator==(const TaskProgress&) const = default;
};

[[nodiscard]] std::string encode_task_progress(const TaskProgress& progress);
// kInvalidArgument when `metadata` is not an encoded TaskProgress of this version.
[[nodiscard]] absl::StatusOr<TaskProgress> decode_task_progress(std::string_view metadata);

}  // namespace kstreams::runtime
