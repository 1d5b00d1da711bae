// The checker's index, the order-status and dead-letter checks, and the report.
#include "verify/checker.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <set>
#include <sstream>

#include "verify/check_context.h"

namespace ecommerce::verify {
namespace internal {
namespace {

std::vector<const kstreams::RawRecord*> sorted(const std::vector<kstreams::RawRecord>& records) {
  std::vector<const kstreams::RawRecord*> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back(&r);
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    return std::pair(a->partition, a->offset) < std::pair(b->partition, b->offset);
  });
  return out;
}

bool parse_int(std::string_view text, int64_t* out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end && !text.empty();
}

template <typename T>
std::optional<T> decode(const kstreams::RawRecord& r) {
  if (!r.value) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(r.value->begin(), r.value->end(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  try {
    return j.get<T>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string where(const kstreams::RawRecord& r) {
  return r.topic + " p" + std::to_string(r.partition.value()) + "@" + std::to_string(r.offset.value());
}

Context::Context(const RecordSet& records, const CheckOptions& opts, Report* rep)
    : options(opts),
      report(*rep),
      orders(sorted(records.orders)),
      restocks(sorted(records.restocks)),
      order_status(sorted(records.order_status)),
      reservations(sorted(records.reservations)),
      notifications(sorted(records.notifications)),
      notifications_dlq(sorted(records.notifications_dlq)),
      analytics(sorted(records.analytics)),
      dead_letters(sorted(records.dead_letters)) {
  for (const std::string& name : invariant_names()) report.invariants.push_back(InvariantResult{name});
  index_inputs();
  index_statuses();
  for (const auto* r : reservations) {
    if (auto e = decode<ReservationEntry>(*r)) {
      ledger.push_back({r, std::move(*e)});
    } else {
      undecodable_ledger.push_back(r);
    }
  }
}

InvariantResult& Context::result(const char* name) {
  for (auto& inv : report.invariants) {
    if (inv.name == name) return inv;
  }
  report.invariants.push_back(InvariantResult{name});
  return report.invariants.back();
}

void Context::violation(const char* name, const std::string& example) {
  InvariantResult& inv = result(name);
  ++inv.violations;
  if (inv.examples.size() < options.max_examples) inv.examples.push_back(example);
}

void Context::checked(const char* name, int64_t n) { result(name).checked += n; }

void Context::index_inputs() {
  Stats& st = report.stats;
  now_ms = now_or_wall_clock(options.now_ms);
  for (const auto* r : orders) {
    ++st.order_records;
    ClassifiedOrder c = classify_order(r->key, r->value, now_ms);
    if (c.input_class == InputClass::kMalformed) {
      ++st.malformed_orders;
      malformed_inputs.push_back(r);
      continue;
    }
    auto [it, inserted] = input_orders.try_emplace(c.order.order_id);
    if (!inserted) {
      ++it->second.submissions;
      ++st.duplicate_orders;
      continue;
    }
    InputOrder& o = it->second;
    o.record = r;
    o.event_time = c.event_time(r->timestamp, now_ms);
    o.sent_at = r->timestamp;
    if (auto h = r->headers.last(kSentAtHeader)) {
      int64_t v = 0;
      if (parse_int(*h, &v)) o.sent_at = v;
    }
    ++(c.input_class == InputClass::kValid ? st.valid_orders : st.invalid_orders);
    o.classified = std::move(c);
  }
  for (const auto* r : restocks) {
    ++st.restock_records;
    ClassifiedRestock c = classify_restock(r->key, r->value);
    if (c.input_class == InputClass::kMalformed) {
      ++st.malformed_restocks;
      malformed_inputs.push_back(r);
    } else if (input_restocks.try_emplace(c.restock.restock_id, c.restock).second) {
      ++st.valid_restocks;
    } else {
      ++st.duplicate_restocks;
    }
  }
}

void Context::index_statuses() {
  for (const auto* r : order_status) {
    auto s = decode<OrderStatus>(*r);
    if (!s) {
      violation(kNoUnknownStatus, where(*r) + ": undecodable order-status value");
      continue;
    }
    statuses[s->order_id].push_back({r, std::move(*s)});
  }
  for (const auto& [id, list] : statuses) {
    for (const auto& s : list) {
      if (is_terminal(s.status.status)) {
        terminal[id] = &s;
        break;
      }
    }
  }
}

namespace {

std::string describe(const std::vector<StatusRecord>& list) {
  std::string out;
  for (const auto& s : list) {
    if (!out.empty()) out += ", ";
    out += std::string(to_string(s.status.status));
    if (s.status.reason) out += "/" + std::string(to_string(*s.status.reason));
  }
  return "[" + out + "]";
}

void check_valid_order(Context& ctx, const std::string& id, const InputOrder& order,
                       const std::vector<StatusRecord>& list) {
  ctx.checked(kStatusLifecycle);
  int pending = 0;
  int terminal = 0;
  bool order_ok = true;
  for (const auto& s : list) {
    if (s.status.status == OrderState::kPending) {
      ++pending;
      if (terminal > 0) order_ok = false;
    } else {
      ++terminal;
    }
  }
  const StatusRecord* t = nullptr;
  for (const auto& s : list) {
    if (is_terminal(s.status.status)) t = t ? t : &s;
  }
  const bool reason_ok =
      t == nullptr || t->status.status == OrderState::kConfirmed || t->status.reason == CancelReason::kOutOfStock;
  if (pending != 1 || terminal != 1 || !order_ok || !reason_ok) {
    ctx.violation(kStatusLifecycle,
                  id + ": expected [PENDING, CONFIRMED|CANCELLED/OUT_OF_STOCK], got " + describe(list));
  }
  if (order.submissions > 1) {
    ctx.checked(kDuplicatesIgnored);
    if (list.size() > 2) {
      ctx.violation(kDuplicatesIgnored, id + " (submitted " + std::to_string(order.submissions) +
                                            " times): " + std::to_string(list.size()) + " statuses " + describe(list));
    }
  }
  const Order& o = order.classified.order;
  for (const auto& s : list) {
    ctx.checked(kStatusContent);
    std::string problem;
    if (s.record->key != id) problem = "key is not the order_id";
    if (s.status.total_cents != o.total_cents()) {
      problem = "total_cents " + std::to_string(s.status.total_cents) + " != " + std::to_string(o.total_cents());
    }
    if (s.status.created_at != o.created_at) problem = "created_at differs from the order";
    if (s.status.items != o.items) problem = "items differ from the order";
    const bool cancelled = s.status.status == OrderState::kCancelled;
    if (cancelled != s.status.reason.has_value()) problem = "reason must be set exactly when CANCELLED";
    if (!problem.empty()) ctx.violation(kStatusContent, where(*s.record) + " " + id + ": " + problem);
  }
}

void check_invalid_order(Context& ctx, const std::string& id, const InputOrder& order,
                         const std::vector<StatusRecord>& list) {
  ctx.checked(kInvalidCancelled);
  const bool ok = list.size() == 1 && list[0].status.status == OrderState::kCancelled &&
                  list[0].status.reason == CancelReason::kInvalid;
  if (!ok) {
    ctx.violation(kInvalidCancelled,
                  id + " (" + order.classified.reason + "): expected [CANCELLED/INVALID], got " + describe(list));
  }
  if (order.submissions > 1) {
    ctx.checked(kDuplicatesIgnored);
    if (list.size() > 1) {
      ctx.violation(kDuplicatesIgnored, id + " (invalid, submitted " + std::to_string(order.submissions) +
                                            " times): " + std::to_string(list.size()) + " statuses");
    }
  }
  for (const auto& s : list) {
    ctx.checked(kStatusContent);
    if (s.record->key != id) ctx.violation(kStatusContent, where(*s.record) + " " + id + ": key is not the order_id");
  }
}

}  // namespace

void check_orders(Context& ctx) {
  static const std::vector<StatusRecord> kNone;
  for (const auto& [id, order] : ctx.input_orders) {
    auto it = ctx.statuses.find(id);
    const auto& list = it == ctx.statuses.end() ? kNone : it->second;
    if (order.classified.input_class == InputClass::kValid) {
      check_valid_order(ctx, id, order, list);
    } else {
      check_invalid_order(ctx, id, order, list);
    }
  }
  for (const auto& [id, list] : ctx.statuses) {
    ctx.checked(kNoUnknownStatus, static_cast<int64_t>(list.size()));
    if (!ctx.input_orders.count(id)) {
      ctx.violation(kNoUnknownStatus, where(*list[0].record) + ": status for unknown order '" + id + "'");
    }
  }
  Stats& st = ctx.report.stats;
  for (const auto& [id, s] : ctx.terminal) {
    if (!ctx.input_orders.count(id)) continue;
    ++st.terminal_statuses;
    if (s->status.status == OrderState::kConfirmed) {
      ++st.confirmed;
    } else {
      ++st.cancelled_by_reason[s->status.reason ? std::string(to_string(*s->status.reason)) : "null"];
    }
  }
}

void check_dead_letters(Context& ctx) {
  // Source (topic, partition, offset) -> the dead letters pointing at it.
  std::map<std::tuple<std::string, int64_t, int64_t>, std::vector<const kstreams::RawRecord*>> by_source;
  for (const auto* d : ctx.dead_letters) {
    ctx.checked(kDeadLettersOnlyMalformed);
    ++ctx.report.stats.dead_letters_by_error[std::string(d->headers.last(kDlqErrorHeader).value_or("<none>"))];
    auto topic = d->headers.last(kDlqSourceTopicHeader);
    auto partition = d->headers.last(kDlqSourcePartitionHeader);
    auto offset = d->headers.last(kDlqSourceOffsetHeader);
    int64_t p = 0;
    int64_t o = 0;
    if (!topic || !partition || !offset || !parse_int(*partition, &p) || !parse_int(*offset, &o)) {
      ctx.violation(kDeadLettersOnlyMalformed, where(*d) + ": missing or unreadable dlq.source.* headers");
      continue;
    }
    by_source[{std::string(*topic), p, o}].push_back(d);
  }
  std::set<std::tuple<std::string, int64_t, int64_t>> malformed;
  for (const auto* m : ctx.malformed_inputs) {
    ctx.checked(kDeadLetterPerMalformed);
    const auto key = std::tuple(m->topic, int64_t{m->partition.value()}, m->offset.value());
    malformed.insert(key);
    auto it = by_source.find(key);
    if (it == by_source.end()) {
      ctx.violation(kDeadLetterPerMalformed, where(*m) + ": no dead letter");
      continue;
    }
    if (it->second.size() != 1) {
      ctx.violation(kDeadLetterPerMalformed, where(*m) + ": " + std::to_string(it->second.size()) + " dead letters");
      continue;
    }
    const kstreams::RawRecord& d = *it->second[0];
    std::string problem;
    if (d.value != m->value) problem = "value bytes differ from the original";
    if (d.key != m->key) problem = "key differs from the original";
    for (const char* h : {kDlqErrorHeader, kDlqMessageHeader}) {
      auto v = d.headers.last(h);
      if (!v) problem = std::string("missing header ") + h;
      if (v && std::string_view(h) == kDlqErrorHeader && v->empty()) problem = "empty dlq.error";
    }
    if (!problem.empty()) ctx.violation(kDeadLetterPerMalformed, where(d) + " (for " + where(*m) + "): " + problem);
  }
  for (const auto& [source, letters] : by_source) {
    if (malformed.count(source)) continue;
    ctx.violation(kDeadLettersOnlyMalformed, where(*letters[0]) + ": dead letter for " + std::get<0>(source) + " p" +
                                                 std::to_string(std::get<1>(source)) + "@" +
                                                 std::to_string(std::get<2>(source)) + ", not a malformed input");
  }
}

Percentiles percentiles(std::vector<int64_t> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&v](double q) {
    const auto idx = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
  };
  p.count = static_cast<int64_t>(v.size());
  p.p50 = at(0.50);
  p.p95 = at(0.95);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

void compute_latency(Context& ctx) {
  std::vector<int64_t> by_updated_at;
  std::vector<int64_t> by_record_time;
  for (const auto& [id, s] : ctx.terminal) {
    auto it = ctx.input_orders.find(id);
    if (it == ctx.input_orders.end()) continue;
    by_updated_at.push_back(s->status.updated_at - it->second.sent_at);
    by_record_time.push_back(s->record->timestamp - it->second.sent_at);
  }
  ctx.report.stats.latency_updated_at = percentiles(std::move(by_updated_at));
  ctx.report.stats.latency_record_time = percentiles(std::move(by_record_time));
}

}  // namespace internal

const std::vector<std::string>& invariant_names() {
  static const std::vector<std::string> kNames = {
      kStatusLifecycle,          kInvalidCancelled,        kStatusContent,
      kNoUnknownStatus,          kDuplicatesIgnored,       kDeadLetterPerMalformed,
      kDeadLettersOnlyMalformed, kLedgerWellFormed,        kLedgerRunningBalance,
      kLedgerRestocks,           kLedgerConfirmedReserved, kLedgerCancelledReleased,
      kLedgerNoOrphans,          kNotificationPerTerminal, kNotificationsWellFormed,
      kAnalyticsWellFormed,      kAnalyticsNoDuplicates,   kAnalyticsRevenue,
      kAnalyticsSkuSales};
  return kNames;
}

void RecordSet::add(std::vector<kstreams::RawRecord> records, const std::string& prefix) {
  const std::pair<std::string, std::vector<kstreams::RawRecord>*> targets[] = {
      {kOrdersTopic, &orders},
      {kRestocksTopic, &restocks},
      {kOrderStatusTopic, &order_status},
      {kReservationsTopic, &reservations},
      {kNotificationsTopic, &notifications},
      {kNotificationsDlqTopic, &notifications_dlq},
      {kAnalyticsTopic, &analytics},
      {kDeadLettersTopic, &dead_letters}};
  for (auto& r : records) {
    for (const auto& [name, target] : targets) {
      if (r.topic == prefix + name) {
        target->push_back(std::move(r));
        break;
      }
    }
  }
}

Report check(const RecordSet& records, const CheckOptions& options) {
  Report report;
  internal::Context ctx(records, options, &report);
  internal::check_orders(ctx);
  internal::check_dead_letters(ctx);
  internal::check_ledger(ctx);
  internal::check_notifications(ctx);
  internal::check_analytics(ctx);
  internal::compute_latency(ctx);
  return report;
}

int64_t now_or_wall_clock(int64_t now_ms) {
  if (now_ms >= 0) return now_ms;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t count_terminal_statuses(const std::vector<kstreams::RawRecord>& order_status) {
  std::set<std::pair<std::string, OrderState>> seen;
  for (const auto& r : order_status) {
    if (!r.value) continue;
    nlohmann::json j = nlohmann::json::parse(r.value->begin(), r.value->end(), nullptr, false);
    if (!j.is_object()) continue;
    auto id = j.find("order_id");
    auto status = j.find("status");
    OrderState s{};
    if (id == j.end() || !id->is_string() || status == j.end() || !status->is_string()) continue;
    if (!parse_order_state(status->get<std::string>(), &s) || !is_terminal(s)) continue;
    seen.emplace(id->get<std::string>(), s);
  }
  return static_cast<int64_t>(seen.size());
}

bool Report::ok() const {
  return std::all_of(invariants.begin(), invariants.end(), [](const auto& i) { return i.violations == 0; });
}

const InvariantResult* Report::find(const std::string& name) const {
  for (const auto& i : invariants) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

int64_t Report::violations(const std::string& name) const {
  const InvariantResult* r = find(name);
  return r ? r->violations : 0;
}

namespace {

std::string percentiles_text(const Percentiles& p) {
  if (p.count == 0) return "n/a";
  std::ostringstream os;
  os << "p50 " << p.p50 << " ms, p95 " << p.p95 << " ms, p99 " << p.p99 << " ms, max " << p.max << " ms (n=" << p.count
     << ")";
  return os.str();
}

nlohmann::json percentiles_json(const Percentiles& p) {
  return {{"count", p.count}, {"p50", p.p50}, {"p95", p.p95}, {"p99", p.p99}, {"max", p.max}};
}

}  // namespace

std::string Report::to_text() const {
  std::ostringstream os;
  os << "Invariants\n";
  for (const auto& inv : invariants) {
    os << "  " << (inv.violations == 0 ? "OK  " : "FAIL") << " " << inv.name << " (checked " << inv.checked << ")";
    if (inv.violations > 0) os << ": " << inv.violations << " violation(s)";
    os << "\n";
    for (const auto& e : inv.examples) os << "         - " << e << "\n";
  }
  const Stats& s = stats;
  os << "Inputs\n  orders: " << s.order_records << " records, " << s.valid_orders << " valid, " << s.invalid_orders
     << " invalid, " << s.duplicate_orders << " duplicates, " << s.malformed_orders << " malformed\n";
  os << "  restocks: " << s.restock_records << " records, " << s.valid_restocks << " valid, " << s.duplicate_restocks
     << " duplicates, " << s.malformed_restocks << " malformed\n";
  os << "Outcomes\n  terminal statuses: " << s.terminal_statuses << ", confirmed: " << s.confirmed << "\n";
  for (const auto& [reason, n] : s.cancelled_by_reason) os << "  cancelled " << reason << ": " << n << "\n";
  for (const auto& [error, n] : s.dead_letters_by_error) os << "  dead letters " << error << ": " << n << "\n";
  os << "  notifications delivered: " << s.notifications_delivered
     << ", dead-lettered: " << s.notifications_dead_lettered << "\n";
  os << "  analytics windows checked: revenue_1m " << s.revenue_windows_checked << ", sku_sales_5m "
     << s.sku_windows_checked << "\n";
  os << "Revenue per minute (recomputed from terminal statuses)\n";
  for (const auto& [start, w] : s.revenue_per_minute) {
    os << "  " << start << ": confirmed " << w.orders_confirmed << ", cancelled " << w.orders_cancelled << ", revenue "
       << w.revenue_cents << " cents\n";
  }
  os << "End-to-end latency (from the order's send time)\n";
  os << "  to status updated_at:       " << percentiles_text(s.latency_updated_at) << "\n";
  os << "  to status record timestamp: " << percentiles_text(s.latency_record_time) << "\n";
  os << "Notification delivery latency (from the terminal status's updated_at)\n";
  os << "  to the first webhook call:   " << percentiles_text(s.notification_first_attempt) << "\n";
  os << "  to the receipt / dead letter: " << percentiles_text(s.notification_settled) << "\n";
  os << (ok() ? "RESULT: OK\n" : "RESULT: VIOLATIONS\n");
  return os.str();
}

nlohmann::json Report::to_json() const {
  nlohmann::json inv = nlohmann::json::array();
  for (const auto& i : invariants) {
    inv.push_back({{"name", i.name}, {"checked", i.checked}, {"violations", i.violations}, {"examples", i.examples}});
  }
  const Stats& s = stats;
  nlohmann::json revenue = nlohmann::json::array();
  for (const auto& [start, w] : s.revenue_per_minute) revenue.push_back(w);
  return {{"ok", ok()},
          {"invariants", inv},
          {"inputs",
           {{"order_records", s.order_records},
            {"valid_orders", s.valid_orders},
            {"invalid_orders", s.invalid_orders},
            {"duplicate_orders", s.duplicate_orders},
            {"malformed_orders", s.malformed_orders},
            {"restock_records", s.restock_records},
            {"valid_restocks", s.valid_restocks},
            {"duplicate_restocks", s.duplicate_restocks},
            {"malformed_restocks", s.malformed_restocks}}},
          {"outcomes",
           {{"terminal_statuses", s.terminal_statuses},
            {"confirmed", s.confirmed},
            {"cancelled_by_reason", s.cancelled_by_reason},
            {"dead_letters_by_error", s.dead_letters_by_error},
            {"notifications_delivered", s.notifications_delivered},
            {"notifications_dead_lettered", s.notifications_dead_lettered},
            {"revenue_windows_checked", s.revenue_windows_checked},
            {"sku_windows_checked", s.sku_windows_checked}}},
          {"revenue_per_minute", revenue},
          {"latency_ms",
           {{"to_updated_at", percentiles_json(s.latency_updated_at)},
            {"to_record_timestamp", percentiles_json(s.latency_record_time)}}},
          {"notification_latency_ms",
           {{"first_attempt", percentiles_json(s.notification_first_attempt)},
            {"settled", percentiles_json(s.notification_settled)}}}};
}

}  // namespace ecommerce::verify
