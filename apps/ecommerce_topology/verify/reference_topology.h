// A single-threaded, in-memory reference of the contract's semantics: the output records a correct
// topology writes for given input records (restocks first, then orders, each in offset order).
// It is not the topology (no Kafka, no state stores, no time): it exists so that the checker can be
// tested against a known-good output and against each single corruption of it, and so that tests
// and tools can compare an implementation with the reference.
//
// Thread-compatible; pure function of its arguments.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kstreams/common/record.h"
#include "verify/checker.h"

namespace ecommerce::verify {

struct ReferenceOptions {
  int32_t partitions = 3;  // of every output topic (keys are placed with murmur2)
  int64_t grace_ms = kDefaultAnalyticsGraceMs;
  int64_t decision_latency_ms = 7;  // updated_at = the order's record timestamp + this
  // Returns true for a notification id whose delivery fails (it goes to notifications-dlq).
  std::function<bool(const std::string&)> notification_fails;
  std::string topic_prefix;
  int64_t now_ms = -1;  // the processing clock that bounds created_at; < 0: the wall clock
};

// Places records on partitions (murmur2 of the key, or partition 0 without a key) and numbers the
// offsets of each (topic, partition) from 0, in vector order.
void assign_offsets(std::vector<kstreams::RawRecord>* records, int32_t partitions);

// The complete record set: `orders` and `restocks` (which must have partitions and offsets) plus
// the outputs a correct topology produces.
[[nodiscard]] RecordSet reference_outputs(const std::vector<kstreams::RawRecord>& orders,
                                          const std::vector<kstreams::RawRecord>& restocks,
                                          const ReferenceOptions& options = {});

}  // namespace ecommerce::verify
