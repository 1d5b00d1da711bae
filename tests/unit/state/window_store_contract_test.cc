// The window store contract, run against every implementation.
#include <gtest/gtest.h>

#include "kstreams/common/serde.h"
#include "kstreams/state/typed_store.h"
#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::ImplementationNames;
using testing::StoreHarness;
using testing::StoreImplementations;

struct W {
  std::string key;
  TimestampMs start;
  std::string value;
  bool operator==(const W&) const = default;
};
std::ostream& operator<<(std::ostream& os, const W& w) {
  return os << "(" << w.key << "@" << w.start << "=" << w.value << ")";
}
using Ws = std::vector<W>;

Ws drain(std::unique_ptr<WindowIterator> it) {
  Ws out;
  for (; it->valid(); it->next()) out.push_back(W{it->entry().key, it->entry().window_start, it->entry().value});
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

StoreSpec window_spec(int64_t retention_ms, bool retain_duplicates) {
  StoreSpec spec;
  spec.name = "win";
  spec.type = StoreType::kWindow;
  spec.retention_ms = retention_ms;
  spec.window_size_ms = 10;
  spec.segment_interval_ms = 100;
  spec.retain_duplicates = retain_duplicates;
  return spec;
}

template <typename Impl>
class WindowStoreContractTest : public ::testing::Test {
 protected:
  explicit WindowStoreContractTest(int64_t retention = 1000, bool dups = false)
      : harness_(window_spec(retention, dups)) {}
  WindowBytesStore& store() { return *harness_.manager().window_store("win"); }
  void put(const std::string& k, TimestampMs t, const std::string& v) {
    ASSERT_TRUE(store().put(k, std::string_view(v), t).ok());
  }
  StoreHarness<Impl> harness_;
};
TYPED_TEST_SUITE(WindowStoreContractTest, StoreImplementations, ImplementationNames);

template <typename Impl>
class WindowStoreWithDuplicatesTest : public WindowStoreContractTest<Impl> {
 protected:
  WindowStoreWithDuplicatesTest() : WindowStoreContractTest<Impl>(1000, true) {}
};
TYPED_TEST_SUITE(WindowStoreWithDuplicatesTest, StoreImplementations, ImplementationNames);

TYPED_TEST(WindowStoreContractTest, FetchesASingleWindowByKeyAndStart) {
  this->put("a", 10, "x");
  this->harness_.settle();
  auto v = this->store().fetch("a", 10);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "x");
  EXPECT_EQ(*this->store().fetch("a", 11), std::nullopt);
  EXPECT_EQ(*this->store().fetch("b", 10), std::nullopt);
}

TYPED_TEST(WindowStoreContractTest, FetchTimeRangeIsInclusiveAndAscending) {
  for (TimestampMs t : {0, 10, 20, 150, 250}) this->put("a", t, "v" + std::to_string(t));
  this->put("b", 10, "other");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a", 10, 150)), (Ws{{"a", 10, "v10"}, {"a", 20, "v20"}, {"a", 150, "v150"}}));
  EXPECT_EQ(drain(this->store().backward_fetch("a", 10, 150)),
            (Ws{{"a", 150, "v150"}, {"a", 20, "v20"}, {"a", 10, "v10"}}));
  EXPECT_TRUE(drain(this->store().fetch("a", 151, 249)).empty());
}

TYPED_TEST(WindowStoreContractTest, KeysThatArePrefixesOfOtherKeysStaySeparate) {
  this->put("a", 10, "short");
  this->put("ab", 10, "long");
  this->put(std::string("a\0", 2), 10, "nul");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a", 0, 100)), (Ws{{"a", 10, "short"}}));
  EXPECT_EQ(drain(this->store().fetch("ab", 0, 100)), (Ws{{"ab", 10, "long"}}));
}

TYPED_TEST(WindowStoreContractTest, PutOverwritesAndNullDeletes) {
  this->put("a", 10, "1");
  this->harness_.settle();
  this->put("a", 10, "2");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a", 0, 100)), (Ws{{"a", 10, "2"}}));
  ASSERT_TRUE(this->store().put("a", std::nullopt, 10).ok());
  this->harness_.settle();
  EXPECT_TRUE(drain(this->store().fetch("a", 0, 100)).empty());
  EXPECT_EQ(*this->store().fetch("a", 10), std::nullopt);
}

TYPED_TEST(WindowStoreContractTest, FetchRangeIsInclusiveInKeysAndTimesOrderedByStartThenKey) {
  this->put("a", 20, "a20");
  this->put("b", 10, "b10");
  this->put("c", 10, "c10");
  this->put("d", 10, "d10");
  this->put("b", 300, "b300");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch_range("a", "c", 10, 300)),
            (Ws{{"b", 10, "b10"}, {"c", 10, "c10"}, {"a", 20, "a20"}, {"b", 300, "b300"}}));
  EXPECT_EQ(drain(this->store().fetch_range("c", "", 0, 100)), (Ws{{"c", 10, "c10"}, {"d", 10, "d10"}}));
}

