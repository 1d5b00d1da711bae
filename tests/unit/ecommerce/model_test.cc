// The e-commerce model against the contract: JSON round trips of the contract's examples, and
// every classification rule of orders and restocks.
#include "model.h"

#include <limits>

#include <gtest/gtest.h>

#include <limits>

#include "kstreams/common/json_serde.h"

namespace ecommerce {
namespace {

using nlohmann::json;

// Parses `text`, converts to T and back, and checks the JSON is unchanged (same fields, same values).
template <typename T>
T round_trip(const std::string& text) {
  const json original = json::parse(text);
  T value = original.get<T>();
  EXPECT_EQ(json(value), original) << text;
  return value;
}

TEST(ModelJsonTest, OrderExampleRoundTrips) {
  Order o = round_trip<Order>(R"({"order_id":"o-000001","customer_id":"c-42","created_at":1764288000000,
      "items":[{"sku":"sku-0007","qty":2,"unit_price_cents":1299}]})");
  EXPECT_EQ(o.order_id, "o-000001");
  EXPECT_EQ(o.customer_id, "c-42");
  EXPECT_EQ(o.created_at, 1764288000000);
  ASSERT_EQ(o.items.size(), 1u);
  EXPECT_EQ(o.items[0], (OrderItem{"sku-0007", 2, 1299}));
  EXPECT_EQ(o.total_cents(), 2598);
}

TEST(ModelJsonTest, RestockExampleRoundTrips) {
  Restock r = round_trip<Restock>(R"({"restock_id":"r-17","sku":"sku-0007","qty":100})");
  EXPECT_EQ(r, (Restock{"r-17", "sku-0007", 100}));
}

TEST(ModelJsonTest, OrderStatusExampleRoundTripsWithNullReason) {
  OrderStatus s = round_trip<OrderStatus>(R"({"order_id":"o-000001","status":"CONFIRMED","reason":null,
      "total_cents":2598,"created_at":1764288000000,"updated_at":1764288000042,
      "items":[{"sku":"sku-0007","qty":2,"unit_price_cents":1299}]})");
  EXPECT_EQ(s.status, OrderState::kConfirmed);
  EXPECT_FALSE(s.reason.has_value());
  EXPECT_TRUE(json(s)["reason"].is_null());
  EXPECT_EQ(s.updated_at, 1764288000042);
}

TEST(ModelJsonTest, CancelledStatusCarriesItsReason) {
  OrderStatus s = round_trip<OrderStatus>(R"({"order_id":"o-2","status":"CANCELLED","reason":"OUT_OF_STOCK",
      "total_cents":0,"created_at":1,"updated_at":2,"items":[]})");
  ASSERT_TRUE(s.reason.has_value());
  EXPECT_EQ(*s.reason, CancelReason::kOutOfStock);
  EXPECT_THROW(json::parse(R"({"order_id":"o","status":"CANCELLED","reason":"BORED","total_cents":0,
      "created_at":1,"updated_at":2,"items":[]})")
                   .get<OrderStatus>(),
               json::exception);
  EXPECT_THROW(json::parse(R"({"order_id":"o","status":"SHIPPED","reason":null,"total_cents":0,
      "created_at":1,"updated_at":2,"items":[]})")
                   .get<OrderStatus>(),
               json::exception);
}

TEST(ModelJsonTest, LedgerEntriesRoundTripIncludingRestockedWithNullOrderId) {
  ReservationEntry reserved = round_trip<ReservationEntry>(
      R"({"order_id":"o-000001","sku":"sku-0007","qty":2,"type":"RESERVED","available_after":98})");
  EXPECT_EQ(reserved.type, LedgerType::kReserved);
  EXPECT_EQ(reserved.delta(), -2);
  EXPECT_FALSE(reserved.restock_id.has_value());

  ReservationEntry restocked = round_trip<ReservationEntry>(
      R"({"order_id":null,"sku":"sku-0007","qty":100,"type":"RESTOCKED","available_after":100,"restock_id":"r-17"})");
  EXPECT_FALSE(restocked.order_id.has_value());
  EXPECT_EQ(restocked.restock_id, "r-17");
  EXPECT_EQ(restocked.delta(), 100);

  ReservationEntry rejected =
      round_trip<ReservationEntry>(R"({"order_id":"o-3","sku":"sku-1","qty":5,"type":"REJECTED","available_after":1})");
  EXPECT_EQ(rejected.delta(), 0);
  ReservationEntry released =
      round_trip<ReservationEntry>(R"({"order_id":"o-3","sku":"sku-2","qty":4,"type":"RELEASED","available_after":9})");
  EXPECT_EQ(released.delta(), 4);
}

