// The session store contract, run against every implementation.
#include <gtest/gtest.h>

#include "kstreams/common/serde.h"
#include "kstreams/state/typed_store.h"
#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::ImplementationNames;
using testing::StoreHarness;
using testing::StoreImplementations;

struct S {
  std::string key;
  TimestampMs start;
  TimestampMs end;
  std::string value;
  bool operator==(const S&) const = default;
};
std::ostream& operator<<(std::ostream& os, const S& s) {
  return os << "(" << s.key << "[" << s.start << "," << s.end << "]=" << s.value << ")";
}
using Ss = std::vector<S>;

Ss drain(std::unique_ptr<SessionIterator> it) {
  Ss out;
  for (; it->valid(); it->next()) {
    const SessionEntry& e = it->entry();
    out.push_back(S{e.key, e.start, e.end, e.value});
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

StoreSpec session_spec() {
  StoreSpec spec;
  spec.name = "sessions";
  spec.type = StoreType::kSession;
  spec.retention_ms = 1000;
  spec.segment_interval_ms = 100;
  return spec;
}

template <typename Impl>
class SessionStoreContractTest : public ::testing::Test {
 protected:
  SessionStoreContractTest() : harness_(session_spec()) {}
  SessionBytesStore& store() { return *harness_.manager().session_store("sessions"); }
  void put(const std::string& k, TimestampMs start, TimestampMs end, const std::string& v) {
    ASSERT_TRUE(store().put(k, start, end, v).ok());
  }
  void put_three() {
    put("a", 0, 10, "s1");
    put("a", 20, 30, "s2");
    put("a", 50, 160, "s3");
    put("b", 25, 25, "other");
    harness_.settle();
  }
  StoreHarness<Impl> harness_;
};
TYPED_TEST_SUITE(SessionStoreContractTest, StoreImplementations, ImplementationNames);

TYPED_TEST(SessionStoreContractTest, FindSessionsReturnsSessionsEndingAtOrAfterAndStartingAtOrBefore) {
  this->put_three();
  EXPECT_EQ(drain(this->store().find_sessions("a", 15, 45)), (Ss{{"a", 20, 30, "s2"}}));
  EXPECT_EQ(drain(this->store().find_sessions("a", 10, 50)),
            (Ss{{"a", 0, 10, "s1"}, {"a", 20, 30, "s2"}, {"a", 50, 160, "s3"}}));
  EXPECT_EQ(drain(this->store().find_sessions("a", 11, 49)), (Ss{{"a", 20, 30, "s2"}}));
  EXPECT_TRUE(drain(this->store().find_sessions("a", 31, 49)).empty());
}

TYPED_TEST(SessionStoreContractTest, FindSessionsForANewRecordFindsTheSessionsToMerge) {
  // A record at t=35 with inactivity gap 5 merges with sessions overlapping [30, 40].
  this->put_three();
  EXPECT_EQ(drain(this->store().find_sessions("a", 35 - 5, 35 + 5)), (Ss{{"a", 20, 30, "s2"}}));
}

TYPED_TEST(SessionStoreContractTest, FetchReturnsEveryOfTheKeysSessionsByEndTime) {
  this->put_three();
  EXPECT_EQ(drain(this->store().fetch("a")), (Ss{{"a", 0, 10, "s1"}, {"a", 20, 30, "s2"}, {"a", 50, 160, "s3"}}));
  EXPECT_EQ(drain(this->store().fetch("b")), (Ss{{"b", 25, 25, "other"}}));
  EXPECT_TRUE(drain(this->store().fetch("c")).empty());
}

TYPED_TEST(SessionStoreContractTest, AllIsOrderedByEndThenKey) {
  this->put_three();
  EXPECT_EQ(drain(this->store().all()),
            (Ss{{"a", 0, 10, "s1"}, {"b", 25, 25, "other"}, {"a", 20, 30, "s2"}, {"a", 50, 160, "s3"}}));
}

TYPED_TEST(SessionStoreContractTest, FetchSessionFindsExactlyOneSession) {
  this->put_three();
  EXPECT_EQ(*this->store().fetch_session("a", 20, 30), "s2");
  EXPECT_EQ(*this->store().fetch_session("a", 20, 31), std::nullopt);
}

TYPED_TEST(SessionStoreContractTest, RemoveDeletesOneSessionAndIsLoggedAsATombstone) {
  this->put_three();
  ASSERT_TRUE(this->store().remove("a", 20, 30).ok());
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a")), (Ss{{"a", 0, 10, "s1"}, {"a", 50, 160, "s3"}}));
  const auto& log = this->harness_.changelog().records("sessions");
  ASSERT_FALSE(log.empty());
  EXPECT_FALSE(log.back().value.has_value());
  EXPECT_EQ(*log.back().key, std::string("a\0\0\0\0\0\0\0\x1e\0\0\0\0\0\0\0\x14", 17));  // key, end 30, start 20
}

TYPED_TEST(SessionStoreContractTest, MergingReplacesSessionsWithTheirUnion) {
  this->put_three();
  ASSERT_TRUE(this->store().remove("a", 0, 10).ok());
  ASSERT_TRUE(this->store().remove("a", 20, 30).ok());
  this->put("a", 0, 30, "merged");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a")), (Ss{{"a", 0, 30, "merged"}, {"a", 50, 160, "s3"}}));
}

TYPED_TEST(SessionStoreContractTest, SessionsEndingBeforeRetentionExpire) {
  this->put_three();
  this->put("c", 1100, 1100, "late");  // stream time 1100: ends <= 100 expire
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a")), (Ss{{"a", 50, 160, "s3"}}));
  EXPECT_EQ(*this->store().fetch_session("a", 0, 10), std::nullopt);
  this->put("a", 0, 50, "too late");  // ignored
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().fetch("a")), (Ss{{"a", 50, 160, "s3"}}));
}

TYPED_TEST(SessionStoreContractTest, InvalidSessionBoundsAreRejected) {
  EXPECT_EQ(this->store().put("a", 10, 5, "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store().put("a", -1, 5, "x").code(), absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(SessionStoreContractTest, TypedSessionStoreRoundTrips) {
  SessionStore<std::string, int64_t> store(&this->store(), serdes::String(), serdes::Int64());
  ASSERT_TRUE(store.put("user", 0, 40, 3).ok());
  this->harness_.settle();
  auto it = store.find_sessions("user", 30, 60);
  ASSERT_TRUE(it.next());
  EXPECT_EQ(it.key(), "user");
  EXPECT_EQ(it.start(), 0);
  EXPECT_EQ(it.end(), 40);
  EXPECT_EQ(it.value(), 3);
  EXPECT_FALSE(it.next());
  EXPECT_TRUE(it.status().ok());
}

}  // namespace
}  // namespace kstreams::state