TYPED_TEST(WindowStoreContractTest, FetchAllAndAllCoverEveryKey) {
  this->put("b", 10, "b10");
  this->put("a", 110, "a110");
  this->put("c", 210, "c210");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch_all(100, 210)), (Ws{{"a", 110, "a110"}, {"c", 210, "c210"}}));
  EXPECT_EQ(drain(this->store().all()), (Ws{{"b", 10, "b10"}, {"a", 110, "a110"}, {"c", 210, "c210"}}));
}

TYPED_TEST(WindowStoreContractTest, WindowsOlderThanRetentionExpireAsStreamTimeAdvances) {
  this->put("a", 0, "old");
  this->put("a", 500, "mid");
  this->harness_.settle();
  EXPECT_EQ(this->store().observed_stream_time(), 500);
  this->put("b", 1000, "new");  // stream time 1000: start 0 is now expired (0 <= 1000 - 1000)
  this->harness_.settle();
  EXPECT_EQ(this->store().observed_stream_time(), 1000);
  EXPECT_EQ(drain(this->store().fetch("a", 0, 2000)), (Ws{{"a", 500, "mid"}}));
  EXPECT_EQ(*this->store().fetch("a", 0), std::nullopt);
  EXPECT_EQ(drain(this->store().all()), (Ws{{"a", 500, "mid"}, {"b", 1000, "new"}}));
}

TYPED_TEST(WindowStoreContractTest, WritesOfExpiredWindowsAreIgnoredAndNotLogged) {
  this->put("a", 5000, "now");
  const size_t logged = this->harness_.changelog().records("win").size();
  this->put("late", 100, "too late");
  this->harness_.settle();
  EXPECT_TRUE(drain(this->store().fetch("late", 0, 10000)).empty());
  EXPECT_EQ(this->harness_.changelog().records("win").size(), logged);
}

TYPED_TEST(WindowStoreContractTest, ExpiredDataStaysGoneAfterManySegmentsRoll) {
  for (TimestampMs t = 0; t <= 5000; t += 50) this->put("k", t, std::to_string(t));
  this->harness_.settle();
  auto all = drain(this->store().fetch("k", 0, 10000));
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().start, 4050);  // retention 1000: starts > 4000 survive
  EXPECT_EQ(all.back().start, 5000);
  EXPECT_EQ(all.size(), 20u);
}

TYPED_TEST(WindowStoreContractTest, NegativeWindowStartIsRejected) {
  EXPECT_EQ(this->store().put("a", std::string_view("x"), -1).code(), absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(WindowStoreContractTest, LogsTheCompositeKeyOfKeyStartAndSequence) {
  this->harness_.manager().set_record_timestamp(77);
  this->put("ab", 258, "v");
  const auto& log = this->harness_.changelog().records("win");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(*log[0].key, std::string("ab\0\0\0\0\0\0\x01\x02\0\0\0\0", 14));
  EXPECT_EQ(log[0].value, "v");
  EXPECT_EQ(log[0].timestamp, 77);
}

TYPED_TEST(WindowStoreContractTest, TypedWindowStoreRoundTrips) {
  WindowStore<std::string, int64_t> counts(&this->store(), serdes::String(), serdes::Int64());
  ASSERT_TRUE(counts.put("k", 1, 0).ok());
  ASSERT_TRUE(counts.put("k", 2, 100).ok());
  this->harness_.settle();
  auto it = counts.fetch("k", 0, 100);
  std::vector<std::pair<TimestampMs, int64_t>> seen;
  while (it.next()) seen.emplace_back(it.window_start(), it.value());
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(seen, (std::vector<std::pair<TimestampMs, int64_t>>{{0, 1}, {100, 2}}));
  EXPECT_EQ(*counts.fetch("k", 100), std::optional<int64_t>(2));
}

TYPED_TEST(WindowStoreWithDuplicatesTest, EveryPutAddsAnEntryInInsertionOrder) {
  this->put("a", 10, "first");
  this->put("a", 10, "second");
  this->harness_.settle();
  this->put("a", 10, "third");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a", 10, 10)), (Ws{{"a", 10, "first"}, {"a", 10, "second"}, {"a", 10, "third"}}));
  EXPECT_EQ(*this->store().fetch("a", 10), "first");
}

TYPED_TEST(WindowStoreWithDuplicatesTest, NullPutIsIgnoredRatherThanDeleting) {
  this->put("a", 10, "first");
  ASSERT_TRUE(this->store().put("a", std::nullopt, 10).ok());
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a", 10, 10)), (Ws{{"a", 10, "first"}}));
}

}  // namespace
}  // namespace kstreams::state
