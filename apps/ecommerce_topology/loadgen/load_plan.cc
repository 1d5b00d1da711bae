#include "loadgen/load_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "model.h"

namespace ecommerce::loadgen {
namespace {

using kstreams::RawRecord;
using nlohmann::json;

enum class Kind { kNormal, kOutOfStock, kInvalid, kDuplicate, kMalformed };

// Portable draws: mt19937_64's sequence is fixed by the standard (distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t below(uint64_t n) { return n == 0 ? 0 : g_() % n; }
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1)));
  }

 private:
  std::mt19937_64 g_;
};

std::string numbered(const char* prefix, int64_t n, int width) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%0*lld", prefix, width, static_cast<long long>(n));
  return buf;
}

std::string sku_name(int64_t i) { return numbered("sku-", i, 4); }

RawRecord record(const std::string& topic, std::optional<std::string> key, std::string value, int64_t ts) {
  RawRecord r;
  r.topic = topic;
  r.partition = kstreams::Partition(-1);
  r.key = std::move(key);
  r.value = std::move(value);
  r.timestamp = ts;
  return r;
}

int64_t count_for(double share, int64_t total) { return std::llround(share * static_cast<double>(total)); }

class Planner {
 public:
  // Records are classified at `now`: the processing clock, never earlier than the last created_at.
  Planner(const LoadOptions& o, int64_t start, int64_t now) : o_(o), rng_(o.seed), start_(start), now_(now) {}

  absl::StatusOr<LoadPlan> build() {
    make_restocks();
    KSTREAMS_RETURN_IF_ERROR(make_orders());
    finish_expectations();
    return std::move(plan_);
  }

 private:
  void make_restocks() {
    const std::string topic = o_.topic_prefix + kRestocksTopic;
    const int64_t ts = start_ - 60'000;
    auto& ex = plan_.expected;
    for (int32_t i = 0; i < o_.skus; ++i) {
      Restock r{"r-" + sku_name(i), sku_name(i), o_.restock_qty};
      plan_.restocks.push_back(record(topic, r.sku, json(r).dump(), ts));
      ++ex.restocks_valid;
    }
    for (int64_t i = 0; i < count_for(o_.duplicate_share, o_.skus); ++i) {
      plan_.restocks.push_back(plan_.restocks[rng_.below(static_cast<uint64_t>(o_.skus))]);
      ++ex.restocks_duplicate;
    }
    for (int64_t i = 0; i < count_for(o_.malformed_share, o_.skus); ++i) {
      const std::string sku = sku_name(static_cast<int64_t>(rng_.below(static_cast<uint64_t>(o_.skus))));
      const std::string id = numbered("rm-", i, 4);
      std::string value;
      std::string key = sku;
      switch (i % 7) {
        case 0:
          value = "{{not json";
          break;
        case 1:
          value = "[\"" + sku + "\", 5]";
          break;
        case 2:
          value = json{{"restock_id", id}, {"sku", sku}, {"qty", 0}}.dump();
          break;
        case 3:
          value = json{{"sku", sku}, {"qty", 5}}.dump();
          break;
        case 4:
          value = json{{"restock_id", id}, {"sku", sku}, {"qty", -3}}.dump();
          break;
        case 5:
          value = json{{"restock_id", id}, {"sku", sku}, {"qty", kMaxRestockQty + 1}}.dump();
          break;
        default:  // a well-formed restock under another key
          value = json{{"restock_id", id}, {"sku", sku}, {"qty", 5}}.dump();
          key = "not-" + sku;
          break;
      }
      const ClassifiedRestock c = classify_restock(key, value);
      plan_.restocks.push_back(record(topic, key, value, ts));
      ++ex.restocks_malformed;
      ++ex.dead_letters_by_error[c.dlq_error];
    }
    ex.restock_records = static_cast<int64_t>(plan_.restocks.size());
  }

