// Fuzzes the e-commerce model (apps/ecommerce_topology/model.h): the classification of `orders` and
// `inventory-restocks` values, the strict JSON mapping of every output record, the status names and
// the window arithmetic.
//
// Input: a record value (any bytes). Invariants beyond "no crash":
//   - classify_order / classify_restock never throw; a malformed record carries its dlq.error class
//     and a reason; an invalid order keeps a non-empty order_id and a created_at >= 0;
//   - a valid order satisfies every rule of the contract (lines 1..100, distinct non-empty skus,
//     qty in 1..1,000,000, unit_price_cents in 0..10,000,000,000, created_at >= 0), so its
//     total_cents() cannot overflow; written back as JSON it classifies as the same valid order;
//   - a valid restock has non-empty ids and qty in 1..1,000,000,000, and round-trips the same way;
//   - any value that the strict from_json() of an output record accepts is written by append_json()
//     exactly as nlohmann's dump() writes it, and parses back to the same record;
//   - a status / reason / ledger-type name parses only when it is the canonical name;
//   - the windows of any event time >= 0 hold it, start at >= 0, ascend, and are at most 5.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "model.h"

namespace {

using nlohmann::json;
namespace ec = ecommerce;

// The processing instance's clock for created_at's bound (2026-12-01).
constexpr int64_t kNow = 1764547200000;

// The record key a producer following the contract would use: the value's `field` when it is a
// string (else a fixed one, which then is a key mismatch or malformed). `mismatch` flips it.
std::optional<std::string> key_of(const std::string& value, const char* field, bool mismatch) {
  const json j = json::parse(value, nullptr, /*allow_exceptions=*/false);
  std::string key = "k";
  if (j.is_object()) {
    auto it = j.find(field);
    if (it != j.end() && it->is_string()) key = it->get<std::string>();
  }
  return mismatch ? key + "-other" : key;
}

void check_order(const std::string& value, bool mismatch) {
  const ec::ClassifiedOrder c = ec::classify_order(key_of(value, "order_id", mismatch), value, kNow);
  switch (c.input_class) {
    case ec::InputClass::kMalformed:
      FUZZ_CHECK(c.dlq_error == ec::kDlqMalformedJson || c.dlq_error == ec::kDlqNotAnObject ||
                     c.dlq_error == ec::kDlqMissingOrderId || c.dlq_error == ec::kDlqKeyMismatch,
                 "a malformed order's dlq.error class");
      FUZZ_CHECK(!c.reason.empty(), "a malformed order says why");
      return;
    case ec::InputClass::kInvalid:
      FUZZ_CHECK(!c.order.order_id.empty(), "an invalid order keeps its order_id");
      FUZZ_CHECK(!c.reason.empty(), "an invalid order says why");
      FUZZ_CHECK(c.order.created_at >= 0 && (c.has_created_at || c.order.created_at == 0), "created_at");
      return;
    case ec::InputClass::kValid:
      break;
  }
  const ec::Order& o = c.order;
  FUZZ_CHECK(!o.order_id.empty(), "order_id");
  FUZZ_CHECK(o.created_at >= 0, "created_at >= 0");
  FUZZ_CHECK(!o.items.empty() && o.items.size() <= ec::kMaxOrderLines, "1..100 lines");
  std::set<std::string> skus;
  int64_t total = 0;
  for (const ec::OrderItem& item : o.items) {
    FUZZ_CHECK(!item.sku.empty() && skus.insert(item.sku).second, "distinct non-empty skus");
    FUZZ_CHECK(item.qty >= 1 && item.qty <= 1'000'000, "qty in 1..1,000,000 (contract)");
    FUZZ_CHECK(item.unit_price_cents >= 0 && item.unit_price_cents <= 10'000'000'000, "price in 0..1e10 (contract)");
    int64_t line = 0;
    FUZZ_CHECK(
        !__builtin_mul_overflow(item.qty, item.unit_price_cents, &line) && !__builtin_add_overflow(total, line, &total),
        "a valid order's total fits int64");
  }
  FUZZ_CHECK(o.total_cents() == total, "total_cents");
  FUZZ_CHECK(!mismatch, "an order under another key is a key mismatch");
  const ec::ClassifiedOrder again = ec::classify_order(o.order_id, json(o).dump(), kNow);
  FUZZ_CHECK(again.input_class == ec::InputClass::kValid && again.order == o, "a valid order round-trips");
}

void check_restock(const std::string& value, bool mismatch) {
  const ec::ClassifiedRestock c = ec::classify_restock(key_of(value, "sku", mismatch), value);
  if (c.input_class == ec::InputClass::kMalformed) {
    FUZZ_CHECK(c.dlq_error == ec::kDlqMalformedJson || c.dlq_error == ec::kDlqNotAnObject ||
                   c.dlq_error == ec::kDlqInvalidRestock || c.dlq_error == ec::kDlqKeyMismatch,
               "a malformed restock's dlq.error class");
    FUZZ_CHECK(!c.reason.empty(), "a malformed restock says why");
    return;
  }
  FUZZ_CHECK(c.input_class == ec::InputClass::kValid, "a restock is valid or malformed");
  FUZZ_CHECK(!c.restock.restock_id.empty() && !c.restock.sku.empty(), "restock ids");
  FUZZ_CHECK(c.restock.qty >= 1 && c.restock.qty <= 1'000'000'000, "restock qty in 1..1e9 (contract)");
  FUZZ_CHECK(!mismatch, "a restock under another key is a key mismatch");
  const ec::ClassifiedRestock again = ec::classify_restock(c.restock.sku, json(c.restock).dump());
  FUZZ_CHECK(again.input_class == ec::InputClass::kValid && again.restock == c.restock, "a restock round-trips");
}

// A value that from_json accepts is written by append_json exactly as dump() writes it.
template <typename T>
void check_output_record(const json& j) {
  T v;
  try {
    v = j.get<T>();
  } catch (const json::exception&) {
    return;
  }
  const std::string text = ec::json_text(v);
  FUZZ_CHECK(text == json(v).dump(), "append_json writes what dump() writes");
  FUZZ_CHECK(json::parse(text).get<T>() == v, "an output record round-trips");
}

void check_names(const std::string& text) {
  ec::OrderState s{};
  if (ec::parse_order_state(text, &s)) FUZZ_CHECK(ec::to_string(s) == text, "status name");
  ec::CancelReason r{};
  if (ec::parse_cancel_reason(text, &r)) FUZZ_CHECK(ec::to_string(r) == text, "reason name");
  ec::LedgerType t{};
  if (ec::parse_ledger_type(text, &t)) FUZZ_CHECK(ec::to_string(t) == text, "ledger type name");
}

void check_windows(int64_t t) {
  const int64_t revenue = ec::revenue_window_start(t);
  FUZZ_CHECK(revenue <= t && t - revenue < ec::kRevenueWindowSizeMs, "the revenue window holds the event");
  const std::vector<int64_t> starts = ec::sku_window_starts(t);
  FUZZ_CHECK(starts.size() <= ec::kSkuWindowSizeMs / ec::kSkuWindowAdvanceMs, "at most 5 sku windows");
  for (size_t i = 0; i < starts.size(); ++i) {
    FUZZ_CHECK(starts[i] >= 0 && starts[i] <= t && t - starts[i] < ec::kSkuWindowSizeMs,
               "a sku window holds the event");
    FUZZ_CHECK(i == 0 || starts[i - 1] < starts[i], "sku windows ascend");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string value(reinterpret_cast<const char*>(data), size);
  const bool mismatch = size > 0 && (data[0] & 1) != 0;  // one input in two under another key
  check_order(value, mismatch);
  check_restock(value, mismatch);
  check_names(value);
  FUZZ_CHECK(ec::classify_order(std::string("k"), std::nullopt, kNow).dlq_error == ec::kDlqMalformedJson,
             "a null order");

  const json j = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    check_output_record<ec::OrderStatus>(j);
    check_output_record<ec::ReservationEntry>(j);
    check_output_record<ec::NotificationReceipt>(j);
    check_output_record<ec::NotificationDlq>(j);
    check_output_record<ec::RevenueWindow>(j);
    check_output_record<ec::SkuSalesWindow>(j);
  }
  // Any event time >= 0 (int64), from the first 8 bytes.
  if (size >= 8) {
    uint64_t t = 0;
    for (size_t i = 0; i < 8; ++i) t = (t << 8) | data[i];
    check_windows(static_cast<int64_t>(t & static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
  }
  return 0;
}
