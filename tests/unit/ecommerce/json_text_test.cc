// append_json / json_text (model.h) against nlohmann: byte-identical text for every output record
// type, over random values whose strings hold every character class that JSON escapes.
#include <gtest/gtest.h>

#include <random>

#include "model.h"

namespace ecommerce {
namespace {

class JsonTextTest : public ::testing::Test {
 protected:
  // Plain ASCII, quotes, backslashes, every control character, DEL and multi-byte UTF-8.
  std::string random_string() {
    static const std::vector<std::string> kPieces = {"a",    "Z", "0", "-", ":",  " ",  "\"", "\\", "/",
                                                     "\x7f", "é", "€", "𝄞", "\b", "\f", "\n", "\r", "\t"};
    std::string s;
    const int n = static_cast<int>(rng_() % 12);
    for (int i = 0; i < n; ++i) {
      if (rng_() % 6 == 0) {
        s.push_back(static_cast<char>(rng_() % 0x20));  // any control character, \u00xx
      } else {
        s += kPieces[rng_() % kPieces.size()];
      }
    }
    return s;
  }
  int64_t random_int() {
    switch (rng_() % 4) {
      case 0:
        return 0;
      case 1:
        return -static_cast<int64_t>(rng_() % 1000);
      case 2:
        return std::numeric_limits<int64_t>::min() + static_cast<int64_t>(rng_() % 2);
      default:
        return static_cast<int64_t>(rng_());
    }
  }
  std::vector<OrderItem> random_items() {
    std::vector<OrderItem> items(rng_() % 4);
    for (auto& item : items) item = OrderItem{random_string(), random_int(), random_int()};
    return items;
  }
  template <typename T>
  void expect_same(const T& v) {
    EXPECT_EQ(json_text(v), nlohmann::json(v).dump());
  }
  std::mt19937_64 rng_{20261203};
};

TEST_F(JsonTextTest, OrderStatusIsByteIdenticalToNlohmann) {
  for (int i = 0; i < 500; ++i) {
    OrderStatus s{
        random_string(), static_cast<OrderState>(rng_() % 3), std::nullopt, random_int(), random_int(), random_int(),
        random_items()};
    if (rng_() % 2) s.reason = static_cast<CancelReason>(rng_() % 2);
    expect_same(s);
  }
}

TEST_F(JsonTextTest, LedgerEntriesAreByteIdenticalToNlohmann) {
  for (int i = 0; i < 500; ++i) {
    ReservationEntry e;
    if (rng_() % 2) e.order_id = random_string();
    e.sku = random_string();
    e.qty = random_int();
    e.type = static_cast<LedgerType>(rng_() % 4);
    e.available_after = random_int();
    if (rng_() % 2) e.restock_id = random_string();
    expect_same(e);
  }
}

TEST_F(JsonTextTest, NotificationsAndAnalyticsAreByteIdenticalToNlohmann) {
  for (int i = 0; i < 300; ++i) {
    const int64_t first_attempt_at = i % 3 == 0 ? 0 : random_int();  // 0: the field is left out
    expect_same(NotificationReceipt{random_string(), random_string(), random_string(), random_string(),
                                    static_cast<int32_t>(random_int()), random_int(), first_attempt_at});
    expect_same(NotificationDlq{random_string(), random_string(), random_string(), static_cast<int32_t>(random_int()),
                                random_string(), random_int(), first_attempt_at});
    expect_same(RevenueWindow{random_int(), random_int(), random_int(), random_int(), random_int()});
    expect_same(SkuSalesWindow{random_string(), random_int(), random_int(), random_int(), random_int()});
  }
}

TEST_F(JsonTextTest, ContractExampleReadsBackAsTheSameRecord) {
  const OrderStatus s{"o-000001",    OrderState::kConfirmed,          std::nullopt, 2598, 1764288000000,
                      1764288000042, {OrderItem{"sku-0007", 2, 1299}}};
  EXPECT_EQ(
      json_text(s),
      R"({"created_at":1764288000000,"items":[{"qty":2,"sku":"sku-0007","unit_price_cents":1299}],)"
      R"("order_id":"o-000001","reason":null,"status":"CONFIRMED","total_cents":2598,"updated_at":1764288000042})");
  EXPECT_EQ(nlohmann::json::parse(json_text(s)).get<OrderStatus>(), s);
}

}  // namespace
}  // namespace ecommerce
