#include "topology/saga_records.h"

namespace ecommerce {

using nlohmann::json;

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
       {"last_error", v.last_error}};
}
void from_json(const json& j, OutboxEntry& v) {
  j.at("notification_id").get_to(v.notification_id);
  j.at("order_id").get_to(v.order_id);
  j.at("event").get_to(v.event);
  j.at("payload").get_to(v.payload);
  j.at("attempts").get_to(v.attempts);
  j.at("next_attempt_at").get_to(v.next_attempt_at);
  j.at("last_error").get_to(v.last_error);
}

void to_json(json& j, const BreakerState& v) {
  j = {{"consecutive_failures", v.consecutive_failures}, {"open_until", v.open_until}};
}
void from_json(const json& j, BreakerState& v) {
  j.at("consecutive_failures").get_to(v.consecutive_failures);
  j.at("open_until").get_to(v.open_until);
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

}  // namespace ecommerce
