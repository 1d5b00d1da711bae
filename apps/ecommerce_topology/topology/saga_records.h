// Records internal to the e-commerce topology (not part of the external contract): the commands
// the order saga sends to the inventory, the line results it gets back, the saga's own state, the
// notification outbox, and what the saga hands to the analytics windows.
//
// They travel through `<application.id>-stock-commands` and `<application.id>-reservation-results`
// as JSON, and live in the stores as JSON. All plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model.h"

namespace ecommerce {

// order saga -> inventory (key: sku).
struct StockCommand {
  enum class Type { kReserve, kRelease };
  Type type = Type::kReserve;
  std::string order_id;
  std::string sku;
  int64_t qty = 0;
  int32_t line = 0;  // index of the order line
};

// inventory -> order saga (key: order_id).
struct LineResult {
  std::string order_id;
  int32_t line = 0;
  std::string sku;
  int64_t qty = 0;
  bool reserved = false;
};

// A saga waiting for its line results (store "order-sagas", key order_id).
struct SagaState {
  Order order;
  std::vector<int8_t> lines;  // per line: -1 unanswered, 0 rejected, 1 reserved
};

// The stock of a sku (store "stock", key sku); also the /v1/inventory/{sku} answer.
struct StockLevel {
  std::string sku;
  int64_t available = 0;
  int64_t reserved = 0;
};

// A notification waiting for delivery (store "notification-outbox", key notification_id).
struct OutboxEntry {
  std::string notification_id;
  std::string order_id;
  std::string event;
  std::string payload;   // the JSON body POSTed to the webhook (the terminal order-status)
  int32_t attempts = 0;  // attempts made so far
  int64_t next_attempt_at = 0;
  std::string last_error;
};

// The circuit breaker of a task's notifier (store "notifier-state", key "breaker").
struct BreakerState {
  int32_t consecutive_failures = 0;
  int64_t open_until = 0;  // epoch ms; calls are skipped before it
};

// A terminal status as the analytics windows see it (record timestamp = created_at).
struct TerminalEvent {
  std::string order_id;
  OrderState status = OrderState::kCancelled;
  int64_t total_cents = 0;
  int64_t created_at = 0;
  std::vector<OrderItem> items;
};

// Window aggregates.
struct RevenueAgg {
  int64_t orders_confirmed = 0;
  int64_t orders_cancelled = 0;
  int64_t revenue_cents = 0;
};
struct SkuSale {
  int64_t units = 0;
  int64_t revenue_cents = 0;
};
struct SkuAgg {
  int64_t units_sold = 0;
  int64_t revenue_cents = 0;
};

void to_json(nlohmann::json& j, const StockCommand& v);
void from_json(const nlohmann::json& j, StockCommand& v);
void to_json(nlohmann::json& j, const LineResult& v);
void from_json(const nlohmann::json& j, LineResult& v);
void to_json(nlohmann::json& j, const SagaState& v);
void from_json(const nlohmann::json& j, SagaState& v);
void to_json(nlohmann::json& j, const StockLevel& v);
void from_json(const nlohmann::json& j, StockLevel& v);
void to_json(nlohmann::json& j, const OutboxEntry& v);
void from_json(const nlohmann::json& j, OutboxEntry& v);
void to_json(nlohmann::json& j, const BreakerState& v);
void from_json(const nlohmann::json& j, BreakerState& v);
void to_json(nlohmann::json& j, const TerminalEvent& v);
void from_json(const nlohmann::json& j, TerminalEvent& v);
void to_json(nlohmann::json& j, const RevenueAgg& v);
void from_json(const nlohmann::json& j, RevenueAgg& v);
void to_json(nlohmann::json& j, const SkuSale& v);
void from_json(const nlohmann::json& j, SkuSale& v);
void to_json(nlohmann::json& j, const SkuAgg& v);
void from_json(const nlohmann::json& j, SkuAgg& v);

}  // namespace ecommerce
