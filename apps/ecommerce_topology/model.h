// The e-commerce records of /work/shared/contracts/ecommerce.md as C++ types, with their JSON
// mapping (nlohmann to_json/from_json using exactly the contract's field names) and the
// classification rules of the inputs (malformed -> dead letter, invalid -> CANCELLED INVALID).
//
// Shared by the topology, the load generator, the verifier and the tests: when the contract
// changes, this file changes with it.
//
// from_json() is strict: a missing or ill-typed field throws nlohmann::json::exception (JsonSerde
// turns that into kDataLoss). Inputs from the outside world go through classify_order() /
// classify_restock() instead, which never throw and say which rule a record breaks.
// All types are plain values (thread-compatible).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kstreams/common/status.h"

namespace ecommerce {

// ---- Topics ---------------------------------------------------------------------------------
inline constexpr const char* kOrdersTopic = "orders";
inline constexpr const char* kRestocksTopic = "inventory-restocks";
inline constexpr const char* kOrderStatusTopic = "order-status";
inline constexpr const char* kReservationsTopic = "inventory-reservations";
inline constexpr const char* kNotificationsTopic = "notifications";
inline constexpr const char* kNotificationsDlqTopic = "notifications-dlq";
inline constexpr const char* kAnalyticsTopic = "order-analytics";
inline constexpr const char* kDeadLettersTopic = "dead-letters";

// The topic names above, inputs first.
[[nodiscard]] std::vector<std::string> input_topics();
[[nodiscard]] std::vector<std::string> output_topics();

// ---- Dead letters ---------------------------------------------------------------------------
// Header names of a dead letter.
inline constexpr const char* kDlqErrorHeader = "dlq.error";
inline constexpr const char* kDlqMessageHeader = "dlq.message";
inline constexpr const char* kDlqSourceTopicHeader = "dlq.source.topic";
inline constexpr const char* kDlqSourcePartitionHeader = "dlq.source.partition";
inline constexpr const char* kDlqSourceOffsetHeader = "dlq.source.offset";
// dlq.error classes used by classify_order() / classify_restock().
inline constexpr const char* kDlqMalformedJson = "MALFORMED_JSON";     // not JSON at all (or a null value)
inline constexpr const char* kDlqNotAnObject = "NOT_AN_OBJECT";        // JSON, but not an object
inline constexpr const char* kDlqMissingOrderId = "MISSING_ORDER_ID";  // order_id absent, empty or not a string
inline constexpr const char* kDlqInvalidRestock = "INVALID_RESTOCK";   // restock with missing/bad fields

// ---- Orders ---------------------------------------------------------------------------------
inline constexpr size_t kMaxOrderLines = 100;

struct OrderItem {
  std::string sku;
  int64_t qty = 0;
  int64_t unit_price_cents = 0;
  bool operator==(const OrderItem&) const = default;
};

struct Order {
  std::string order_id;
  std::string customer_id;
  int64_t created_at = 0;  // event time, epoch ms
  std::vector<OrderItem> items;

