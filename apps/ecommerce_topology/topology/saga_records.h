// Records internal to the e-commerce topology (not part of the external contract): the commands
// the order saga sends to the inventory, the line results it gets back, the saga's own state, the
// notification outbox, and what the saga hands to the analytics windows.
//
// They travel through `<application.id>-stock-commands` and `<application.id>-reservation-results`,
// the analytics repartition topics and the stores' changelogs in the binary encoding of binary.h
// (their default serde, specialised at the end of this file: every user of these types sees it).
// The JSON mappings that remain serve the query endpoint (StockLevel, RevenueAgg, SkuAgg) and
// tests. All plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model.h"
#include "topology/binary.h"

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
  int64_t first_attempt_at = 0;  // epoch ms the first call was handed to the dispatcher; 0: none yet
};

// A terminal status as the analytics windows see it (record timestamp = created_at).
struct TerminalEvent {
  std::string order_id;
  OrderState status = OrderState::kCancelled;
  int64_t total_cents = 0;
  int64_t created_at = 0;
  std::vector<OrderItem> items;
};

// What the revenue window needs of a terminal status (repartitioned to the single "all" key).
struct RevenueDelta {
  bool confirmed = false;
  int64_t total_cents = 0;
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

// Binary encoding (binary.h): decode() is false on truncated input, a wrong tag or a bad value.
#define ECOMMERCE_BINARY(T)                   \
  void encode(const T& v, binary::Writer& w); \
  [[nodiscard]] bool decode(binary::Reader& r, T* v);
ECOMMERCE_BINARY(StockCommand)
ECOMMERCE_BINARY(LineResult)
ECOMMERCE_BINARY(SagaState)
ECOMMERCE_BINARY(StockLevel)
ECOMMERCE_BINARY(OutboxEntry)
ECOMMERCE_BINARY(TerminalEvent)
ECOMMERCE_BINARY(RevenueDelta)
ECOMMERCE_BINARY(RevenueAgg)
ECOMMERCE_BINARY(SkuSale)
ECOMMERCE_BINARY(SkuAgg)
#undef ECOMMERCE_BINARY

// The binary encoding of a value.
template <typename T>
std::string to_binary(const T& v) {
  std::string out;
  binary::Writer w(&out);
  encode(v, w);
  return out;
}

// JSON views, for the query endpoint (stores render as JSON through a QueryCodec) and tests.
#define ECOMMERCE_JSON(T)                      \
  void to_json(nlohmann::json& j, const T& v); \
  void from_json(const nlohmann::json& j, T& v);
ECOMMERCE_JSON(StockCommand)
ECOMMERCE_JSON(LineResult)
ECOMMERCE_JSON(SagaState)
ECOMMERCE_JSON(StockLevel)
ECOMMERCE_JSON(OutboxEntry)
ECOMMERCE_JSON(TerminalEvent)
ECOMMERCE_JSON(RevenueDelta)
ECOMMERCE_JSON(RevenueAgg)
ECOMMERCE_JSON(SkuSale)
ECOMMERCE_JSON(SkuAgg)
#undef ECOMMERCE_JSON

}  // namespace ecommerce

// The default serde of every internal record is its binary encoding (explicit specialisations win
// over the JSON default of json_serde.h).
#define ECOMMERCE_BINARY_DEFAULT(T)                                                                       \
  template <>                                                                                             \
  struct kstreams::DefaultSerde<ecommerce::T, void> {                                                     \
    static SerdePtr<ecommerce::T> get() {                                                                 \
      static const auto serde = std::make_shared<const ecommerce::binary::BinarySerde<ecommerce::T>>(#T); \
      return serde;                                                                                       \
    }                                                                                                     \
  };
ECOMMERCE_BINARY_DEFAULT(StockCommand)
ECOMMERCE_BINARY_DEFAULT(LineResult)
ECOMMERCE_BINARY_DEFAULT(SagaState)
ECOMMERCE_BINARY_DEFAULT(StockLevel)
ECOMMERCE_BINARY_DEFAULT(OutboxEntry)
ECOMMERCE_BINARY_DEFAULT(TerminalEvent)
ECOMMERCE_BINARY_DEFAULT(RevenueDelta)
ECOMMERCE_BINARY_DEFAULT(RevenueAgg)
ECOMMERCE_BINARY_DEFAULT(SkuSale)
ECOMMERCE_BINARY_DEFAULT(SkuAgg)
#undef ECOMMERCE_BINARY_DEFAULT