TEST(ModelJsonTest, NotificationExamplesRoundTrip) {
  NotificationReceipt receipt = round_trip<NotificationReceipt>(
      R"({"notification_id":"o-000001:CONFIRMED","order_id":"o-000001","event":"ORDER_CONFIRMED",
          "status":"DELIVERED","attempts":1,"delivered_at":1764288000100})");
  EXPECT_EQ(receipt.notification_id, notification_id("o-000001", OrderState::kConfirmed));
  EXPECT_EQ(receipt.event, notification_event(OrderState::kConfirmed));

  NotificationDlq dlq = round_trip<NotificationDlq>(
      R"({"notification_id":"o-000001:CANCELLED","order_id":"o-000001","event":"ORDER_CANCELLED",
          "attempts":3,"last_error":"HTTP 503","failed_at":1764288001000})");
  EXPECT_EQ(dlq.notification_id, notification_id("o-000001", OrderState::kCancelled));
  EXPECT_EQ(dlq.event, notification_event(OrderState::kCancelled));
  EXPECT_EQ(dlq.attempts, 3);

  // first_attempt_at (epoch ms of the first webhook call) is written when known.
  receipt = round_trip<NotificationReceipt>(
      R"({"notification_id":"o-1:CONFIRMED","order_id":"o-1","event":"ORDER_CONFIRMED","status":"DELIVERED",
          "attempts":2,"delivered_at":1764288000900,"first_attempt_at":1764288000100})");
  EXPECT_EQ(receipt.first_attempt_at, 1764288000100);
  dlq = round_trip<NotificationDlq>(
      R"({"notification_id":"o-1:CONFIRMED","order_id":"o-1","event":"ORDER_CONFIRMED","attempts":1,
          "last_error":"HTTP 400","failed_at":1764288001000,"first_attempt_at":1764288000100})");
  EXPECT_EQ(dlq.first_attempt_at, 1764288000100);
}

TEST(ModelJsonTest, AnalyticsExamplesRoundTripAndCheckTheirType) {
  const std::string revenue = R"({"type":"revenue_1m","window_start":1764288000000,"window_end":1764288060000,
      "orders_confirmed":412,"orders_cancelled":9,"revenue_cents":1038811})";
  RevenueWindow r = round_trip<RevenueWindow>(revenue);
  EXPECT_EQ(r.orders_confirmed, 412);
  EXPECT_EQ(analytics_type(json::parse(revenue)), kRevenueWindowType);

  const std::string sku = R"({"type":"sku_sales_5m","sku":"sku-0007","window_start":1764287760000,
      "window_end":1764288060000,"units_sold":31,"revenue_cents":40269})";
  SkuSalesWindow s = round_trip<SkuSalesWindow>(sku);
  EXPECT_EQ(s.units_sold, 31);
  EXPECT_THROW(json::parse(sku).get<RevenueWindow>(), json::exception);
  EXPECT_THROW(json::parse(revenue).get<SkuSalesWindow>(), json::exception);
}