  // Sum of qty * unit_price_cents.
  [[nodiscard]] int64_t total_cents() const;
  bool operator==(const Order&) const = default;
};

// What the topology must do with an input record.
enum class InputClass {
  kValid,      // process it
  kInvalid,    // orders only: CANCELLED with reason INVALID (no PENDING)
  kMalformed,  // dead-letters, nothing else
};

struct ClassifiedOrder {
  InputClass input_class = InputClass::kMalformed;
  // kValid: the complete order. kInvalid: order_id plus every field that was well-typed (created_at
  // is 0 and `has_created_at` false when it was missing or ill-typed). kMalformed: empty.
  Order order;
  bool has_created_at = false;
  // kInvalid: the INVALID reason text; kMalformed: the dlq.message.
  std::string reason;
  // kMalformed: the dlq.error class (kDlqMalformedJson, kDlqNotAnObject, kDlqMissingOrderId).
  std::string dlq_error;
};

// The validation rules of an order value that is a JSON object with a non-empty string order_id:
// ok, or kInvalidArgument whose message is the INVALID reason text. Rules (contract, `orders`):
// customer_id a string; created_at an integer >= 0; items a non-empty array of at most 100 lines;
// each line an object with a non-empty string sku, an integer qty in 1..1,000,000 and an integer
// unit_price_cents in 0..10,000,000,000 (so no total overflows); no sku twice. Unknown extra fields are ignored.
[[nodiscard]] absl::Status validate_order(const nlohmann::json& value);

// Classifies the raw value bytes of an `orders` record (a null Kafka value is std::nullopt).
// Never throws.
[[nodiscard]] ClassifiedOrder classify_order(const std::optional<std::string>& value);

// ---- Restocks -------------------------------------------------------------------------------
struct Restock {
  std::string restock_id;
  std::string sku;
  int64_t qty = 0;
  bool operator==(const Restock&) const = default;
};

struct ClassifiedRestock {
  InputClass input_class = InputClass::kMalformed;  // kValid or kMalformed (never kInvalid)
  Restock restock;                                  // kValid only
  std::string reason;                               // kMalformed: the dlq.message
  std::string dlq_error;  // kMalformed: kDlqMalformedJson / kDlqNotAnObject / kDlqInvalidRestock
};

// A restock is valid with a non-empty string restock_id and sku and an integer qty in 1..1,000,000,000.
[[nodiscard]] ClassifiedRestock classify_restock(const std::optional<std::string>& value);

// ---- order-status ---------------------------------------------------------------------------
enum class OrderState { kPending, kConfirmed, kCancelled };
enum class CancelReason { kInvalid, kOutOfStock };

[[nodiscard]] std::string_view to_string(OrderState s);
[[nodiscard]] std::string_view to_string(CancelReason r);
// false when `text` names no value.
[[nodiscard]] bool parse_order_state(std::string_view text, OrderState* out);
[[nodiscard]] bool parse_cancel_reason(std::string_view text, CancelReason* out);
[[nodiscard]] inline bool is_terminal(OrderState s) { return s != OrderState::kPending; }

struct OrderStatus {
  std::string order_id;
  OrderState status = OrderState::kPending;
  std::optional<CancelReason> reason;  // JSON null unless CANCELLED
  int64_t total_cents = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;  // wall clock of the decision
  std::vector<OrderItem> items;
  bool operator==(const OrderStatus&) const = default;
};

// ---- inventory-reservations (the stock ledger) ----------------------------------------------
enum class LedgerType { kRestocked, kReserved, kRejected, kReleased };
[[nodiscard]] std::string_view to_string(LedgerType t);
[[nodiscard]] bool parse_ledger_type(std::string_view text, LedgerType* out);

struct ReservationEntry {
  std::optional<std::string> order_id;  // null for RESTOCKED
  std::string sku;
  int64_t qty = 0;  // REJECTED: what was asked
  LedgerType type = LedgerType::kReserved;
  int64_t available_after = 0;
  std::optional<std::string> restock_id;  // RESTOCKED only (omitted from JSON otherwise)

