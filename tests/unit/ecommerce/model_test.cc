// The e-commerce model against the contract: JSON round trips of the contract's examples, and
// every classification rule of orders and restocks.
#include "model.h"

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

ClassifiedOrder classify(const std::string& text) { return classify_order(text); }

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
  EXPECT_TRUE(validate_order(j).ok());
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
    ClassifiedOrder r = classify_order(c.value);
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
    EXPECT_EQ(validate_order(c.value).code(), absl::StatusCode::kInvalidArgument) << c.name;
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
  ClassifiedRestock ok = classify_restock(std::string(R"({"restock_id":"r-1","sku":"a","qty":5,"extra":1})"));
  ASSERT_EQ(ok.input_class, InputClass::kValid) << ok.reason;
  EXPECT_EQ(ok.restock, (Restock{"r-1", "a", 5}));
  EXPECT_EQ(classify_restock(std::string(R"({"restock_id":"r","sku":"a","qty":1000000000})")).input_class,
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
    ClassifiedRestock r = classify_restock(c.value);
    EXPECT_EQ(r.input_class, InputClass::kMalformed) << c.value.value_or("<null>");
    EXPECT_EQ(r.dlq_error, c.dlq_error) << c.value.value_or("<null>");
  }
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
