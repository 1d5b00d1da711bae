// Internal to the checker: the indexed view of a RecordSet that every group of checks reads, and
// the entry points of those groups (checker.cc, ledger_checks.cc, delivery_checks.cc).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "verify/checker.h"

namespace ecommerce::verify::internal {

// A record with a short readable location: "order-status p1@17".
std::string where(const kstreams::RawRecord& r);

struct InputOrder {
  const kstreams::RawRecord* record = nullptr;  // the first submission
  ClassifiedOrder classified;
  std::optional<int64_t> event_time;  // none: not counted in any analytics window
  int64_t submissions = 1;
  int64_t sent_at = 0;  // loadgen.sent_at header, else the record timestamp
};

struct StatusRecord {
  const kstreams::RawRecord* record = nullptr;
  OrderStatus status;
};

struct LedgerRecord {
  const kstreams::RawRecord* record = nullptr;
  ReservationEntry entry;
};

class Context {
 public:
  Context(const RecordSet& records, const CheckOptions& options, Report* report);

  // Adds one violation to the invariant `name`.
  void violation(const char* name, const std::string& example);
  // Counts one item checked by `name`.
  void checked(const char* name, int64_t n = 1);

  const CheckOptions& options;
  Report& report;

  // Records of each topic ordered by (partition, offset).
  std::vector<const kstreams::RawRecord*> orders, restocks, order_status, reservations, notifications,
      notifications_dlq, analytics, dead_letters;

  std::map<std::string, InputOrder> input_orders;             // by order_id: valid and invalid
  std::vector<const kstreams::RawRecord*> malformed_inputs;   // orders and restocks
  std::map<std::string, Restock> input_restocks;              // by restock_id, first submission
  int64_t now_ms = 0;                                         // CheckOptions::now_ms resolved
  std::map<std::string, std::vector<StatusRecord>> statuses;  // by order_id, in offset order
  // The first terminal status of each order that has one.
  std::map<std::string, const StatusRecord*> terminal;
  std::vector<LedgerRecord> ledger;                            // decodable entries in offset order
  std::vector<const kstreams::RawRecord*> undecodable_ledger;  // reservations that are not entries

 private:
  InvariantResult& result(const char* name);
  void index_inputs();
  void index_statuses();
};

void check_orders(Context& ctx);
void check_dead_letters(Context& ctx);
void check_ledger(Context& ctx);
void check_notifications(Context& ctx);
void check_analytics(Context& ctx);
void compute_latency(Context& ctx);
// p50/p95/p99/max of `v` (nearest rank); count 0 for an empty `v`.
[[nodiscard]] Percentiles percentiles(std::vector<int64_t> v);

}  // namespace ecommerce::verify::internal
