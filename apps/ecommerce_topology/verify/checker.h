// The invariant checker of the e-commerce contract, separate from Kafka: it takes the records of
// every input and output topic (as read with read_committed) and checks each invariant of
// /work/shared/contracts/ecommerce.md, so tests can feed it hand-made record sets.
//
// Inputs are classified with the model's rules (classify_order / classify_restock); the first
// record of an order_id (by partition offset) is the order, later ones are duplicates. Within a
// topic, records are ordered by (partition, offset); the checker does not depend on the order of
// the vectors it is given.
//
// Analytics: an emitted window must equal the totals recomputed from the terminal statuses. A
// window that was never emitted is a violation only when it has certainly closed: its end + grace
// is below a lower bound of the stream time of the task that owns it (revenue_1m: the largest event
// time of any terminal order; sku_sales_5m: the largest event time of a CONFIRMED order holding the
// sku). The event time of an order is its `created_at`, or its record timestamp when created_at
// is missing or ill-typed (the contract's fallback); an order whose created_at is out of range has
// none and is in no window (ClassifiedOrder::event_time). created_at is bounded by
// CheckOptions::now_ms + 24 h, the verifier's stand-in for the processing instance's clock (run it
// after the topology, on a host with a synchronised clock).
//
// Keys: an order (restock) whose record key is not its order_id (sku) is classified as malformed
// (KEY_MISMATCH): it must have its dead letter and nothing else. A STOCK_OVERFLOW dead letter is a
// violation like any dead letter of a valid restock: with restocks bounded to 10^9 units, a stock
// that starts empty needs over 9 * 10^9 restocks of one sku to reach it.
//
// Latency (stats only): start = the order's `loadgen.sent_at` header (wall clock when the load
// generator sent it; its record timestamp is the synthetic created_at) or, without that header, the
// order's record timestamp. Reported twice: to the terminal status's `updated_at` (the topology's
// wall-clock decision time), and to the terminal status record's Kafka timestamp.
//
// Thread-compatible; check() is a pure function of its arguments.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kstreams/common/record.h"
#include "model.h"

namespace ecommerce::verify {

// Header the load generator puts on every order: its wall-clock send time (epoch ms, decimal).
inline constexpr const char* kSentAtHeader = "loadgen.sent_at";

// Invariant names, one report line each.
inline constexpr const char* kStatusLifecycle = "orders.valid_lifecycle";
inline constexpr const char* kInvalidCancelled = "orders.invalid_cancelled_once";
inline constexpr const char* kStatusContent = "orders.status_content";
inline constexpr const char* kNoUnknownStatus = "orders.no_unknown_status";
inline constexpr const char* kDuplicatesIgnored = "orders.duplicates_ignored";
inline constexpr const char* kDeadLetterPerMalformed = "dead_letters.one_per_malformed";
inline constexpr const char* kDeadLettersOnlyMalformed = "dead_letters.only_malformed";
inline constexpr const char* kLedgerWellFormed = "ledger.well_formed";
inline constexpr const char* kLedgerRunningBalance = "ledger.running_balance";
inline constexpr const char* kLedgerRestocks = "ledger.restocks_applied_once";
inline constexpr const char* kLedgerConfirmedReserved = "ledger.confirmed_reserved";
inline constexpr const char* kLedgerCancelledReleased = "ledger.cancelled_released";
inline constexpr const char* kLedgerNoOrphans = "ledger.no_orphans";
inline constexpr const char* kNotificationPerTerminal = "notifications.one_per_terminal";
inline constexpr const char* kNotificationsWellFormed = "notifications.well_formed";
inline constexpr const char* kAnalyticsWellFormed = "analytics.well_formed";
inline constexpr const char* kAnalyticsNoDuplicates = "analytics.no_duplicate_windows";
inline constexpr const char* kAnalyticsRevenue = "analytics.revenue_1m";
inline constexpr const char* kAnalyticsSkuSales = "analytics.sku_sales_5m";

// Every invariant name, in report order.
[[nodiscard]] const std::vector<std::string>& invariant_names();

// The records of each topic of the contract.
struct RecordSet {
  std::vector<kstreams::RawRecord> orders;
  std::vector<kstreams::RawRecord> restocks;
  std::vector<kstreams::RawRecord> order_status;
  std::vector<kstreams::RawRecord> reservations;
  std::vector<kstreams::RawRecord> notifications;
  std::vector<kstreams::RawRecord> notifications_dlq;
  std::vector<kstreams::RawRecord> analytics;
  std::vector<kstreams::RawRecord> dead_letters;

  // Files `records` by their topic name (`prefix` + the contract's name); others are ignored.
  void add(std::vector<kstreams::RawRecord> records, const std::string& prefix = "");
};

struct CheckOptions {
  int64_t grace_ms = kDefaultAnalyticsGraceMs;
  size_t max_examples = 5;
  int64_t now_ms = -1;  // bounds created_at (see above); < 0: the wall clock when check() runs
};

// `now_ms`, or the wall clock (epoch ms) when it is negative.
[[nodiscard]] int64_t now_or_wall_clock(int64_t now_ms);

struct InvariantResult {
  std::string name;
  int64_t checked = 0;                // how many items the invariant looked at
  int64_t violations = 0;             // how many broke it
  std::vector<std::string> examples;  // the first few violations, readable
};

struct Percentiles {
  int64_t count = 0;
  int64_t p50 = 0, p95 = 0, p99 = 0, max = 0;
};

struct Stats {
  int64_t order_records = 0, valid_orders = 0, invalid_orders = 0, duplicate_orders = 0, malformed_orders = 0;
  int64_t restock_records = 0, valid_restocks = 0, duplicate_restocks = 0, malformed_restocks = 0;
  int64_t terminal_statuses = 0, confirmed = 0;
  std::map<std::string, int64_t> cancelled_by_reason;
  std::map<std::string, int64_t> dead_letters_by_error;
  int64_t notifications_delivered = 0, notifications_dead_lettered = 0;
  int64_t revenue_windows_checked = 0, sku_windows_checked = 0;
  std::map<int64_t, RevenueWindow> revenue_per_minute;  // recomputed from terminal statuses
  Percentiles latency_updated_at;                       // updated_at - sent
  Percentiles latency_record_time;                      // status record timestamp - sent
  // Notifications, from the terminal status's updated_at: to the first webhook call (receipts and
  // dead letters carrying first_attempt_at), and to the receipt's delivered_at / dead letter's
  // failed_at (settled).
  Percentiles notification_first_attempt;
  Percentiles notification_settled;
};

struct Report {
  std::vector<InvariantResult> invariants;  // one per invariant_names() entry, in that order
  Stats stats;

  [[nodiscard]] bool ok() const;
  // The result named `name` (nullptr if unknown).
  [[nodiscard]] const InvariantResult* find(const std::string& name) const;
  // Violations of `name` (0 for an unknown name).
  [[nodiscard]] int64_t violations(const std::string& name) const;
  // The human-readable report: one line per invariant (OK / count + examples), then the stats.
  [[nodiscard]] std::string to_text() const;
  [[nodiscard]] nlohmann::json to_json() const;
};

[[nodiscard]] Report check(const RecordSet& records, const CheckOptions& options = {});

// The number of distinct (order_id, terminal status) pairs in `order_status` records (the progress
// measure of --wait-for-orders).
[[nodiscard]] int64_t count_terminal_statuses(const std::vector<kstreams::RawRecord>& order_status);

}  // namespace ecommerce::verify
