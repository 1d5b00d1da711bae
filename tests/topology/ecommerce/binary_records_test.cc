// The binary encoding of the topology's internal records (binary.h, saga_records.h): every type
// round-trips through its default serde, and truncated, mistyped or padded bytes are kDataLoss.
#include <gtest/gtest.h>

#include "topology/saga_records.h"

namespace ecommerce {
namespace {

template <typename T>
T round_trip(const T& v) {
  const auto serde = kstreams::default_serde<T>();
  EXPECT_NE(serde->name().find("Binary<"), std::string::npos) << serde->name();
  const std::string bytes = serde->to_bytes(v);
  auto back = serde->from_bytes(bytes);
  EXPECT_TRUE(back.ok()) << back.status();
  // Every proper prefix is truncated input, one byte more is trailing garbage.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(serde->from_bytes(bytes.substr(0, n)).status().code(), absl::StatusCode::kDataLoss) << n;
  }
  EXPECT_EQ(serde->from_bytes(bytes + '\0').status().code(), absl::StatusCode::kDataLoss);
  return back.ok() ? *back : T{};
}

const Order kOrder{"o-1", "c-\"quoted\"", 1764288000000, {{"sku-1", 2, 1299}, {"sku-2", 1, 0}}};

TEST(BinaryRecordsTest, EveryInternalRecordRoundTrips) {
  auto cmd = round_trip(StockCommand{StockCommand::Type::kRelease, "o-1", "sku-é", -3, 7});
  EXPECT_EQ(cmd.type, StockCommand::Type::kRelease);
  EXPECT_EQ(cmd.sku, "sku-é");
  EXPECT_EQ(cmd.qty, -3);
  EXPECT_EQ(cmd.line, 7);

  auto result = round_trip(LineResult{"o-1", 1, "sku-2", 5, true});
  EXPECT_TRUE(result.reserved);
  EXPECT_EQ(result.line, 1);

  auto saga = round_trip(SagaState{kOrder, {1, -1}});
  EXPECT_EQ(saga.order, kOrder);
  EXPECT_EQ(saga.lines, (std::vector<int8_t>{1, -1}));

  auto level = round_trip(StockLevel{"sku-1", INT64_MAX, INT64_MIN});
  EXPECT_EQ(level.available, INT64_MAX);
  EXPECT_EQ(level.reserved, INT64_MIN);

  auto entry =
      round_trip(OutboxEntry{"o-1:CONFIRMED", "o-1", "ORDER_CONFIRMED", R"({"a":"\n"})", 2, 99, "HTTP 503", 77});
  EXPECT_EQ(entry.payload, R"({"a":"\n"})");
  EXPECT_EQ(entry.attempts, 2);
  EXPECT_EQ(entry.last_error, "HTTP 503");
  EXPECT_EQ(entry.first_attempt_at, 77);
  // An entry of an older build (tag 0xC5, no first_attempt_at) still decodes.
  std::string old_layout = to_binary(OutboxEntry{"o-2:CONFIRMED", "o-2", "ORDER_CONFIRMED", "{}", 1, 5, "HTTP 500"});
  old_layout.resize(old_layout.size() - 1);  // first_attempt_at 0 is one varint byte
  old_layout[0] = static_cast<char>(0xC5);
  OutboxEntry old_entry;
  binary::Reader old_reader(old_layout);
  ASSERT_TRUE(decode(old_reader, &old_entry) && old_reader.done());
  EXPECT_EQ(old_entry.last_error, "HTTP 500");
  EXPECT_EQ(old_entry.first_attempt_at, 0);

  auto ev = round_trip(TerminalEvent{"o-1", OrderState::kCancelled, 10, 20, kOrder.items});
  EXPECT_EQ(ev.status, OrderState::kCancelled);
  EXPECT_EQ(ev.items, kOrder.items);
  EXPECT_EQ(round_trip(RevenueDelta{true, 42}).total_cents, 42);
  EXPECT_EQ(round_trip(RevenueAgg{1, 2, 3}).revenue_cents, 3);
  EXPECT_EQ(round_trip(SkuSale{4, 5}).units, 4);
  EXPECT_EQ(round_trip(SkuAgg{6, 7}).units_sold, 6);
}

TEST(BinaryRecordsTest, BytesOfAnotherTypeOrOutOfRangeValuesAreDataLoss) {
  const std::string level = kstreams::default_serde<StockLevel>()->to_bytes(StockLevel{"sku", 1, 2});
  EXPECT_EQ(kstreams::default_serde<SkuAgg>()->from_bytes(level).status().code(), absl::StatusCode::kDataLoss);
  // A JSON value written by an earlier version is not silently misread.
  EXPECT_EQ(
      kstreams::default_serde<StockLevel>()->from_bytes(R"({"sku":"sku","available":1,"reserved":2})").status().code(),
      absl::StatusCode::kDataLoss);
  // A line state outside -1..1, and a line count that does not match the items.
  const auto sagas = kstreams::default_serde<SagaState>();
  EXPECT_TRUE(sagas->from_bytes(to_binary(SagaState{kOrder, {1, 0}})).ok());
  EXPECT_FALSE(sagas->from_bytes(to_binary(SagaState{kOrder, {1, 2}})).ok());
  EXPECT_FALSE(sagas->from_bytes(to_binary(SagaState{kOrder, {1}})).ok());
  // An int32 field holding a value beyond int32.
  std::string bytes;
  binary::Writer big(&bytes);
  big.tag(0xC2);
  big.str("o");
  big.i64(int64_t{1} << 40);
  big.str("s");
  big.i64(1);
  big.boolean(false);
  EXPECT_FALSE(kstreams::default_serde<LineResult>()->from_bytes(bytes).ok());
}

TEST(BinaryRecordsTest, StoredValuesRenderAsJsonViews) {
  EXPECT_EQ(nlohmann::json(StockLevel{"sku-7", 98, 2}),
            nlohmann::json::parse(R"({"sku":"sku-7","available":98,"reserved":2})"));
}

}  // namespace
}  // namespace ecommerce
