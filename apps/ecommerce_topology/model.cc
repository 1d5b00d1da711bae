#include "model.h"

#include <charconv>
#include <limits>
#include <set>

namespace ecommerce {
namespace {

using nlohmann::json;

// The contract's bounds (shared/contracts/ecommerce.md): no total or stock level can overflow.
constexpr int64_t kMaxLineQty = 1'000'000;
constexpr int64_t kMaxUnitPriceCents = 10'000'000'000;
constexpr int64_t kMaxRestockQty = 1'000'000'000;

[[noreturn]] void fail(const json& j, const std::string& message) { throw json::other_error::create(501, message, &j); }

const json& field(const json& j, const char* key) {
  if (!j.is_object()) fail(j, std::string("expected an object holding '") + key + "'");
  auto it = j.find(key);
  if (it == j.end()) fail(j, std::string("missing field '") + key + "'");
  return *it;
}

// True when `v` is an integer that fits int64 (a float such as 2.0 or 2.5 is not).
bool as_int64(const json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (!v.is_number_integer()) return false;
  *out = v.get<int64_t>();
  return true;
}

int64_t int_field(const json& j, const char* key) {
  int64_t out = 0;
  if (!as_int64(field(j, key), &out)) fail(j, std::string("field '") + key + "' is not an integer");
  return out;
}

std::string string_field(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_string()) fail(j, std::string("field '") + key + "' is not a string");
  return v.get<std::string>();
}

// Absent or null -> nullopt; a string -> its value; anything else throws.
std::optional<std::string> optional_string_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail(j, std::string("field '") + key + "' is neither null nor a string");
  return it->get<std::string>();
}

bool is_non_empty_string(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

json parse_or_discard(const std::optional<std::string>& value) {
  if (!value.has_value()) return json(json::value_t::discarded);
  return json::parse(value->begin(), value->end(), nullptr, /*allow_exceptions=*/false);
}

// The reason a line breaks the rules, or "" when it is fine.
std::string line_problem(const json& line, size_t i) {
  const std::string at = "items[" + std::to_string(i) + "]";
  if (!line.is_object()) return at + " is not an object";
  if (!is_non_empty_string(line, "sku")) return at + ".sku missing or not a non-empty string";
  int64_t qty = 0;
  auto q = line.find("qty");
  if (q == line.end() || !as_int64(*q, &qty)) return at + ".qty missing or not an integer";
  if (qty <= 0) return at + ".qty must be > 0";
  if (qty > kMaxLineQty) return at + ".qty must be <= " + std::to_string(kMaxLineQty);
  int64_t price = 0;
  auto p = line.find("unit_price_cents");
  if (p == line.end() || !as_int64(*p, &price)) return at + ".unit_price_cents missing or not an integer";
  if (price < 0) return at + ".unit_price_cents must be >= 0";
  if (price > kMaxUnitPriceCents) return at + ".unit_price_cents must be <= " + std::to_string(kMaxUnitPriceCents);
  return "";
}

}  // namespace

std::vector<std::string> input_topics() { return {kOrdersTopic, kRestocksTopic}; }

std::vector<std::string> output_topics() {
  return {kOrderStatusTopic,      kReservationsTopic, kNotificationsTopic,
          kNotificationsDlqTopic, kAnalyticsTopic,    kDeadLettersTopic};
}

int64_t Order::total_cents() const {
  int64_t total = 0;
  for (const auto& item : items) total += item.qty * item.unit_price_cents;
  return total;
}

