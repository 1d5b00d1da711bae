#include "kstreams/common/serde.h"

#include <gtest/gtest.h>

#include "kstreams/common/json_serde.h"

namespace kstreams {
namespace {

struct Point {
  int x = 0;
  std::string label;
  bool operator==(const Point&) const = default;
};
void to_json(nlohmann::json& j, const Point& p) { j = {{"x", p.x}, {"label", p.label}}; }
void from_json(const nlohmann::json& j, Point& p) {
  j.at("x").get_to(p.x);
  j.at("label").get_to(p.label);
}

TEST(SerdeTest, Int64IsBigEndianLikeKafkaLongSerializer) {
  Int64Serde serde;
  EXPECT_EQ(serde.to_bytes(1), std::string("\0\0\0\0\0\0\0\1", 8));
  EXPECT_EQ(serde.to_bytes(-1), std::string(8, '\xff'));
  EXPECT_EQ(*serde.from_bytes(serde.to_bytes(1234567890123)), 1234567890123);
}

TEST(SerdeTest, FixedWidthRejectsWrongLengthWithDataLoss) {
  Int32Serde serde;
  auto r = serde.from_bytes("abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
}

TEST(SerdeTest, DoubleRoundTrips) {
  DoubleSerde serde;
  EXPECT_DOUBLE_EQ(*serde.from_bytes(serde.to_bytes(-3.25)), -3.25);
}

TEST(SerdeTest, JsonRoundTripsAndIsDefaultForJsonTypes) {
  auto serde = default_serde<Point>();
  ASSERT_NE(serde, nullptr);
  Point p{7, "seven"};
  EXPECT_EQ(*serde->from_bytes(serde->to_bytes(p)), p);
}

TEST(SerdeTest, JsonReportsMalformedAndMistypedInput) {
  JsonSerde<Point> serde;
  EXPECT_EQ(serde.from_bytes("{not json").status().code(), absl::StatusCode::kDataLoss);
  auto mistyped = serde.from_bytes(R"({"x":"seven","label":"l"})");
  EXPECT_EQ(mistyped.status().code(), absl::StatusCode::kDataLoss);
}

struct NoSerde {};
TEST(SerdeTest, TypesWithoutEncodingHaveNoDefault) { EXPECT_EQ(default_serde<NoSerde>(), nullptr); }

}  // namespace
}  // namespace kstreams
