// The load generator's plan: every input record it will send, built deterministically from the
// seed before anything is sent, plus what a correct topology must make of it (the inputs of the
// verifier's invariants). Separate from Kafka so that tests can inspect it.
//
// Categories of `orders` records (exact counts: share * orders, rounded; the rest are normal):
//   normal        1-3 lines on restocked skus, small quantities
//   out_of_stock  alternately a single line on a never-restocked sku ("sku-nostock-NNN"), or a
//                 normal line plus a line asking more than the sku's whole restocked quantity
//   invalid       breaks one validation rule (the rules rotate: no items, qty 0, negative qty,
//                 negative price, 101 lines, a sku twice, missing customer_id, string qty, qty or
//                 price above its bound, created_at near INT64_MAX (no event time), ...)
//   duplicate     an exact copy of an earlier normal, out-of-stock or invalid order (same key)
//   malformed     not JSON / not an object / missing or empty order_id / a key that is not the
//                 order_id (-> dead-letters)
// Restocks: one per sku ("r-<sku>", --restock-qty units); `duplicate_share` of the skus get their
// restock sent twice (ignored by the topology), `malformed_share` of them add a malformed restock
// (bad JSON or fields, qty above 1,000,000,000, a key that is not the sku).
//
// Time: order i has created_at = created_at_start + i * time_step_ms and the same record
// timestamp (so the contract's timestamp fallback agrees with created_at); restocks are stamped one
// minute before the first order. The wall-clock send time travels in the `loadgen.sent_at` header
// (set when sending), which the verifier uses for latency.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kstreams/common/record.h"
#include "kstreams/common/status.h"

namespace ecommerce::loadgen {

struct LoadOptions {
  int64_t orders = 1000;  // records on `orders`, every category included
  uint64_t seed = 1;
  int32_t skus = 100;
  int64_t restock_qty = 10000;
  double out_of_stock_share = 0.05;
  double invalid_share = 0.02;
  double duplicate_share = 0.02;
  double malformed_share = 0.01;
  int64_t created_at_start = -1;  // epoch ms; < 0 = now
  int64_t time_step_ms = 10;
  std::string topic_prefix;      // for tests: topics are <prefix><contract name>
  std::string id_prefix = "o-";  // order ids are <id_prefix>000001, ...
};

// kInvalidArgument naming the first bad option (shares outside [0,1] or summing above 1, ...).
[[nodiscard]] absl::Status validate(const LoadOptions& options);

// What the records must produce. `exact` is true when the stock suffices for every normal order
// whatever order the topology processes them in (then the confirmed/out-of-stock counts are exact).
struct Expectations {
  int64_t order_records = 0;
  int64_t normal = 0, out_of_stock = 0, invalid = 0, duplicate = 0, malformed = 0;
  int64_t restock_records = 0, restocks_valid = 0, restocks_duplicate = 0, restocks_malformed = 0;
  int64_t terminal_statuses = 0;  // unique valid + invalid orders = notifications expected
  int64_t pending_statuses = 0;   // unique valid orders
  int64_t confirmed = 0, cancelled_out_of_stock = 0, cancelled_invalid = 0;
  int64_t confirmed_revenue_cents = 0;
  int64_t dead_letters = 0;
  std::map<std::string, int64_t> dead_letters_by_error;
  bool exact = false;
  std::string shortfall;  // when !exact: the first sku whose demand exceeds its stock
};

[[nodiscard]] nlohmann::json to_json(const Expectations& e);

struct LoadPlan {
  std::vector<kstreams::RawRecord> restocks;  // partition -1: the producer's murmur2 partitioner
  std::vector<kstreams::RawRecord> orders;
  Expectations expected;
};

// Deterministic for (options, created_at_start); `now_ms` replaces a negative created_at_start.
[[nodiscard]] absl::StatusOr<LoadPlan> make_plan(const LoadOptions& options, int64_t now_ms);

}  // namespace ecommerce::loadgen