absl::Status validate_order(const json& value) {
  if (!value.is_object()) return absl::InvalidArgumentError("value is not a JSON object");
  if (!is_non_empty_string(value, "order_id")) return absl::InvalidArgumentError("order_id missing or empty");
  auto customer = value.find("customer_id");
  if (customer == value.end() || !customer->is_string()) {
    return absl::InvalidArgumentError("customer_id missing or not a string");
  }
  int64_t created_at = 0;
  auto created = value.find("created_at");
  if (created == value.end() || !as_int64(*created, &created_at) || created_at < 0) {
    return absl::InvalidArgumentError("created_at missing or not an integer >= 0");
  }
  auto items = value.find("items");
  if (items == value.end() || !items->is_array()) return absl::InvalidArgumentError("items missing or not an array");
  if (items->empty()) return absl::InvalidArgumentError("no items");
  if (items->size() > kMaxOrderLines) {
    return absl::InvalidArgumentError("more than " + std::to_string(kMaxOrderLines) + " lines");
  }
  std::set<std::string> skus;
  for (size_t i = 0; i < items->size(); ++i) {
    const json& line = (*items)[i];
    if (std::string problem = line_problem(line, i); !problem.empty()) return absl::InvalidArgumentError(problem);
    const auto& sku = line["sku"].get_ref<const std::string&>();
    if (!skus.insert(sku).second) return absl::InvalidArgumentError("sku '" + sku + "' appears twice");
  }
  return absl::OkStatus();
}

ClassifiedOrder classify_order(const std::optional<std::string>& value) {
  ClassifiedOrder out;
  const json j = parse_or_discard(value);
  if (j.is_discarded() || j.is_null()) {
    out.dlq_error = kDlqMalformedJson;
    out.reason = value.has_value() ? "value is not valid JSON" : "null value";
    return out;
  }
  if (!j.is_object()) {
    out.dlq_error = kDlqNotAnObject;
    out.reason = "value is JSON but not an object";
    return out;
  }
  if (!is_non_empty_string(j, "order_id")) {
    out.dlq_error = kDlqMissingOrderId;
    out.reason = "order_id missing, empty or not a string";
    return out;
  }
  out.order.order_id = j["order_id"].get<std::string>();
  // Best-effort fields, so that an INVALID status can still say what it knows.
  if (auto c = j.find("customer_id"); c != j.end() && c->is_string()) out.order.customer_id = c->get<std::string>();
  if (auto c = j.find("created_at"); c != j.end() && as_int64(*c, &out.order.created_at)) {
    out.has_created_at = out.order.created_at >= 0;
    if (!out.has_created_at) out.order.created_at = 0;
  }
  if (absl::Status st = validate_order(j); !st.ok()) {
    out.input_class = InputClass::kInvalid;
    out.reason = std::string(st.message());
    return out;
  }
  out.input_class = InputClass::kValid;
  out.order = j.get<Order>();
  return out;
}

ClassifiedRestock classify_restock(const std::optional<std::string>& value) {
  ClassifiedRestock out;
  const json j = parse_or_discard(value);
  if (j.is_discarded() || j.is_null()) {
    out.dlq_error = kDlqMalformedJson;
    out.reason = value.has_value() ? "value is not valid JSON" : "null value";
    return out;
  }
  if (!j.is_object()) {
    out.dlq_error = kDlqNotAnObject;
    out.reason = "value is JSON but not an object";
    return out;
  }
  int64_t qty = 0;
  auto q = j.find("qty");
  if (!is_non_empty_string(j, "restock_id")) {
    out.reason = "restock_id missing or not a non-empty string";
  } else if (!is_non_empty_string(j, "sku")) {
    out.reason = "sku missing or not a non-empty string";
  } else if (q == j.end() || !as_int64(*q, &qty) || qty <= 0 || qty > kMaxRestockQty) {
    out.reason = "qty missing or not an integer in 1.." + std::to_string(kMaxRestockQty);
  } else {
    out.input_class = InputClass::kValid;
    out.restock = j.get<Restock>();
    return out;
  }
  out.dlq_error = kDlqInvalidRestock;
  return out;
}

std::string_view to_string(OrderState s) {
  switch (s) {
    case OrderState::kPending:
      return "PENDING";
    case OrderState::kConfirmed:
      return "CONFIRMED";
    case OrderState::kCancelled:
      return "CANCELLED";
  }
  return "?";
}

std::string_view to_string(CancelReason r) {
  switch (r) {
    case CancelReason::kInvalid:
      return "INVALID";
    case CancelReason::kOutOfStock:
      return "OUT_OF_STOCK";
  }
  return "?";
}

std::string_view to_string(LedgerType t) {
  switch (t) {
    case LedgerType::kRestocked:
      return "RESTOCKED";
    case LedgerType::kReserved:
      return "RESERVED";
    case LedgerType::kRejected:
      return "REJECTED";
    case LedgerType::kReleased:
      return "RELEASED";
  }
  return "?";
}

