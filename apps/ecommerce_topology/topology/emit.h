// What the saga and inventory processors forward to their children: the JSON text a sink writes
// as is, and, for the analytics branch, the terminal event as a typed value (no re-parsing).
#pragma once

#include <string>

#include "kstreams/common/serde.h"
#include "topology/saga_records.h"

namespace ecommerce {

struct Emit {
  std::string json;
  TerminalEvent terminal;  // set for records forwarded to the analytics branch only
};

// Writes Emit::json. Emit is an output-only type: reading it back is an error.
class EmitSerde final : public kstreams::Serde<Emit> {
 public:
  void serialize(const Emit& v, std::string* out) const override { *out = v.json; }
  [[nodiscard]] absl::Status deserialize(std::string_view, Emit*) const override {
    return absl::DataLossError("Emit is an output-only record");
  }
  [[nodiscard]] std::string name() const override { return "EmitJson"; }
};

// Child node names the processors forward to.
inline constexpr const char* kStatusSink = "order-status-sink";
inline constexpr const char* kCommandSink = "stock-commands-sink";
inline constexpr const char* kReceiptSink = "notifications-sink";
inline constexpr const char* kNotificationDlqSink = "notifications-dlq-sink";
inline constexpr const char* kTerminalEvents = "terminal-events";
inline constexpr const char* kLedgerSink = "inventory-reservations-sink";
inline constexpr const char* kResultSink = "reservation-results-sink";

// Store names (queryable by name over HTTP).
inline constexpr const char* kOrdersStore = "orders";
inline constexpr const char* kSagasStore = "order-sagas";
inline constexpr const char* kOutboxStore = "notification-outbox";
inline constexpr const char* kStockStore = "stock";
inline constexpr const char* kRestocksSeenStore = "restocks-seen";
inline constexpr const char* kRevenueStore = "revenue-1m";
inline constexpr const char* kSkuSalesStore = "sku-sales-5m";

}  // namespace ecommerce
