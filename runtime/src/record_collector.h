// Where a task's output goes: sink and repartition records, and changelog records of its stores.
//
// One RecordCollector serves one task (the runtime's implementation is a per-task view over the
// stream thread's transactional producer; the TopologyTestDriver's writes to in-memory topics).
// As a state::ChangelogWriter it receives the task's logged store writes and sends them to
// `<application.id>-<store>-changelog` at the task's partition.
//
// Contract: send() never blocks on the broker and never fails synchronously; delivery errors
// surface at the next flush/commit of the runtime (not the task's concern). Thread-safety: called on
// the task's stream thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kstreams/common/record.h"
#include "kstreams/state/state_manager.h"

namespace kstreams::runtime {

class RecordCollector : public state::ChangelogWriter {
 public:
  // key/value nullopt are Kafka nulls. partition -1: murmur2 of the key bytes over the topic's
  // partition count (a null key then goes to partition 0 in the driver; librdkafka's
  // murmur2_random picks a random one).
  virtual void send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
                    const Headers& headers, TimestampMs timestamp, int32_t partition) = 0;
};

}  // namespace kstreams::runtime