bool parse_order_state(std::string_view text, OrderState* out) {
  for (OrderState s : {OrderState::kPending, OrderState::kConfirmed, OrderState::kCancelled}) {
    if (to_string(s) == text) {
      *out = s;
      return true;
    }
  }
  return false;
}

bool parse_cancel_reason(std::string_view text, CancelReason* out) {
  for (CancelReason r : {CancelReason::kInvalid, CancelReason::kOutOfStock}) {
    if (to_string(r) == text) {
      *out = r;
      return true;
    }
  }
  return false;
}

bool parse_ledger_type(std::string_view text, LedgerType* out) {
  for (LedgerType t : {LedgerType::kRestocked, LedgerType::kReserved, LedgerType::kRejected, LedgerType::kReleased}) {
    if (to_string(t) == text) {
      *out = t;
      return true;
    }
  }
  return false;
}

int64_t ReservationEntry::delta() const {
  switch (type) {
    case LedgerType::kRestocked:
    case LedgerType::kReleased:
      return qty;
    case LedgerType::kReserved:
      return -qty;
    case LedgerType::kRejected:
      return 0;
  }
  return 0;
}

std::string notification_id(std::string_view order_id, OrderState terminal) {
  std::string id(order_id);
  id.push_back(':');
  id.append(to_string(terminal));
  return id;
}

std::string_view notification_event(OrderState terminal) {
  return terminal == OrderState::kConfirmed ? kEventOrderConfirmed : kEventOrderCancelled;
}

int64_t revenue_window_start(int64_t event_time) {
  return event_time - ((event_time % kRevenueWindowSizeMs) + kRevenueWindowSizeMs) % kRevenueWindowSizeMs;
}

std::vector<int64_t> sku_window_starts(int64_t event_time) {
  std::vector<int64_t> starts;
  const int64_t last = event_time - ((event_time % kSkuWindowAdvanceMs) + kSkuWindowAdvanceMs) % kSkuWindowAdvanceMs;
  // Stops at `last` rather than stepping past it: no overflow for an event time near INT64_MAX.
  for (int64_t s = last - kSkuWindowSizeMs + kSkuWindowAdvanceMs;; s += kSkuWindowAdvanceMs) {
    if (s >= 0 && event_time - s < kSkuWindowSizeMs) starts.push_back(s);
    if (s == last) break;
  }
  return starts;
}

std::string analytics_type(const json& value) {
  if (!value.is_object()) return "";
  auto it = value.find("type");
  return it != value.end() && it->is_string() ? it->get<std::string>() : "";
}

// ---- JSON mapping ---------------------------------------------------------------------------

void to_json(json& j, const OrderItem& v) {
  j = json{{"sku", v.sku}, {"qty", v.qty}, {"unit_price_cents", v.unit_price_cents}};
}

void from_json(const json& j, OrderItem& v) {
  v.sku = string_field(j, "sku");
  v.qty = int_field(j, "qty");
  v.unit_price_cents = int_field(j, "unit_price_cents");
}

void to_json(json& j, const Order& v) {
  j = json{{"order_id", v.order_id}, {"customer_id", v.customer_id}, {"created_at", v.created_at}, {"items", v.items}};
}

void from_json(const json& j, Order& v) {
  v.order_id = string_field(j, "order_id");
  v.customer_id = string_field(j, "customer_id");
  v.created_at = int_field(j, "created_at");
  const json& items = field(j, "items");
  if (!items.is_array()) fail(j, "field 'items' is not an array");
  v.items = items.get<std::vector<OrderItem>>();
}

void to_json(json& j, const Restock& v) { j = json{{"restock_id", v.restock_id}, {"sku", v.sku}, {"qty", v.qty}}; }

void from_json(const json& j, Restock& v) {
  v.restock_id = string_field(j, "restock_id");
  v.sku = string_field(j, "sku");
  v.qty = int_field(j, "qty");
}

void to_json(json& j, const OrderStatus& v) {
  j = json{{"order_id", v.order_id},
           {"status", to_string(v.status)},
           {"reason", v.reason ? json(to_string(*v.reason)) : json(nullptr)},
           {"total_cents", v.total_cents},
           {"created_at", v.created_at},
           {"updated_at", v.updated_at},
           {"items", v.items}};
}