  std::vector<Kind> shuffled_kinds() {
    std::vector<Kind> kinds;
    auto add = [&kinds](Kind k, int64_t n) { kinds.insert(kinds.end(), static_cast<size_t>(n), k); };
    const int64_t oos = count_for(o_.out_of_stock_share, o_.orders);
    const int64_t inv = count_for(o_.invalid_share, o_.orders);
    const int64_t dup = count_for(o_.duplicate_share, o_.orders);
    const int64_t mal = count_for(o_.malformed_share, o_.orders);
    add(Kind::kNormal, std::max<int64_t>(0, o_.orders - oos - inv - dup - mal));
    add(Kind::kOutOfStock, oos);
    add(Kind::kInvalid, inv);
    add(Kind::kDuplicate, dup);
    add(Kind::kMalformed, mal);
    kinds.resize(static_cast<size_t>(o_.orders), Kind::kNormal);
    for (size_t i = kinds.size(); i > 1; --i) std::swap(kinds[i - 1], kinds[rng_.below(i)]);
    // A duplicate needs an original before it: move the first original to the front if needed.
    for (size_t i = 0; i < kinds.size(); ++i) {
      if (kinds[i] == Kind::kDuplicate) {
        for (size_t j = i + 1; j < kinds.size(); ++j) {
          if (kinds[j] == Kind::kNormal || kinds[j] == Kind::kOutOfStock || kinds[j] == Kind::kInvalid) {
            std::swap(kinds[i], kinds[j]);
            break;
          }
        }
      }
      if (kinds[i] != Kind::kDuplicate && kinds[i] != Kind::kMalformed) break;
    }
    return kinds;
  }

  OrderItem normal_line(const std::string& sku) { return OrderItem{sku, rng_.between(1, 3), rng_.between(100, 9999)}; }

  // `n` distinct restocked skus.
  std::vector<std::string> pick_skus(int64_t n) {
    std::vector<std::string> out;
    while (static_cast<int64_t>(out.size()) < std::min<int64_t>(n, o_.skus)) {
      std::string s = sku_name(static_cast<int64_t>(rng_.below(static_cast<uint64_t>(o_.skus))));
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    }
    return out;
  }

  Order base_order(const std::string& id, int64_t created_at) {
    return Order{id, numbered("c-", rng_.between(1, 1000), 4), created_at, {}};
  }

  json normal_order(const std::string& id, int64_t created_at) {
    Order o = base_order(id, created_at);
    for (const auto& sku : pick_skus(rng_.between(1, 3))) {
      o.items.push_back(normal_line(sku));
      demand_[sku] += o.items.back().qty;
    }
    plan_.expected.confirmed_revenue_cents += o.total_cents();
    return json(o);
  }

  json out_of_stock_order(const std::string& id, int64_t created_at) {
    Order o = base_order(id, created_at);
    if (oos_count_++ % 2 == 0 || o_.skus < 2) {
      o.items.push_back(OrderItem{numbered("sku-nostock-", oos_count_ % 10, 3), rng_.between(1, 3), 1999});
    } else {
      auto skus = pick_skus(2);
      o.items.push_back(normal_line(skus[0]));
      demand_[skus[0]] += o.items.back().qty;  // reserved for a while, then released
      o.items.push_back(OrderItem{skus[1], o_.restock_qty + rng_.between(1, 10), 500});
    }
    return json(o);
  }

  json invalid_order(const std::string& id, int64_t created_at) {
    json j = json(base_order(id, created_at));
    j["items"] = json::array({json(normal_line(sku_name(0))), json(normal_line(sku_name(1)))});
    switch (invalid_count_++ % 13) {
      case 0:
        j["items"] = json::array();
        break;
      case 1:
        j["items"][0]["qty"] = 0;
        break;
      case 2:
        j["items"][1]["qty"] = -2;
        break;
      case 3:
        j["items"][0]["unit_price_cents"] = -100;
        break;
      case 4:
        j["items"] = json::array();
        for (int i = 0; i <= static_cast<int>(kMaxOrderLines); ++i)
          j["items"].push_back(json(normal_line(sku_name(i))));
        break;
      case 5:
        j["items"][1]["sku"] = j["items"][0]["sku"];
        break;
      case 6:
        j.erase("customer_id");
        break;
      case 7:
        j["items"][0]["qty"] = "2";
        break;
      case 8:
        j.erase("items");
        break;
      case 9:
        j["items"][0]["qty"] = kMaxLineQty + 1;
        break;
      case 10:
        j["items"][1]["unit_price_cents"] = kMaxUnitPriceCents + 1;
        break;
      case 11:  // a poison pill: no usable event time (it once hung the window arithmetic)
        j["created_at"] = std::numeric_limits<int64_t>::max() - 60'000;
        break;
      default:
        j.erase("created_at");
        break;
    }
    return j;
  }