TEST(ModelJsonTest, JsonSerdeReportsMismatchAsDataLoss) {
  kstreams::JsonSerde<OrderStatus> serde;
  OrderStatus out;
  EXPECT_EQ(serde.deserialize(R"({"order_id":"o"})", &out).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(serde.deserialize("{", &out).code(), absl::StatusCode::kDataLoss);
  // Strict integers: a float where the contract says integer is a mismatch.
  EXPECT_EQ(serde
                .deserialize(R"({"order_id":"o","status":"PENDING","reason":null,"total_cents":1.5,
      "created_at":1,"updated_at":2,"items":[]})",
                             &out)
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(ModelWindowsTest, WindowsAreEpochAligned) {
  EXPECT_EQ(revenue_window_start(1764288000000), 1764288000000);
  EXPECT_EQ(revenue_window_start(1764288059999), 1764288000000);
  EXPECT_EQ(revenue_window_start(1764288060000), 1764288060000);
  const std::vector<int64_t> starts = sku_window_starts(1764288030000);
  ASSERT_EQ(starts.size(), 5u);
  EXPECT_EQ(starts.front(), 1764287760000);  // the contract's example window holds this time
  EXPECT_EQ(starts.back(), 1764288000000);
  for (int64_t s : starts) {
    EXPECT_LE(s, 1764288030000);
    EXPECT_GT(s + kSkuWindowSizeMs, 1764288030000);
  }
  EXPECT_EQ(sku_window_starts(90'000), (std::vector<int64_t>{0, 60'000}));  // none before the epoch
}

// Found by fuzz_ecommerce_model: the loop stepped past INT64_MAX (signed overflow).
TEST(ModelWindowsTest, WindowsOfTheLargestEventTimeDoNotOverflow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t last = kMax - kMax % kSkuWindowAdvanceMs;
  EXPECT_EQ(sku_window_starts(kMax),
            (std::vector<int64_t>{last - 4 * kSkuWindowAdvanceMs, last - 3 * kSkuWindowAdvanceMs,
                                  last - 2 * kSkuWindowAdvanceMs, last - kSkuWindowAdvanceMs, last}));
  EXPECT_EQ(revenue_window_start(kMax), kMax - kMax % kRevenueWindowSizeMs);
}

// ---- classification ---------------------------------------------------------------------------

// The processing clock of the tests: an hour after the orders' created_at.
constexpr int64_t kNow = 1764288000000 + 3'600'000;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Classifies `text` as an order keyed by its order_id (or "o-1" when it has none).
ClassifiedOrder classify(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  std::string key = "o-1";
  if (j.is_object() && j.contains("order_id") && j["order_id"].is_string()) key = j["order_id"];
  return classify_order(key, text, kNow);
}

json valid_order() {
  return json::parse(R"({"order_id":"o-1","customer_id":"c-1","created_at":1764288000000,
      "items":[{"sku":"a","qty":1,"unit_price_cents":100},{"sku":"b","qty":3,"unit_price_cents":0}]})");
}

TEST(ModelClassifyTest, ValidOrderIsValidAndIgnoresUnknownFields) {
  json j = valid_order();
  j["coupon"] = "XMAS";
  j["items"][0]["gift_wrap"] = true;
  ClassifiedOrder c = classify(j.dump());
  ASSERT_EQ(c.input_class, InputClass::kValid) << c.reason;
  EXPECT_EQ(c.order.order_id, "o-1");
  EXPECT_EQ(c.order.items.size(), 2u);
  EXPECT_EQ(c.order.total_cents(), 100);
  EXPECT_TRUE(validate_order(j, kNow).ok());
}

TEST(ModelClassifyTest, MalformedOrdersGoToDeadLetters) {
  struct Case {
    std::optional<std::string> value;
    const char* dlq_error;
  };
  const Case cases[] = {
      {"not json", kDlqMalformedJson},
      {R"({"order_id":"o-1",)", kDlqMalformedJson},
      {std::nullopt, kDlqMalformedJson},
      {"null", kDlqMalformedJson},
      {"[1,2]", kDlqNotAnObject},
      {"\"o-1\"", kDlqNotAnObject},
      {"42", kDlqNotAnObject},
      {R"({"customer_id":"c"})", kDlqMissingOrderId},
      {R"({"order_id":""})", kDlqMissingOrderId},
      {R"({"order_id":17})", kDlqMissingOrderId},
      {R"({"order_id":null})", kDlqMissingOrderId},
  };
  for (const Case& c : cases) {
    ClassifiedOrder r = classify_order(std::string("o-1"), c.value, kNow);
    EXPECT_EQ(r.input_class, InputClass::kMalformed) << c.value.value_or("<null>");
    EXPECT_EQ(r.dlq_error, c.dlq_error) << c.value.value_or("<null>");
    EXPECT_FALSE(r.reason.empty());
  }
}