void from_json(const json& j, OrderStatus& v) {
  v.order_id = string_field(j, "order_id");
  if (!parse_order_state(string_field(j, "status"), &v.status)) fail(j, "unknown order status");
  v.reason.reset();
  if (auto reason = optional_string_field(j, "reason")) {
    CancelReason r{};
    if (!parse_cancel_reason(*reason, &r)) fail(j, "unknown cancel reason '" + *reason + "'");
    v.reason = r;
  }
  v.total_cents = int_field(j, "total_cents");
  v.created_at = int_field(j, "created_at");
  v.updated_at = int_field(j, "updated_at");
  const json& items = field(j, "items");
  if (!items.is_array()) fail(j, "field 'items' is not an array");
  v.items = items.get<std::vector<OrderItem>>();
}

void to_json(json& j, const ReservationEntry& v) {
  j = json{{"order_id", v.order_id ? json(*v.order_id) : json(nullptr)},
           {"sku", v.sku},
           {"qty", v.qty},
           {"type", to_string(v.type)},
           {"available_after", v.available_after}};
  if (v.restock_id) j["restock_id"] = *v.restock_id;
}

void from_json(const json& j, ReservationEntry& v) {
  v.order_id = optional_string_field(j, "order_id");
  v.sku = string_field(j, "sku");
  v.qty = int_field(j, "qty");
  if (!parse_ledger_type(string_field(j, "type"), &v.type)) fail(j, "unknown ledger type");
  v.available_after = int_field(j, "available_after");
  v.restock_id = optional_string_field(j, "restock_id");
}

void to_json(json& j, const NotificationReceipt& v) {
  j = json{{"notification_id", v.notification_id},
           {"order_id", v.order_id},
           {"event", v.event},
           {"status", v.status},
           {"attempts", v.attempts},
           {"delivered_at", v.delivered_at}};
}

void from_json(const json& j, NotificationReceipt& v) {
  v.notification_id = string_field(j, "notification_id");
  v.order_id = string_field(j, "order_id");
  v.event = string_field(j, "event");
  v.status = string_field(j, "status");
  v.attempts = static_cast<int32_t>(int_field(j, "attempts"));
  v.delivered_at = int_field(j, "delivered_at");
}

void to_json(json& j, const NotificationDlq& v) {
  j = json{
      {"notification_id", v.notification_id}, {"order_id", v.order_id},  {"event", v.event}, {"attempts", v.attempts},
      {"last_error", v.last_error},           {"failed_at", v.failed_at}};
}

void from_json(const json& j, NotificationDlq& v) {
  v.notification_id = string_field(j, "notification_id");
  v.order_id = string_field(j, "order_id");
  v.event = string_field(j, "event");
  v.attempts = static_cast<int32_t>(int_field(j, "attempts"));
  v.last_error = string_field(j, "last_error");
  v.failed_at = int_field(j, "failed_at");
}

void to_json(json& j, const RevenueWindow& v) {
  j = json{{"type", kRevenueWindowType},
           {"window_start", v.window_start},
           {"window_end", v.window_end},
           {"orders_confirmed", v.orders_confirmed},
           {"orders_cancelled", v.orders_cancelled},
           {"revenue_cents", v.revenue_cents}};
}

void from_json(const json& j, RevenueWindow& v) {
  if (string_field(j, "type") != kRevenueWindowType) fail(j, "not a revenue_1m record");
  v.window_start = int_field(j, "window_start");
  v.window_end = int_field(j, "window_end");
  v.orders_confirmed = int_field(j, "orders_confirmed");
  v.orders_cancelled = int_field(j, "orders_cancelled");
  v.revenue_cents = int_field(j, "revenue_cents");
}

void to_json(json& j, const SkuSalesWindow& v) {
  j = json{{"type", kSkuSalesWindowType},    {"sku", v.sku},
           {"window_start", v.window_start}, {"window_end", v.window_end},
           {"units_sold", v.units_sold},     {"revenue_cents", v.revenue_cents}};
}

