#include "verify/reference_topology.h"

#include <algorithm>
#include <map>
#include <set>

#include "kstreams/common/partitioner.h"

namespace ecommerce::verify {
namespace {

using kstreams::RawRecord;

class Writer {
 public:
  explicit Writer(const ReferenceOptions& options) : options_(options) {}

  void write(const std::string& topic, std::vector<RawRecord>* target, const std::optional<std::string>& key,
             std::string value, int64_t timestamp, kstreams::Headers headers = {}) {
    RawRecord r;
    r.topic = options_.topic_prefix + topic;
    r.partition = kstreams::Partition(key ? kstreams::partition_for_key(*key, options_.partitions) : 0);
    r.offset = kstreams::Offset(next_offset_[{r.topic, r.partition.value()}]++);
    r.timestamp = timestamp;
    r.key = key;
    r.value = std::move(value);
    r.headers = std::move(headers);
    target->push_back(std::move(r));
  }

 private:
  const ReferenceOptions& options_;
  std::map<std::pair<std::string, int32_t>, int64_t> next_offset_;
};

void dead_letter(Writer& w, RecordSet& out, const RawRecord& in, const std::string& error, const std::string& msg) {
  kstreams::Headers h;
  h.add(kDlqErrorHeader, error);
  h.add(kDlqMessageHeader, msg);
  h.add(kDlqSourceTopicHeader, in.topic);
  h.add(kDlqSourcePartitionHeader, std::to_string(in.partition.value()));
  h.add(kDlqSourceOffsetHeader, std::to_string(in.offset.value()));
  w.write(kDeadLettersTopic, &out.dead_letters, in.key, in.value.value_or(""), in.timestamp, std::move(h));
  out.dead_letters.back().value = in.value;  // the original bytes, a null value included
}

void ledger(Writer& w, RecordSet& out, const ReservationEntry& e, int64_t ts) {
  w.write(kReservationsTopic, &out.reservations, e.sku, nlohmann::json(e).dump(), ts);
}

}  // namespace

void assign_offsets(std::vector<RawRecord>* records, int32_t partitions) {
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  for (auto& r : *records) {
    r.partition = kstreams::Partition(r.key ? kstreams::partition_for_key(*r.key, partitions) : 0);
    r.offset = kstreams::Offset(next[{r.topic, r.partition.value()}]++);
  }
}

RecordSet reference_outputs(const std::vector<RawRecord>& orders, const std::vector<RawRecord>& restocks,
                            const ReferenceOptions& options) {
  RecordSet out;
  out.orders = orders;
  out.restocks = restocks;
  Writer w(options);
  const int64_t now = now_or_wall_clock(options.now_ms);
  std::map<std::string, int64_t> available;
  std::set<std::string> restock_ids;
  for (const auto& r : restocks) {
    ClassifiedRestock c = classify_restock(r.key, r.value);
    if (c.input_class == InputClass::kMalformed) {
      dead_letter(w, out, r, c.dlq_error, c.reason);
      continue;
    }
    if (restock_ids.count(c.restock.restock_id)) continue;
    int64_t& a = available[c.restock.sku];
    int64_t after = 0;
    if (__builtin_add_overflow(a, c.restock.qty, &after)) {  // restocks come before any reservation here
      dead_letter(w, out, r, kDlqStockOverflow, "stock beyond int64");
      continue;
    }
    a = after;
    restock_ids.insert(c.restock.restock_id);
    ledger(
        w, out,
        ReservationEntry{std::nullopt, c.restock.sku, c.restock.qty, LedgerType::kRestocked, a, c.restock.restock_id},
        r.timestamp);
  }

  std::set<std::string> seen;
  struct Terminal {
    int64_t event_time;
    bool confirmed;
    Order order;
  };
  std::vector<Terminal> terminals;
  auto finish = [&](const std::string& id, OrderStatus status, int64_t ts) {
    w.write(kOrderStatusTopic, &out.order_status, id, nlohmann::json(status).dump(), ts);
    const std::string nid = notification_id(id, status.status);
    const std::string event(notification_event(status.status));
    if (options.notification_fails && options.notification_fails(nid)) {
      NotificationDlq n{nid, id, event, 3, "HTTP 503", status.updated_at + 1000, status.updated_at + 30};
      w.write(kNotificationsDlqTopic, &out.notifications_dlq, id, nlohmann::json(n).dump(), ts);
    } else {
      NotificationReceipt n{nid, id, event, kNotificationDelivered, 1, status.updated_at + 50, status.updated_at + 20};
      w.write(kNotificationsTopic, &out.notifications, id, nlohmann::json(n).dump(), ts);
    }
  };

  for (const auto& r : orders) {
    ClassifiedOrder c = classify_order(r.key, r.value, now);
    if (c.input_class == InputClass::kMalformed) {
      dead_letter(w, out, r, c.dlq_error, c.reason);
      continue;
    }
    const std::string id = c.order.order_id;
    if (!seen.insert(id).second) continue;  // duplicate: nothing new
    const std::optional<int64_t> event = c.event_time(r.timestamp, now);
    // Records need a timestamp; an order without event time is in no window (terminals below).
    const int64_t event_time = event.value_or(r.timestamp);
    OrderStatus status{id,
                       OrderState::kPending,
                       std::nullopt,
                       c.order.total_cents(),
                       c.order.created_at,
                       r.timestamp + options.decision_latency_ms,
                       c.order.items};
    if (c.input_class == InputClass::kInvalid) {
      status.status = OrderState::kCancelled;
      status.reason = CancelReason::kInvalid;
      finish(id, status, event_time);
      if (event) terminals.push_back({event_time, false, c.order});
      continue;
    }
    w.write(kOrderStatusTopic, &out.order_status, id, nlohmann::json(status).dump(), event_time);
    std::vector<OrderItem> reserved;
    bool rejected = false;
    for (const OrderItem& item : c.order.items) {
      int64_t& a = available[item.sku];
      if (a >= item.qty) {
        a -= item.qty;
        reserved.push_back(item);
        ledger(w, out, ReservationEntry{id, item.sku, item.qty, LedgerType::kReserved, a}, event_time);
      } else {
        ledger(w, out, ReservationEntry{id, item.sku, item.qty, LedgerType::kRejected, a}, event_time);
        rejected = true;
        break;
      }
    }
    if (rejected) {
      for (const OrderItem& item : reserved) {
        int64_t& a = available[item.sku];
        a += item.qty;
        ledger(w, out, ReservationEntry{id, item.sku, item.qty, LedgerType::kReleased, a}, event_time);
      }
      status.status = OrderState::kCancelled;
      status.reason = CancelReason::kOutOfStock;
    } else {
      status.status = OrderState::kConfirmed;
    }
    finish(id, status, event_time);
    terminals.push_back({event_time, !rejected, c.order});
  }

  // Analytics: every window closed by the final stream time, emitted once.
  int64_t stream_time = -1;
  for (const auto& t : terminals) stream_time = std::max(stream_time, t.event_time);
  std::map<int64_t, RevenueWindow> revenue;
  std::map<std::pair<std::string, int64_t>, SkuSalesWindow> skus;
  for (const auto& t : terminals) {
    const int64_t start = revenue_window_start(t.event_time);
    RevenueWindow& rw = revenue[start];
    rw.window_start = start;
    rw.window_end = start + kRevenueWindowSizeMs;
    ++(t.confirmed ? rw.orders_confirmed : rw.orders_cancelled);
    if (!t.confirmed) continue;
    rw.revenue_cents = saturating_add(rw.revenue_cents, t.order.total_cents());
    for (const auto& item : t.order.items) {
      for (int64_t s : sku_window_starts(t.event_time)) {
        SkuSalesWindow& sw = skus[{item.sku, s}];
        sw = SkuSalesWindow{item.sku, s, s + kSkuWindowSizeMs, saturating_add(sw.units_sold, item.qty),
                            saturating_add(sw.revenue_cents, item.qty * item.unit_price_cents)};
      }
    }
  }
  for (const auto& [start, rw] : revenue) {
    if (rw.window_end + options.grace_ms > stream_time) continue;
    w.write(kAnalyticsTopic, &out.analytics, std::string(kRevenueWindowKey), nlohmann::json(rw).dump(), rw.window_end);
  }
  for (const auto& [key, sw] : skus) {
    if (sw.window_end + options.grace_ms > stream_time) continue;
    w.write(kAnalyticsTopic, &out.analytics, key.first, nlohmann::json(sw).dump(), sw.window_end);
  }
  return out;
}

}  // namespace ecommerce::verify
