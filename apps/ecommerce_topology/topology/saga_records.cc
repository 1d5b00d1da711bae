#include "topology/saga_records.h"

namespace ecommerce {

using nlohmann::json;

namespace {

// One tag per type (binary.h); bump a tag when its layout changes.
enum Tag : uint8_t {
  kStockCommandTag = 0xC1,
  kLineResultTag = 0xC2,
  kSagaStateTag = 0xC3,
  kStockLevelTag = 0xC4,
  kOutboxEntryV1Tag = 0xC5,  // without first_attempt_at: still read (outbox entries of an older build)
  // 0xC6 was the per-task breaker's state (no longer stored); not to be reused.
  kTerminalEventTag = 0xC7,
  kRevenueDeltaTag = 0xC8,
  kRevenueAggTag = 0xC9,
  kSkuSaleTag = 0xCA,
  kSkuAggTag = 0xCB,
  kOutboxEntryTag = 0xCC,
};

void encode_items(const std::vector<OrderItem>& items, binary::Writer& w) {
  w.u64(items.size());
  for (const auto& item : items) {
    w.str(item.sku);
    w.i64(item.qty);
    w.i64(item.unit_price_cents);
  }
}

bool decode_items(binary::Reader& r, std::vector<OrderItem>* items) {
  uint64_t n = 0;
  if (!r.u64(&n) || n > kMaxOrderLines) return false;
  items->resize(n);
  for (auto& item : *items) {
    if (!r.str(&item.sku) || !r.i64(&item.qty) || !r.i64(&item.unit_price_cents)) return false;
  }
  return true;
}

bool decode_state(binary::Reader& r, OrderState* state) {
  int64_t v = 0;
  if (!r.i64(&v) || v < 0 || v > static_cast<int64_t>(OrderState::kCancelled)) return false;
  *state = static_cast<OrderState>(v);
  return true;
}

}  // namespace

void encode(const StockCommand& v, binary::Writer& w) {
  w.tag(kStockCommandTag);
  w.boolean(v.type == StockCommand::Type::kRelease);
  w.str(v.order_id);
  w.str(v.sku);
  w.i64(v.qty);
  w.i64(v.line);
}
bool decode(binary::Reader& r, StockCommand* v) {
  bool release = false;
  if (!r.tag(kStockCommandTag) || !r.boolean(&release)) return false;
  v->type = release ? StockCommand::Type::kRelease : StockCommand::Type::kReserve;
  return r.str(&v->order_id) && r.str(&v->sku) && r.i64(&v->qty) && r.integer(&v->line);
}

void encode(const LineResult& v, binary::Writer& w) {
  w.tag(kLineResultTag);
  w.str(v.order_id);
  w.i64(v.line);
  w.str(v.sku);
  w.i64(v.qty);
  w.boolean(v.reserved);
}
bool decode(binary::Reader& r, LineResult* v) {
  return r.tag(kLineResultTag) && r.str(&v->order_id) && r.integer(&v->line) && r.str(&v->sku) && r.i64(&v->qty) &&
         r.boolean(&v->reserved);
}

void encode(const SagaState& v, binary::Writer& w) {
  w.tag(kSagaStateTag);
  w.str(v.order.order_id);
  w.str(v.order.customer_id);
  w.i64(v.order.created_at);
  encode_items(v.order.items, w);
  w.u64(v.lines.size());
  for (int8_t l : v.lines) w.i64(l);
}
bool decode(binary::Reader& r, SagaState* v) {
  if (!r.tag(kSagaStateTag) || !r.str(&v->order.order_id) || !r.str(&v->order.customer_id) ||
      !r.i64(&v->order.created_at) || !decode_items(r, &v->order.items)) {
    return false;
  }
  uint64_t n = 0;
  if (!r.u64(&n) || n != v->order.items.size()) return false;
  v->lines.resize(n);
  for (auto& l : v->lines) {
    if (!r.integer(&l) || l < -1 || l > 1) return false;
  }
  return true;
}

void encode(const StockLevel& v, binary::Writer& w) {
  w.tag(kStockLevelTag);
  w.str(v.sku);
  w.i64(v.available);
  w.i64(v.reserved);
}
bool decode(binary::Reader& r, StockLevel* v) {
  return r.tag(kStockLevelTag) && r.str(&v->sku) && r.i64(&v->available) && r.i64(&v->reserved);
}

void encode(const OutboxEntry& v, binary::Writer& w) {
  w.tag(kOutboxEntryTag);
  w.str(v.notification_id);
  w.str(v.order_id);
  w.str(v.event);
  w.str(v.payload);
  w.i64(v.attempts);
  w.i64(v.next_attempt_at);
  w.str(v.last_error);
  w.i64(v.first_attempt_at);
}
bool decode(binary::Reader& r, OutboxEntry* v) {
  const bool v1 = r.tag(kOutboxEntryV1Tag);  // first_attempt_at stays 0
  if (!v1 && !r.tag(kOutboxEntryTag)) return false;
  return r.str(&v->notification_id) && r.str(&v->order_id) && r.str(&v->event) && r.str(&v->payload) &&
         r.integer(&v->attempts) && r.i64(&v->next_attempt_at) && r.str(&v->last_error) &&
         (v1 || r.i64(&v->first_attempt_at));
}

void encode(const TerminalEvent& v, binary::Writer& w) {
  w.tag(kTerminalEventTag);
  w.str(v.order_id);
  w.i64(static_cast<int64_t>(v.status));
  w.i64(v.total_cents);
  w.i64(v.created_at);
  encode_items(v.items, w);
}
bool decode(binary::Reader& r, TerminalEvent* v) {
  return r.tag(kTerminalEventTag) && r.str(&v->order_id) && decode_state(r, &v->status) && r.i64(&v->total_cents) &&
         r.i64(&v->created_at) && decode_items(r, &v->items);
}

void encode(const RevenueDelta& v, binary::Writer& w) {
  w.tag(kRevenueDeltaTag);
  w.boolean(v.confirmed);
  w.i64(v.total_cents);
}
bool decode(binary::Reader& r, RevenueDelta* v) {
  return r.tag(kRevenueDeltaTag) && r.boolean(&v->confirmed) && r.i64(&v->total_cents);
}

void encode(const RevenueAgg& v, binary::Writer& w) {
  w.tag(kRevenueAggTag);
  w.i64(v.orders_confirmed);
  w.i64(v.orders_cancelled);
  w.i64(v.revenue_cents);
}
bool decode(binary::Reader& r, RevenueAgg* v) {
  return r.tag(kRevenueAggTag) && r.i64(&v->orders_confirmed) && r.i64(&v->orders_cancelled) &&
         r.i64(&v->revenue_cents);
}

void encode(const SkuSale& v, binary::Writer& w) {
  w.tag(kSkuSaleTag);
  w.i64(v.units);
  w.i64(v.revenue_cents);
}
bool decode(binary::Reader& r, SkuSale* v) {
  return r.tag(kSkuSaleTag) && r.i64(&v->units) && r.i64(&v->revenue_cents);
}

void encode(const SkuAgg& v, binary::Writer& w) {
  w.tag(kSkuAggTag);
  w.i64(v.units_sold);
  w.i64(v.revenue_cents);
}
bool decode(binary::Reader& r, SkuAgg* v) {
  return r.tag(kSkuAggTag) && r.i64(&v->units_sold) && r.i64(&v->revenue_cents);
}

void to_json(json& j, const StockCommand& v) {
  j = {{"type", v.type == StockCommand::Type::kReserve ? "RESERVE" : "RELEASE"},
       {"order_id", v.order_id},
       {"sku", v.sku},
       {"qty", v.qty},
       {"line", v.line}};
}
void from_json(const json& j, StockCommand& v) {
  const std::string type = j.at("type").get<std::string>();
  if (type != "RESERVE" && type != "RELEASE") throw json::other_error::create(501, "unknown command " + type, &j);
  v.type = type == "RESERVE" ? StockCommand::Type::kReserve : StockCommand::Type::kRelease;
  j.at("order_id").get_to(v.order_id);
  j.at("sku").get_to(v.sku);
  j.at("qty").get_to(v.qty);
  j.at("line").get_to(v.line);
}

void to_json(json& j, const LineResult& v) {
  j = {{"order_id", v.order_id}, {"line", v.line}, {"sku", v.sku}, {"qty", v.qty}, {"reserved", v.reserved}};
}
void from_json(const json& j, LineResult& v) {
  j.at("order_id").get_to(v.order_id);
  j.at("line").get_to(v.line);
  j.at("sku").get_to(v.sku);
  j.at("qty").get_to(v.qty);
  j.at("reserved").get_to(v.reserved);
}

void to_json(json& j, const SagaState& v) { j = {{"order", v.order}, {"lines", v.lines}}; }
void from_json(const json& j, SagaState& v) {
  j.at("order").get_to(v.order);
  j.at("lines").get_to(v.lines);
}

void to_json(json& j, const StockLevel& v) {
  j = {{"sku", v.sku}, {"available", v.available}, {"reserved", v.reserved}};
}
void from_json(const json& j, StockLevel& v) {
  j.at("sku").get_to(v.sku);
  j.at("available").get_to(v.available);
  j.at("reserved").get_to(v.reserved);
}

void to_json(json& j, const OutboxEntry& v) {
  j = {{"notification_id", v.notification_id},
       {"order_id", v.order_id},
       {"event", v.event},
       {"payload", v.payload},
       {"attempts", v.attempts},
       {"next_attempt_at", v.next_attempt_at},
       {"last_error", v.last_error},
       {"first_attempt_at", v.first_attempt_at}};
}
void from_json(const json& j, OutboxEntry& v) {
  j.at("notification_id").get_to(v.notification_id);
  j.at("order_id").get_to(v.order_id);
  j.at("event").get_to(v.event);
  j.at("payload").get_to(v.payload);
  j.at("attempts").get_to(v.attempts);
  j.at("next_attempt_at").get_to(v.next_attempt_at);
  j.at("last_error").get_to(v.last_error);
  v.first_attempt_at = j.value("first_attempt_at", int64_t{0});
}

void to_json(json& j, const TerminalEvent& v) {
  j = {{"order_id", v.order_id},
       {"status", std::string(to_string(v.status))},
       {"total_cents", v.total_cents},
       {"created_at", v.created_at},
       {"items", v.items}};
}
void from_json(const json& j, TerminalEvent& v) {
  j.at("order_id").get_to(v.order_id);
  if (!parse_order_state(j.at("status").get<std::string>(), &v.status)) {
    throw json::other_error::create(501, "unknown status", &j);
  }
  j.at("total_cents").get_to(v.total_cents);
  j.at("created_at").get_to(v.created_at);
  j.at("items").get_to(v.items);
}

void to_json(json& j, const RevenueAgg& v) {
  j = {{"orders_confirmed", v.orders_confirmed},
       {"orders_cancelled", v.orders_cancelled},
       {"revenue_cents", v.revenue_cents}};
}
void from_json(const json& j, RevenueAgg& v) {
  j.at("orders_confirmed").get_to(v.orders_confirmed);
  j.at("orders_cancelled").get_to(v.orders_cancelled);
  j.at("revenue_cents").get_to(v.revenue_cents);
}

void to_json(json& j, const SkuSale& v) { j = {{"units", v.units}, {"revenue_cents", v.revenue_cents}}; }
void from_json(const json& j, SkuSale& v) {
  j.at("units").get_to(v.units);
  j.at("revenue_cents").get_to(v.revenue_cents);
}

void to_json(json& j, const SkuAgg& v) { j = {{"units_sold", v.units_sold}, {"revenue_cents", v.revenue_cents}}; }
void from_json(const json& j, SkuAgg& v) {
  j.at("units_sold").get_to(v.units_sold);
  j.at("revenue_cents").get_to(v.revenue_cents);
}

void to_json(json& j, const RevenueDelta& v) { j = {{"confirmed", v.confirmed}, {"total_cents", v.total_cents}}; }
void from_json(const json& j, RevenueDelta& v) {
  j.at("confirmed").get_to(v.confirmed);
  j.at("total_cents").get_to(v.total_cents);
}

}  // namespace ecommerce