void from_json(const json& j, SkuSalesWindow& v) {
  if (string_field(j, "type") != kSkuSalesWindowType) fail(j, "not a sku_sales_5m record");
  v.sku = string_field(j, "sku");
  v.window_start = int_field(j, "window_start");
  v.window_end = int_field(j, "window_end");
  v.units_sold = int_field(j, "units_sold");
  v.revenue_cents = int_field(j, "revenue_cents");
}

// ---- JSON text without a json tree ---------------------------------------------------------

namespace {

// nlohmann's escaping with ensure_ascii=false: '"', '\' and the control characters are escaped (the
// short forms where JSON has one, else \u00xx in lower-case hex); every other byte is copied.
void append_string(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t plain = 0;  // start of the run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out->append(esc, sizeof(esc));
      }
    }
  }
  out->append(s.data() + plain, s.size() - plain);
  out->push_back('"');
}

// Writes one object: open() then field(...) calls in sorted key order, then close().
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  ~ObjectWriter() { out_->push_back('}'); }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  void field(const char* name, int64_t v) {
    key(name);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out_->append(buf, r.ptr);
  }
  void field(const char* name, std::string_view v) {
    key(name);
    append_string(v, out_);
  }
  void field(const char* name, const char* v) { field(name, std::string_view(v)); }
  void field(const char* name, const std::string& v) { field(name, std::string_view(v)); }
  void field(const char* name, const std::optional<std::string>& v) {
    if (v) {
      field(name, std::string_view(*v));
    } else {
      null_field(name);
    }
  }
  void null_field(const char* name) {
    key(name);
    out_->append("null");
  }
  void field(const char* name, const std::vector<OrderItem>& items) {
    key(name);
    out_->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_->push_back(',');
      ObjectWriter item(out_);
      item.field("qty", items[i].qty);
      item.field("sku", items[i].sku);
      item.field("unit_price_cents", items[i].unit_price_cents);
    }
    out_->push_back(']');
  }

 private:
  void key(const char* name) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(name);
    out_->append("\":");
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace

void append_json(const OrderStatus& v, std::string* out) {
  ObjectWriter o(out);
  o.field("created_at", v.created_at);
  o.field("items", v.items);
  o.field("order_id", v.order_id);
  if (v.reason) {
    o.field("reason", to_string(*v.reason));
  } else {
    o.null_field("reason");
  }
  o.field("status", to_string(v.status));
  o.field("total_cents", v.total_cents);
  o.field("updated_at", v.updated_at);
}

void append_json(const ReservationEntry& v, std::string* out) {
  ObjectWriter o(out);
  o.field("available_after", v.available_after);
  o.field("order_id", v.order_id);
  o.field("qty", v.qty);
  if (v.restock_id) o.field("restock_id", *v.restock_id);
  o.field("sku", v.sku);
  o.field("type", to_string(v.type));
}

void append_json(const NotificationReceipt& v, std::string* out) {
  ObjectWriter o(out);
  o.field("attempts", v.attempts);
  o.field("delivered_at", v.delivered_at);
  o.field("event", v.event);
  o.field("notification_id", v.notification_id);
  o.field("order_id", v.order_id);
  o.field("status", v.status);
}

void append_json(const NotificationDlq& v, std::string* out) {
  ObjectWriter o(out);
  o.field("attempts", v.attempts);
  o.field("event", v.event);
  o.field("failed_at", v.failed_at);
  o.field("last_error", v.last_error);
  o.field("notification_id", v.notification_id);
  o.field("order_id", v.order_id);
}

void append_json(const RevenueWindow& v, std::string* out) {
  ObjectWriter o(out);
  o.field("orders_cancelled", v.orders_cancelled);
  o.field("orders_confirmed", v.orders_confirmed);
  o.field("revenue_cents", v.revenue_cents);
  o.field("type", kRevenueWindowType);
  o.field("window_end", v.window_end);
  o.field("window_start", v.window_start);
}

void append_json(const SkuSalesWindow& v, std::string* out) {
  ObjectWriter o(out);
  o.field("revenue_cents", v.revenue_cents);
  o.field("sku", v.sku);
  o.field("type", kSkuSalesWindowType);
  o.field("units_sold", v.units_sold);
  o.field("window_end", v.window_end);
  o.field("window_start", v.window_start);
}

}  // namespace ecommerce