  // The change this entry makes to the available stock (REJECTED: 0).
  [[nodiscard]] int64_t delta() const;
  bool operator==(const ReservationEntry&) const = default;
};

// ---- notifications / notifications-dlq ------------------------------------------------------
inline constexpr const char* kEventOrderConfirmed = "ORDER_CONFIRMED";
inline constexpr const char* kEventOrderCancelled = "ORDER_CANCELLED";
inline constexpr const char* kNotificationDelivered = "DELIVERED";
inline constexpr const char* kIdempotencyKeyHeader = "Idempotency-Key";

// "<order_id>:<status>", e.g. "o-000001:CONFIRMED".
[[nodiscard]] std::string notification_id(std::string_view order_id, OrderState terminal);
// ORDER_CONFIRMED or ORDER_CANCELLED (a terminal state only).
[[nodiscard]] std::string_view notification_event(OrderState terminal);

struct NotificationReceipt {
  std::string notification_id;
  std::string order_id;
  std::string event;
  std::string status = kNotificationDelivered;
  int32_t attempts = 0;
  int64_t delivered_at = 0;
  bool operator==(const NotificationReceipt&) const = default;
};

struct NotificationDlq {
  std::string notification_id;
  std::string order_id;
  std::string event;
  int32_t attempts = 0;
  std::string last_error;
  int64_t failed_at = 0;
  bool operator==(const NotificationDlq&) const = default;
};

// ---- order-analytics ------------------------------------------------------------------------
inline constexpr const char* kRevenueWindowType = "revenue_1m";
inline constexpr const char* kSkuSalesWindowType = "sku_sales_5m";
inline constexpr const char* kRevenueWindowKey = "all";
inline constexpr int64_t kRevenueWindowSizeMs = 60'000;
inline constexpr int64_t kSkuWindowSizeMs = 300'000;
inline constexpr int64_t kSkuWindowAdvanceMs = 60'000;
inline constexpr int64_t kDefaultAnalyticsGraceMs = 30'000;

// Start of the epoch-aligned tumbling 1-minute window holding `event_time`.
[[nodiscard]] int64_t revenue_window_start(int64_t event_time);
// Starts of every epoch-aligned 5-minute window (advance 1 minute) holding `event_time`, ascending
// (windows never start before 0, as in Kafka Streams).
[[nodiscard]] std::vector<int64_t> sku_window_starts(int64_t event_time);

struct RevenueWindow {
  int64_t window_start = 0;
  int64_t window_end = 0;
  int64_t orders_confirmed = 0;
  int64_t orders_cancelled = 0;
  int64_t revenue_cents = 0;
  bool operator==(const RevenueWindow&) const = default;
};

struct SkuSalesWindow {
  std::string sku;
  int64_t window_start = 0;
  int64_t window_end = 0;
  int64_t units_sold = 0;
  int64_t revenue_cents = 0;
  bool operator==(const SkuSalesWindow&) const = default;
};

// The `type` of an order-analytics value ("" when absent or not a string).
[[nodiscard]] std::string analytics_type(const nlohmann::json& value);

// ---- JSON text without a json tree ---------------------------------------------------------
// append_json(v, out) appends exactly nlohmann::json(v).dump() (keys in sorted order, no spaces,
// the same string escaping), without building the intermediate json object: the topology writes
// its output records with it. Strings must be valid UTF-8 (they come from parsed JSON).
void append_json(const OrderStatus& v, std::string* out);
void append_json(const ReservationEntry& v, std::string* out);
void append_json(const NotificationReceipt& v, std::string* out);
void append_json(const NotificationDlq& v, std::string* out);
void append_json(const RevenueWindow& v, std::string* out);
void append_json(const SkuSalesWindow& v, std::string* out);
template <typename T>
[[nodiscard]] std::string json_text(const T& v) {
  std::string out;
  append_json(v, &out);
  return out;
}

// ---- JSON mapping (nlohmann ADL hooks) ------------------------------------------------------
void to_json(nlohmann::json& j, const OrderItem& v);
void from_json(const nlohmann::json& j, OrderItem& v);
void to_json(nlohmann::json& j, const Order& v);
void from_json(const nlohmann::json& j, Order& v);
void to_json(nlohmann::json& j, const Restock& v);
void from_json(const nlohmann::json& j, Restock& v);
void to_json(nlohmann::json& j, const OrderStatus& v);
void from_json(const nlohmann::json& j, OrderStatus& v);
void to_json(nlohmann::json& j, const ReservationEntry& v);
void from_json(const nlohmann::json& j, ReservationEntry& v);
void to_json(nlohmann::json& j, const NotificationReceipt& v);
void from_json(const nlohmann::json& j, NotificationReceipt& v);
void to_json(nlohmann::json& j, const NotificationDlq& v);
void from_json(const nlohmann::json& j, NotificationDlq& v);
// Both carry their `type` discriminator; from_json checks it.
void to_json(nlohmann::json& j, const RevenueWindow& v);
void from_json(const nlohmann::json& j, RevenueWindow& v);
void to_json(nlohmann::json& j, const SkuSalesWindow& v);
void from_json(const nlohmann::json& j, SkuSalesWindow& v);

}  // namespace ecommerce