  // The value of the n-th malformed order; sets *key when the record key is what breaks it.
  std::string malformed_value(int64_t n, std::string* key) {
    switch (n % 8) {
      case 0:
        return R"({"order_id":"o-broken","items":[)";
      case 1:
        return "not json at all";
      case 2:
        return "[1,2,3]";
      case 3:
        return R"("just a string")";
      case 4:
        return R"({"customer_id":"c-0001","created_at":0,"items":[]})";
      case 5:
        return R"({"order_id":"","customer_id":"c-0001"})";
      case 6:
        return R"({"order_id":42,"customer_id":"c-0001"})";
      default: {  // a well-formed order under a key that is not its order_id
        const std::string id = numbered("o-keymismatch-", n, 6);
        *key = id + "-other";
        return json(Order{id, "c-0001", start_, {{sku_name(0), 1, 100}}}).dump();
      }
    }
  }

  absl::Status make_orders() {
    const std::string topic = o_.topic_prefix + kOrdersTopic;
    auto& ex = plan_.expected;
    std::vector<size_t> originals;  // indexes into plan_.orders
    int64_t next_id = 1;
    int64_t malformed = 0;
    const std::vector<Kind> kinds = shuffled_kinds();
    for (size_t i = 0; i < kinds.size(); ++i) {
      const int64_t ts = start_ + static_cast<int64_t>(i) * o_.time_step_ms;
      const Kind kind = kinds[i];
      if (kind == Kind::kDuplicate) {
        RawRecord copy = plan_.orders[originals[rng_.below(originals.size())]];
        copy.timestamp = ts;
        plan_.orders.push_back(std::move(copy));
        ++ex.duplicate;
        continue;
      }
      if (kind == Kind::kMalformed) {
        std::string key = numbered("malformed-", malformed, 6);
        std::string value = malformed_value(malformed++, &key);
        ClassifiedOrder c = classify_order(key, value, now_);
        if (c.input_class != InputClass::kMalformed) return absl::InternalError("malformed order classified otherwise");
        ++ex.dead_letters_by_error[c.dlq_error];
        plan_.orders.push_back(record(topic, std::move(key), std::move(value), ts));
        ++ex.malformed;
        continue;
      }
      const std::string id = numbered(o_.id_prefix.c_str(), next_id++, 6);
      json value = kind == Kind::kNormal       ? normal_order(id, ts)
                   : kind == Kind::kOutOfStock ? out_of_stock_order(id, ts)
                                               : invalid_order(id, ts);
      const InputClass want = kind == Kind::kInvalid ? InputClass::kInvalid : InputClass::kValid;
      if (classify_order(id, value.dump(), now_).input_class != want) {
        return absl::InternalError("generated order " + id + " does not classify as planned: " + value.dump());
      }
      originals.push_back(plan_.orders.size());
      plan_.orders.push_back(record(topic, id, value.dump(), ts));
      ++(kind == Kind::kNormal ? ex.normal : kind == Kind::kOutOfStock ? ex.out_of_stock : ex.invalid);
    }
    ex.order_records = static_cast<int64_t>(plan_.orders.size());
    return absl::OkStatus();
  }

