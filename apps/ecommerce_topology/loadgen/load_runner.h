// Sending a LoadPlan to Kafka: topic creation and rate-limited, idempotent production with
// progress reporting. Used by ecommerce_loadgen and the integration test.
//
// Thread-compatible: one send at a time per producer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "kstreams/runtime/clients.h"
#include "loadgen/load_plan.h"

namespace ecommerce::loadgen {

// Creates the contract's input and output topics (`prefix` + name) with `partitions` partitions
// where missing. An existing topic with another partition count is kept and reported in `warnings`.
[[nodiscard]] absl::Status ensure_topics(kstreams::runtime::AdminClient& admin, const std::string& prefix,
                                         int32_t partitions, std::vector<std::string>* warnings);

// The producer properties of the load generator: idempotent, murmur2 partitioner.
[[nodiscard]] kstreams::runtime::Properties producer_properties(const std::string& bootstrap);

struct SendProgress {
  int64_t sent = 0;    // enqueued
  int64_t total = 0;   // records in the plan
  int64_t acked = 0;   // delivered
  int64_t errors = 0;  // failed deliveries
  double rate = 0;     // records/s since the previous report
  bool final = false;
};

struct SendOptions {
  double rate = 0;  // orders per second; 0 = as fast as possible (restocks are never limited)
  std::chrono::milliseconds progress_interval{2000};
  std::function<void(const SendProgress&)> on_progress;  // may be empty
  std::chrono::milliseconds flush_timeout{60000};
};

struct SendResult {
  int64_t sent = 0, acked = 0, errors = 0;
  std::string first_error;
  double elapsed_s = 0;
};

// Sends every restock, flushes (so restocks are in Kafka before any order), then every order at
// `rate`, each with the header loadgen.sent_at = wall clock at send. Flushes at the end. An error
// is returned only when sending cannot go on (the producer failed, flush timed out); delivery
// failures are counted in the result.
[[nodiscard]] absl::StatusOr<SendResult> send_plan(LoadPlan& plan, kstreams::runtime::ProducerClient& producer,
                                                   const SendOptions& options);

}  // namespace ecommerce::loadgen