TEST(ModelClassifyTest, EveryInvalidRuleCancelsWithItsReason) {
  auto with = [](const std::function<void(json&)>& change) {
    json j = valid_order();
    change(j);
    return j;
  };
  json many = valid_order();
  many["items"] = json::array();
  for (int i = 0; i < 101; ++i)
    many["items"].push_back({{"sku", "s" + std::to_string(i)}, {"qty", 1}, {"unit_price_cents", 1}});
  json hundred = many;
  hundred["items"].erase(hundred["items"].begin());

  struct Case {
    const char* name;
    json value;
    const char* reason_part;
  };
  const std::vector<Case> cases = {
      {"missing customer_id", with([](json& j) { j.erase("customer_id"); }), "customer_id"},
      {"numeric customer_id", with([](json& j) { j["customer_id"] = 42; }), "customer_id"},
      {"missing created_at", with([](json& j) { j.erase("created_at"); }), "created_at"},
      {"string created_at", with([](json& j) { j["created_at"] = "yesterday"; }), "created_at"},
      {"float created_at", with([](json& j) { j["created_at"] = 1.5; }), "created_at"},
      {"negative created_at", with([](json& j) { j["created_at"] = -1; }), "created_at"},
      {"missing items", with([](json& j) { j.erase("items"); }), "items"},
      {"items not an array", with([](json& j) { j["items"] = json::object(); }), "items"},
      {"no items", with([](json& j) { j["items"] = json::array(); }), "no items"},
      {"more than 100 lines", many, "more than 100 lines"},
      {"line not an object", with([](json& j) { j["items"][1] = "b"; }), "items[1]"},
      {"missing sku", with([](json& j) { j["items"][0].erase("sku"); }), "items[0].sku"},
      {"empty sku", with([](json& j) { j["items"][0]["sku"] = ""; }), "items[0].sku"},
      {"missing qty", with([](json& j) { j["items"][0].erase("qty"); }), "items[0].qty"},
      {"string qty", with([](json& j) { j["items"][0]["qty"] = "2"; }), "items[0].qty"},
      {"fractional qty", with([](json& j) { j["items"][0]["qty"] = 2.5; }), "items[0].qty"},
      {"zero qty", with([](json& j) { j["items"][0]["qty"] = 0; }), "qty must be > 0"},
      {"negative qty", with([](json& j) { j["items"][1]["qty"] = -3; }), "qty must be > 0"},
      {"missing price", with([](json& j) { j["items"][0].erase("unit_price_cents"); }), "unit_price_cents"},
      {"negative price", with([](json& j) { j["items"][0]["unit_price_cents"] = -1; }),
       "unit_price_cents must be >= 0"},
      {"same sku twice", with([](json& j) { j["items"][1]["sku"] = "a"; }), "appears twice"},
      // The contract's bounds (no total can overflow); found by fuzz_ecommerce_model.
      {"qty over 1,000,000", with([](json& j) { j["items"][0]["qty"] = 1'000'001; }), "items[0].qty"},
      {"qty 2^62", with([](json& j) { j["items"][0]["qty"] = int64_t{1} << 62; }), "items[0].qty"},
      {"price over 10,000,000,000", with([](json& j) { j["items"][1]["unit_price_cents"] = 10'000'000'001; }),
       "items[1].unit_price_cents"},
  };
  for (const Case& c : cases) {
    ClassifiedOrder r = classify(c.value.dump());
    EXPECT_EQ(r.input_class, InputClass::kInvalid) << c.name;
    EXPECT_NE(r.reason.find(c.reason_part), std::string::npos) << c.name << ": " << r.reason;
    EXPECT_EQ(r.order.order_id, "o-1") << c.name;
    EXPECT_EQ(validate_order(c.value, kNow).code(), absl::StatusCode::kInvalidArgument) << c.name;
  }
  EXPECT_EQ(classify(hundred.dump()).input_class, InputClass::kValid);  // exactly 100 lines is fine
  // The largest order the bounds allow still has a total that fits.
  json largest = hundred;
  for (json& line : largest["items"]) {
    line["qty"] = 1'000'000;
    line["unit_price_cents"] = 10'000'000'000;
  }
  const ClassifiedOrder big = classify(largest.dump());
  ASSERT_EQ(big.input_class, InputClass::kValid) << big.reason;
  EXPECT_EQ(big.order.total_cents(), 100 * 1'000'000 * 10'000'000'000);
}

TEST(ModelClassifyTest, InvalidOrderKeepsTheFieldsItCould) {
  ClassifiedOrder r = classify(R"({"order_id":"o-9","customer_id":"c-1","created_at":5,"items":[]})");
  ASSERT_EQ(r.input_class, InputClass::kInvalid);
  EXPECT_TRUE(r.has_created_at);
  EXPECT_EQ(r.order.created_at, 5);
  EXPECT_EQ(r.order.customer_id, "c-1");
  ClassifiedOrder no_time = classify(R"({"order_id":"o-9","customer_id":"c-1","items":[]})");
  EXPECT_FALSE(no_time.has_created_at);
}

TEST(ModelClassifyTest, RestocksAreValidOrDeadLettered) {
  ClassifiedRestock ok =
      classify_restock(std::string("a"), std::string(R"({"restock_id":"r-1","sku":"a","qty":5,"extra":1})"));
  ASSERT_EQ(ok.input_class, InputClass::kValid) << ok.reason;
  EXPECT_EQ(ok.restock, (Restock{"r-1", "a", 5}));
  EXPECT_EQ(
      classify_restock(std::string("a"), std::string(R"({"restock_id":"r","sku":"a","qty":1000000000})")).input_class,
      InputClass::kValid);

  struct Case {
    std::optional<std::string> value;
    const char* dlq_error;
  };
  const Case cases[] = {
      {"{{", kDlqMalformedJson},
      {std::nullopt, kDlqMalformedJson},
      {"[]", kDlqNotAnObject},
      {R"({"sku":"a","qty":5})", kDlqInvalidRestock},
      {R"({"restock_id":"","sku":"a","qty":5})", kDlqInvalidRestock},
      {R"({"restock_id":"r","qty":5})", kDlqInvalidRestock},
      {R"({"restock_id":"r","sku":"a"})", kDlqInvalidRestock},
      {R"({"restock_id":"r","sku":"a","qty":0})", kDlqInvalidRestock},
      {R"({"restock_id":"r","sku":"a","qty":-4})", kDlqInvalidRestock},
      {R"({"restock_id":"r","sku":"a","qty":"5"})", kDlqInvalidRestock},
      {R"({"restock_id":"r","sku":"a","qty":1.5})", kDlqInvalidRestock},
      {R"({"restock_id":"r","sku":"a","qty":1000000001})", kDlqInvalidRestock},  // contract: 1..1e9
  };
  for (const Case& c : cases) {
    ClassifiedRestock r = classify_restock(std::string("a"), c.value);
    EXPECT_EQ(r.input_class, InputClass::kMalformed) << c.value.value_or("<null>");
    EXPECT_EQ(r.dlq_error, c.dlq_error) << c.value.value_or("<null>");
  }
}

TEST(ModelBoundsTest, QuantitiesAndPricesAreBoundedSoNoTotalOverflows) {
  auto order_with = [](json qty, json price) {
    json j = valid_order();
    j["items"][0]["qty"] = qty;
    j["items"][0]["unit_price_cents"] = price;
    return classify(j.dump());
  };
  EXPECT_EQ(order_with(kMaxLineQty, kMaxUnitPriceCents).input_class, InputClass::kValid);
  EXPECT_EQ(order_with(1, 0).input_class, InputClass::kValid);
  // The issue's example: qty 2^62 x price 4 gave total_cents 0 (signed overflow).
  const ClassifiedOrder huge = order_with(int64_t{1} << 62, 4);
  EXPECT_EQ(huge.input_class, InputClass::kInvalid);
  EXPECT_NE(huge.reason.find("qty must be <= 1000000"), std::string::npos) << huge.reason;
  EXPECT_EQ(order_with(kMaxLineQty + 1, 1).input_class, InputClass::kInvalid);
  EXPECT_EQ(order_with(1, kMaxUnitPriceCents + 1).input_class, InputClass::kInvalid);
  EXPECT_EQ(order_with(1, kMax).input_class, InputClass::kInvalid);
  EXPECT_EQ(order_with(uint64_t{18446744073709551615ULL}, 1).input_class, InputClass::kInvalid);
  // 100 lines at the bounds: the largest valid total fits int64 exactly.
  json full = valid_order();
  full["items"] = json::array();
  for (int i = 0; i < 100; ++i) {
    full["items"].push_back(
        {{"sku", "s" + std::to_string(i)}, {"qty", kMaxLineQty}, {"unit_price_cents", kMaxUnitPriceCents}});
  }
  const ClassifiedOrder big = classify(full.dump());
  ASSERT_EQ(big.input_class, InputClass::kValid) << big.reason;
  EXPECT_EQ(big.order.total_cents(), 100 * kMaxLineQty * kMaxUnitPriceCents);
}

TEST(ModelBoundsTest, TotalCentsSaturatesInsteadOfOverflowing) {
  Order o{"o-1", "c", 0, {{"a", int64_t{1} << 62, 4}}};
  EXPECT_EQ(o.total_cents(), kMax);
  o.items = {{"a", kMax / 2, 1}, {"b", kMax / 2, 1}, {"c", 5, 1}};
  EXPECT_EQ(o.total_cents(), kMax);
  o.items = {{"a", -(int64_t{1} << 62), 4}};
  EXPECT_EQ(o.total_cents(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(saturating_add(kMax, 1), kMax);
  EXPECT_EQ(saturating_add(std::numeric_limits<int64_t>::min(), -1), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(saturating_add(40, 2), 42);
}

TEST(ModelBoundsTest, CreatedAtOutsideZeroToNowPlusADayIsInvalidAndHasNoEventTime) {
  auto at = [](json created_at) {
    json j = valid_order();
    j["created_at"] = created_at;
    return classify(j.dump());
  };
  const int64_t day = kMaxCreatedAtAheadMs;
  EXPECT_EQ(at(0).input_class, InputClass::kValid);
  EXPECT_EQ(at(kNow + day).input_class, InputClass::kValid);
  EXPECT_EQ(at(kNow + day).event_time(7, kNow), std::optional<int64_t>(kNow + day));
  for (json poison : {json(kNow + day + 1), json(kMax), json(kMax - 60'000), json(-1),
                      json(std::numeric_limits<int64_t>::min()), json(uint64_t{18446744073709551615ULL})}) {
    const ClassifiedOrder c = at(poison);
    EXPECT_EQ(c.input_class, InputClass::kInvalid) << poison;
    EXPECT_NE(c.reason.find("created_at"), std::string::npos) << c.reason;
    EXPECT_FALSE(c.has_created_at) << poison;
    EXPECT_TRUE(c.created_at_out_of_range) << poison;
    // No event time at all: the record timestamp is no substitute for an out-of-range created_at.
    EXPECT_EQ(c.event_time(1764288000000, kNow), std::nullopt) << poison;
  }
  EXPECT_EQ(at(kMax).order.created_at, kMax);  // reported as sent
  // Missing or ill-typed: the record timestamp stands in, if it is within bounds itself.
  json no_time = valid_order();
  no_time.erase("created_at");
  const ClassifiedOrder missing = classify(no_time.dump());
  EXPECT_FALSE(missing.created_at_out_of_range);
  EXPECT_EQ(missing.event_time(1234, kNow), std::optional<int64_t>(1234));
  EXPECT_EQ(missing.event_time(kMax, kNow), std::nullopt);
  EXPECT_EQ(missing.event_time(-1, kNow), std::nullopt);
  EXPECT_TRUE(is_usable_event_time(0, kMax));  // now + 24 h saturates
  EXPECT_FALSE(is_usable_event_time(-1, kMax));
}

TEST(ModelKeysTest, AnOrderWhoseKeyIsNotItsOrderIdIsAKeyMismatchDeadLetter) {
  const std::string value = valid_order().dump();
  EXPECT_EQ(classify_order(std::string("o-1"), value, kNow).input_class, InputClass::kValid);
  for (std::optional<std::string> key : {std::optional<std::string>("o-2"), std::optional<std::string>(""),
                                         std::optional<std::string>("O-1"), std::optional<std::string>()}) {
    const ClassifiedOrder c = classify_order(key, value, kNow);
    EXPECT_EQ(c.input_class, InputClass::kMalformed) << key.value_or("<null>");
    EXPECT_EQ(c.dlq_error, kDlqKeyMismatch) << key.value_or("<null>");
  }
  // An invalid order under the wrong key is a key mismatch too (nothing else); a malformed value
  // keeps its own class.
  EXPECT_EQ(classify_order(std::string("x"), std::string(R"({"order_id":"o-1","items":[]})"), kNow).dlq_error,
            kDlqKeyMismatch);
  EXPECT_EQ(classify_order(std::string("x"), std::string("{{"), kNow).dlq_error, kDlqMalformedJson);
}

TEST(ModelKeysTest, RestockBoundsAndKeyChecks) {
  const std::string max_qty = json{{"restock_id", "r"}, {"sku", "a"}, {"qty", kMaxRestockQty}}.dump();
  EXPECT_EQ(classify_restock(std::string("a"), max_qty).input_class, InputClass::kValid);
  for (json qty : {json(kMaxRestockQty + 1), json(kMax), json(uint64_t{18446744073709551615ULL})}) {
    const ClassifiedRestock r =
        classify_restock(std::string("a"), json{{"restock_id", "r"}, {"sku", "a"}, {"qty", qty}}.dump());
    EXPECT_EQ(r.dlq_error, kDlqInvalidRestock) << qty;
  }
  for (std::optional<std::string> key : {std::optional<std::string>("b"), std::optional<std::string>()}) {
    const ClassifiedRestock r = classify_restock(key, max_qty);
    EXPECT_EQ(r.input_class, InputClass::kMalformed);
    EXPECT_EQ(r.dlq_error, kDlqKeyMismatch);
  }
}

TEST(ModelWindowsTest, SkuWindowStartsNearInt64MaxTerminate) {
  // The same counting as TimeWindows: no `start += advance` past INT64_MAX.
  const std::vector<int64_t> starts = sku_window_starts(kMax);
  ASSERT_EQ(starts.size(), 5u);
  EXPECT_EQ(starts.back(), kMax - kMax % kSkuWindowAdvanceMs);
  EXPECT_TRUE(sku_window_starts(-1).empty());
  EXPECT_EQ(revenue_window_start(kMax), kMax - kMax % kRevenueWindowSizeMs);
}

TEST(ModelNamesTest, EnumsRoundTripThroughTheirNames) {
  for (OrderState s : {OrderState::kPending, OrderState::kConfirmed, OrderState::kCancelled}) {
    OrderState back{};
    ASSERT_TRUE(parse_order_state(to_string(s), &back));
    EXPECT_EQ(back, s);
  }
  for (LedgerType t : {LedgerType::kRestocked, LedgerType::kReserved, LedgerType::kRejected, LedgerType::kReleased}) {
    LedgerType back{};
    ASSERT_TRUE(parse_ledger_type(to_string(t), &back));
    EXPECT_EQ(back, t);
  }
  CancelReason r{};
  EXPECT_FALSE(parse_cancel_reason("invalid", &r));  // case matters
  EXPECT_EQ(input_topics().size(), 2u);
  EXPECT_EQ(output_topics().size(), 6u);
}

}  // namespace
}  // namespace ecommerce