  void finish_expectations() {
    auto& ex = plan_.expected;
    ex.pending_statuses = ex.normal + ex.out_of_stock;
    ex.terminal_statuses = ex.pending_statuses + ex.invalid;
    ex.confirmed = ex.normal;
    ex.cancelled_out_of_stock = ex.out_of_stock;
    ex.cancelled_invalid = ex.invalid;
    ex.dead_letters = ex.malformed + ex.restocks_malformed;
    ex.exact = true;
    for (const auto& [sku, demand] : demand_) {
      if (demand > o_.restock_qty) {
        ex.exact = false;
        ex.shortfall = sku + " needs up to " + std::to_string(demand) + " units, restocked " +
                       std::to_string(o_.restock_qty) + " (raise --restock-qty)";
        break;
      }
    }
  }

  const LoadOptions& o_;
  Rng rng_;
  int64_t start_;
  int64_t now_;
  LoadPlan plan_;
  std::map<std::string, int64_t> demand_;
  int64_t oos_count_ = 0;
  int64_t invalid_count_ = 0;
};

}  // namespace

absl::Status validate(const LoadOptions& o) {
  if (o.orders < 0) return absl::InvalidArgumentError("--orders must be >= 0");
  if (o.skus < 2 || o.skus > 9999) return absl::InvalidArgumentError("--skus must be in [2, 9999]");
  if (o.restock_qty <= 0) return absl::InvalidArgumentError("--restock-qty must be > 0");
  if (o.time_step_ms < 0) return absl::InvalidArgumentError("--time-step-ms must be >= 0");
  if (o.id_prefix.empty()) return absl::InvalidArgumentError("--id-prefix must not be empty");
  const std::pair<const char*, double> shares[] = {{"--out-of-stock-share", o.out_of_stock_share},
                                                   {"--invalid-share", o.invalid_share},
                                                   {"--duplicate-share", o.duplicate_share},
                                                   {"--malformed-share", o.malformed_share}};
  double sum = 0;
  for (const auto& [name, share] : shares) {
    if (!(share >= 0.0 && share <= 1.0)) return absl::InvalidArgumentError(std::string(name) + " must be in [0, 1]");
    sum += share;
  }
  if (sum > 1.0 + 1e-9) return absl::InvalidArgumentError("the shares add up to more than 1");
  const int64_t duplicates = count_for(o.duplicate_share, o.orders);
  if (duplicates > 0 && o.orders - duplicates - count_for(o.malformed_share, o.orders) <= 0) {
    return absl::InvalidArgumentError("duplicates need originals: leave room for other orders");
  }
  return absl::OkStatus();
}

json to_json(const Expectations& e) {
  return {{"order_records", e.order_records},
          {"orders_by_category",
           {{"normal", e.normal},
            {"out_of_stock", e.out_of_stock},
            {"invalid", e.invalid},
            {"duplicate", e.duplicate},
            {"malformed", e.malformed}}},
          {"restocks",
           {{"records", e.restock_records},
            {"valid", e.restocks_valid},
            {"duplicate", e.restocks_duplicate},
            {"malformed", e.restocks_malformed}}},
          {"expected",
           {{"exact", e.exact},
            {"shortfall", e.shortfall},
            {"pending_statuses", e.pending_statuses},
            {"terminal_statuses", e.terminal_statuses},
            {"notifications", e.terminal_statuses},
            {"confirmed", e.confirmed},
            {"cancelled_out_of_stock", e.cancelled_out_of_stock},
            {"cancelled_invalid", e.cancelled_invalid},
            {"confirmed_revenue_cents", e.confirmed_revenue_cents},
            {"dead_letters", e.dead_letters},
            {"dead_letters_by_error", e.dead_letters_by_error}}}};
}

absl::StatusOr<LoadPlan> make_plan(const LoadOptions& options, int64_t now_ms) {
  KSTREAMS_RETURN_IF_ERROR(validate(options));
  const int64_t start = options.created_at_start >= 0 ? options.created_at_start : now_ms;
  // The topology classifies an order when it processes it, never before its created_at (unless
  // --created-at-start lies in the future): classify at the later of now and the last created_at.
  const int64_t last = start + std::max<int64_t>(0, options.orders - 1) * options.time_step_ms;
  return Planner(options, start, std::max(now_ms, last)).build();
}

}  // namespace ecommerce::loadgen
