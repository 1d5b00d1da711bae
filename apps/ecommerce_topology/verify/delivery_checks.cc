// Downstream of the terminal statuses: notification receipts / dead letters and analytics windows.
#include <algorithm>
#include <map>
#include <set>

#include "verify/check_context.h"

namespace ecommerce::verify::internal {
namespace {

using nlohmann::json;

std::optional<json> parse(const kstreams::RawRecord& r) {
  if (!r.value) return std::nullopt;
  json j = json::parse(r.value->begin(), r.value->end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// One notification record, receipt or dead letter, reduced to what the checks need.
struct Notice {
  const kstreams::RawRecord* record = nullptr;
  std::string notification_id, order_id, event;
  bool delivered = false;
  int64_t settled_at = 0;        // delivered_at or failed_at
  int64_t first_attempt_at = 0;  // 0: not reported
};

std::optional<Notice> decode_notice(Context& ctx, const kstreams::RawRecord* r, bool delivered) {
  Notice n{r};
  n.delivered = delivered;
  std::string problem;
  try {
    auto j = parse(*r);
    if (!j) throw std::runtime_error("not a JSON object");
    int32_t attempts = 0;
    if (delivered) {
      auto v = j->get<NotificationReceipt>();
      if (v.status != kNotificationDelivered) problem = "status '" + v.status + "' is not DELIVERED";
      n.notification_id = v.notification_id, n.order_id = v.order_id, n.event = v.event, attempts = v.attempts;
      n.settled_at = v.delivered_at, n.first_attempt_at = v.first_attempt_at;
    } else {
      auto v = j->get<NotificationDlq>();
      n.notification_id = v.notification_id, n.order_id = v.order_id, n.event = v.event, attempts = v.attempts;
      n.settled_at = v.failed_at, n.first_attempt_at = v.first_attempt_at;
    }
    // A receipt needs at least one call; a dead letter may have none (calls skipped by an open
    // circuit do not count as attempts).
    if (attempts < (delivered ? 1 : 0)) problem = "attempts " + std::to_string(attempts);
  } catch (const std::exception& e) {
    ctx.violation(kNotificationsWellFormed, where(*r) + ": undecodable (" + e.what() + ")");
    return std::nullopt;
  }
  if (r->key != n.order_id) problem = "key is not the order_id";
  if (!problem.empty()) ctx.violation(kNotificationsWellFormed, where(*r) + " " + n.notification_id + ": " + problem);
  return n;
}

}  // namespace

void check_notifications(Context& ctx) {
  std::map<std::string, std::vector<Notice>> by_id;
  for (const auto* r : ctx.notifications) {
    ctx.checked(kNotificationsWellFormed);
    ++ctx.report.stats.notifications_delivered;
    if (auto n = decode_notice(ctx, r, true)) by_id[n->notification_id].push_back(*n);
  }
  for (const auto* r : ctx.notifications_dlq) {
    ctx.checked(kNotificationsWellFormed);
    ++ctx.report.stats.notifications_dead_lettered;
    if (auto n = decode_notice(ctx, r, false)) by_id[n->notification_id].push_back(*n);
  }
  std::set<std::string> expected;
  std::vector<int64_t> first_attempt;
  std::vector<int64_t> settled;
  for (const auto& [order_id, status] : ctx.terminal) {
    if (!ctx.input_orders.count(order_id)) continue;
    ctx.checked(kNotificationPerTerminal);
    const std::string id = notification_id(order_id, status->status.status);
    expected.insert(id);
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      ctx.violation(kNotificationPerTerminal, id + ": no notification and no notification dead letter");
      continue;
    }
    const auto& list = it->second;
    const int64_t decided_at = status->status.updated_at;
    settled.push_back(list[0].settled_at - decided_at);
    if (list[0].first_attempt_at > 0) first_attempt.push_back(list[0].first_attempt_at - decided_at);
    const auto delivered = std::count_if(list.begin(), list.end(), [](const Notice& n) { return n.delivered; });
    if (list.size() != 1) {
      ctx.violation(kNotificationPerTerminal, id + ": " + std::to_string(delivered) + " receipt(s) and " +
                                                  std::to_string(list.size() - delivered) + " dead letter(s)");
    }
    for (const Notice& n : list) {
      if (n.order_id != order_id || n.event != notification_event(status->status.status)) {
        ctx.violation(kNotificationsWellFormed, where(*n.record) + " " + id + ": order_id '" + n.order_id +
                                                    "' / event '" + n.event + "' do not match");
      }
    }
  }
  ctx.report.stats.notification_first_attempt = percentiles(std::move(first_attempt));
  ctx.report.stats.notification_settled = percentiles(std::move(settled));
  for (const auto& [id, list] : by_id) {
    if (!expected.count(id)) {
      ctx.violation(kNotificationsWellFormed, where(*list[0].record) + ": '" + id + "' names no terminal status");
    }
  }
}

namespace {

struct Expected {
  std::map<int64_t, RevenueWindow> revenue;
  std::map<std::pair<std::string, int64_t>, SkuSalesWindow> sku;
  int64_t revenue_bound = -1;                // lower bound of the revenue task's stream time
  std::map<std::string, int64_t> sku_bound;  // per sku
};

Expected recompute(const Context& ctx) {
  Expected ex;
  for (const auto& [id, status] : ctx.terminal) {
    auto it = ctx.input_orders.find(id);
    if (it == ctx.input_orders.end()) continue;
    const InputOrder& in = it->second;
    if (!in.event_time) continue;  // created_at out of range: in no window
    const int64_t t = *in.event_time;
    ex.revenue_bound = std::max(ex.revenue_bound, t);
    const int64_t start = revenue_window_start(t);
    RevenueWindow& w = ex.revenue[start];
    w.window_start = start;
    w.window_end = start + kRevenueWindowSizeMs;
    const bool confirmed = status->status.status == OrderState::kConfirmed;
    if (!confirmed) {
      ++w.orders_cancelled;
      continue;
    }
    ++w.orders_confirmed;
    const Order& order = in.classified.order;
    w.revenue_cents = saturating_add(w.revenue_cents, order.total_cents());
    for (const OrderItem& item : order.items) {
      auto& bound = ex.sku_bound.try_emplace(item.sku, t).first->second;
      bound = std::max(bound, t);
      for (int64_t s : sku_window_starts(t)) {
        SkuSalesWindow& sw = ex.sku[{item.sku, s}];
        sw.sku = item.sku;
        sw.window_start = s;
        sw.window_end = s + kSkuWindowSizeMs;
        sw.units_sold = saturating_add(sw.units_sold, item.qty);
        sw.revenue_cents = saturating_add(sw.revenue_cents, item.qty * item.unit_price_cents);  // bounded line
      }
    }
  }
  return ex;
}

std::string revenue_text(const RevenueWindow& w) {
  return "[" + std::to_string(w.window_start) + "," + std::to_string(w.window_end) + ") confirmed " +
         std::to_string(w.orders_confirmed) + " cancelled " + std::to_string(w.orders_cancelled) + " revenue " +
         std::to_string(w.revenue_cents);
}

std::string sku_text(const SkuSalesWindow& w) {
  return w.sku + " [" + std::to_string(w.window_start) + "," + std::to_string(w.window_end) + ") units " +
         std::to_string(w.units_sold) + " revenue " + std::to_string(w.revenue_cents);
}

bool aligned(int64_t start, int64_t end, int64_t size, int64_t advance) {
  return start >= 0 && start % advance == 0 && end == start + size;
}

}  // namespace

void check_analytics(Context& ctx) {
  const Expected ex = recompute(ctx);
  ctx.report.stats.revenue_per_minute = ex.revenue;
  std::map<int64_t, RevenueWindow> emitted_revenue;
  std::map<std::pair<std::string, int64_t>, SkuSalesWindow> emitted_sku;
  for (const auto* r : ctx.analytics) {
    ctx.checked(kAnalyticsWellFormed);
    auto j = parse(*r);
    const std::string type = j ? analytics_type(*j) : "";
    try {
      if (type == kRevenueWindowType) {
        auto w = j->get<RevenueWindow>();
        if (r->key != kRevenueWindowKey) throw std::runtime_error("revenue_1m key is not \"all\"");
        if (!aligned(w.window_start, w.window_end, kRevenueWindowSizeMs, kRevenueWindowSizeMs)) {
          throw std::runtime_error("window bounds not an aligned minute");
        }
        ctx.checked(kAnalyticsNoDuplicates);
        if (!emitted_revenue.try_emplace(w.window_start, w).second) {
          ctx.violation(kAnalyticsNoDuplicates, where(*r) + " revenue_1m " + revenue_text(w) + " emitted again");
        }
      } else if (type == kSkuSalesWindowType) {
        auto w = j->get<SkuSalesWindow>();
        if (r->key != w.sku) throw std::runtime_error("sku_sales_5m key is not the sku");
        if (!aligned(w.window_start, w.window_end, kSkuWindowSizeMs, kSkuWindowAdvanceMs)) {
          throw std::runtime_error("window bounds not aligned 5m/1m");
        }
        ctx.checked(kAnalyticsNoDuplicates);
        if (!emitted_sku.try_emplace({w.sku, w.window_start}, w).second) {
          ctx.violation(kAnalyticsNoDuplicates, where(*r) + " sku_sales_5m " + sku_text(w) + " emitted again");
        }
      } else {
        throw std::runtime_error("not a JSON object with a known type");
      }
    } catch (const std::exception& e) {
      ctx.violation(kAnalyticsWellFormed, where(*r) + ": " + e.what());
    }
  }
  const int64_t grace = ctx.options.grace_ms;
  Stats& st = ctx.report.stats;
  for (const auto& [start, w] : emitted_revenue) {
    ctx.checked(kAnalyticsRevenue);
    ++st.revenue_windows_checked;
    auto it = ex.revenue.find(start);
    RevenueWindow want = it == ex.revenue.end() ? RevenueWindow{start, start + kRevenueWindowSizeMs} : it->second;
    if (!(w == want))
      ctx.violation(kAnalyticsRevenue, "emitted " + revenue_text(w) + ", expected " + revenue_text(want));
  }
  for (const auto& [start, w] : ex.revenue) {
    if (emitted_revenue.count(start) || w.window_end + grace >= ex.revenue_bound) continue;
    ctx.checked(kAnalyticsRevenue);
    ++st.revenue_windows_checked;
    ctx.violation(kAnalyticsRevenue, "closed window never emitted: expected " + revenue_text(w));
  }
  for (const auto& [key, w] : emitted_sku) {
    ctx.checked(kAnalyticsSkuSales);
    ++st.sku_windows_checked;
    auto it = ex.sku.find(key);
    SkuSalesWindow want =
        it == ex.sku.end() ? SkuSalesWindow{key.first, key.second, key.second + kSkuWindowSizeMs} : it->second;
    if (!(w == want)) ctx.violation(kAnalyticsSkuSales, "emitted " + sku_text(w) + ", expected " + sku_text(want));
  }
  for (const auto& [key, w] : ex.sku) {
    auto bound = ex.sku_bound.find(key.first);
    if (emitted_sku.count(key) || bound == ex.sku_bound.end() || w.window_end + grace >= bound->second) continue;
    ctx.checked(kAnalyticsSkuSales);
    ++st.sku_windows_checked;
    ctx.violation(kAnalyticsSkuSales, "closed window never emitted: expected " + sku_text(w));
  }
}

}  // namespace ecommerce::verify::internal
