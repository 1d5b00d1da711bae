// The key-value store contract, run against every implementation (Kafka's AbstractKeyValueStoreTest).
#include <gtest/gtest.h>

#include "kstreams/common/serde.h"
#include "kstreams/state/typed_store.h"
#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::ImplementationNames;
using testing::StoreHarness;
using testing::StoreImplementations;
using Entries = std::vector<std::pair<std::string, std::string>>;

Entries drain(std::unique_ptr<KeyValueIterator> it) {
  Entries out;
  for (; it->valid(); it->next()) out.emplace_back(std::string(it->key()), std::string(it->value()));
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

StoreSpec kv_spec() {
  StoreSpec spec;
  spec.name = "kv";
  spec.type = StoreType::kKeyValue;
  return spec;
}

template <typename Impl>
class KeyValueStoreContractTest : public ::testing::Test {
 protected:
  KeyValueStoreContractTest() : harness_(kv_spec()) {}
  KeyValueBytesStore& store() { return *harness_.manager().key_value_store("kv"); }
  void put(const std::string& k, const std::string& v) { ASSERT_TRUE(store().put(k, v).ok()); }
  void put_letters() {
    for (std::string k : {"a", "b", "c", "d", "e"}) put(k, "v" + k);
    harness_.settle();
  }
  std::optional<std::string> get(const std::string& k) {
    auto r = store().get(k);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::nullopt;
  }
  StoreHarness<Impl> harness_;
};
TYPED_TEST_SUITE(KeyValueStoreContractTest, StoreImplementations, ImplementationNames);

TYPED_TEST(KeyValueStoreContractTest, GetReturnsWhatWasPutAndNothingForAbsentKeys) {
  this->put("k", "v");
  this->harness_.settle();
  EXPECT_EQ(this->get("k"), "v");
  EXPECT_EQ(this->get("absent"), std::nullopt);
}

TYPED_TEST(KeyValueStoreContractTest, PutOverwritesTheValue) {
  this->put("k", "v1");
  this->harness_.settle();
  this->put("k", "v2");
  this->harness_.settle();
  EXPECT_EQ(this->get("k"), "v2");
  EXPECT_EQ(drain(this->store().all()), (Entries{{"k", "v2"}}));
}

TYPED_TEST(KeyValueStoreContractTest, EmptyValueIsStoredAndDistinctFromAbsent) {
  this->put("k", "");
  this->harness_.settle();
  EXPECT_EQ(this->get("k"), std::string());
}

TYPED_TEST(KeyValueStoreContractTest, RemoveDeletesAndRemovingAnAbsentKeyIsNotAnError) {
  this->put_letters();
  ASSERT_TRUE(this->store().remove("b").ok());
  ASSERT_TRUE(this->store().remove("zz").ok());
  this->harness_.settle();
  EXPECT_EQ(this->get("b"), std::nullopt);
  EXPECT_EQ(drain(this->store().all()), (Entries{{"a", "va"}, {"c", "vc"}, {"d", "vd"}, {"e", "ve"}}));
}

TYPED_TEST(KeyValueStoreContractTest, PutAllWritesEveryEntry) {
  ASSERT_TRUE(this->store().put_all({{"x", "1"}, {"y", "2"}}).ok());
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().all()), (Entries{{"x", "1"}, {"y", "2"}}));
}

TYPED_TEST(KeyValueStoreContractTest, RangeIsInclusiveAtBothEnds) {
  this->put_letters();
  EXPECT_EQ(drain(this->store().range("b", "d")), (Entries{{"b", "vb"}, {"c", "vc"}, {"d", "vd"}}));
}

TYPED_TEST(KeyValueStoreContractTest, RangeBoundsNeedNotExist) {
  this->put_letters();
  EXPECT_EQ(drain(this->store().range("bb", "dd")), (Entries{{"c", "vc"}, {"d", "vd"}}));
}

TYPED_TEST(KeyValueStoreContractTest, EmptyToMeansNoUpperBound) {
  this->put_letters();
  EXPECT_EQ(drain(this->store().range("d", "")), (Entries{{"d", "vd"}, {"e", "ve"}}));
  EXPECT_EQ(drain(this->store().reverse_range("d", "")), (Entries{{"e", "ve"}, {"d", "vd"}}));
}

TYPED_TEST(KeyValueStoreContractTest, RangeWithFromAfterToIsEmpty) {
  this->put_letters();
  EXPECT_TRUE(drain(this->store().range("d", "b")).empty());
  EXPECT_TRUE(drain(this->store().reverse_range("d", "b")).empty());
}

TYPED_TEST(KeyValueStoreContractTest, ReverseRangeIsDescendingAndInclusive) {
  this->put_letters();
  EXPECT_EQ(drain(this->store().reverse_range("b", "d")), (Entries{{"d", "vd"}, {"c", "vc"}, {"b", "vb"}}));
}

TYPED_TEST(KeyValueStoreContractTest, AllAndReverseAllCoverEveryKeyInByteOrder) {
  this->put("\xff", "high");
  this->put("\x01", "low");
  this->put("m", "mid");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().all()), (Entries{{"\x01", "low"}, {"m", "mid"}, {"\xff", "high"}}));
  EXPECT_EQ(drain(this->store().reverse_all()), (Entries{{"\xff", "high"}, {"m", "mid"}, {"\x01", "low"}}));
}

TYPED_TEST(KeyValueStoreContractTest, PrefixScanReturnsExactlyTheKeysWithThePrefix) {
  for (std::string k : {"ab", "abc", "abd", "ac", "a", "b"}) this->put(k, k);
  this->put("ab\xff", "ff");
  this->put("\xff\xff", "all-ones");
  this->harness_.settle();
  EXPECT_EQ(drain(this->store().prefix_scan("ab")),
            (Entries{{"ab", "ab"}, {"abc", "abc"}, {"abd", "abd"}, {"ab\xff", "ff"}}));
  EXPECT_EQ(drain(this->store().prefix_scan("\xff")), (Entries{{"\xff\xff", "all-ones"}}));
  EXPECT_EQ(drain(this->store().prefix_scan("zz")), Entries{});
}

TYPED_TEST(KeyValueStoreContractTest, ReadsMergeCommittedAndPendingWrites) {
  this->put_letters();
  ASSERT_TRUE(this->harness_.manager().commit({}).ok());
  this->put("c", "new");
  ASSERT_TRUE(this->store().remove("d").ok());
  this->put("bb", "added");
  EXPECT_EQ(drain(this->store().range("b", "e")), (Entries{{"b", "vb"}, {"bb", "added"}, {"c", "new"}, {"e", "ve"}}));
  EXPECT_EQ(drain(this->store().reverse_range("b", "e")),
            (Entries{{"e", "ve"}, {"c", "new"}, {"bb", "added"}, {"b", "vb"}}));
}

TYPED_TEST(KeyValueStoreContractTest, IteratorIsASnapshotUnaffectedByLaterWrites) {
  this->put_letters();
  auto it = this->store().all();
  this->put("aa", "later");
  ASSERT_TRUE(this->store().remove("e").ok());
  EXPECT_EQ(drain(std::move(it)), (Entries{{"a", "va"}, {"b", "vb"}, {"c", "vc"}, {"d", "vd"}, {"e", "ve"}}));
}

TYPED_TEST(KeyValueStoreContractTest, ApproximateNumEntriesCountsLiveKeys) {
  this->put_letters();
  // RocksDB's estimate is approximate; in-memory is exact. Both must see the five keys.
  EXPECT_GE(this->store().approximate_num_entries(), 5u);
}

TYPED_TEST(KeyValueStoreContractTest, EveryWriteIsLoggedWithTheRecordTimestamp) {
  this->harness_.manager().set_record_timestamp(42);
  this->put("k", "v");
  ASSERT_TRUE(this->store().remove("k").ok());
  const auto& log = this->harness_.changelog().records("kv");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].key, "k");
  EXPECT_EQ(log[0].value, "v");
  EXPECT_EQ(log[0].timestamp, 42);
  EXPECT_EQ(log[1].key, "k");
  EXPECT_FALSE(log[1].value.has_value());
}

TYPED_TEST(KeyValueStoreContractTest, TypedStoreRoundTripsThroughSerdes) {
  KeyValueStore<std::string, int64_t> counts(&this->store(), serdes::String(), serdes::Int64());
  ASSERT_TRUE(counts.put("apple", 3).ok());
  ASSERT_TRUE(counts.put("banana", 5).ok());
  ASSERT_TRUE(counts.put("cherry", 7).ok());
  this->harness_.settle();
  auto apple = counts.get("apple");
  ASSERT_TRUE(apple.ok());
  EXPECT_EQ(*apple, 3);
  auto it = counts.range("b", "");
  std::vector<std::pair<std::string, int64_t>> seen;
  while (it.next()) seen.emplace_back(it.key(), it.value());
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int64_t>>{{"banana", 5}, {"cherry", 7}}));
}

TYPED_TEST(KeyValueStoreContractTest, TypedIteratorStopsWithDataLossOnAnUndecodableValue) {
  ASSERT_TRUE(this->store().put("bad", "xyz").ok());  // 3 bytes is not an int64
  this->harness_.settle();
  KeyValueStore<std::string, int64_t> counts(&this->store(), serdes::String(), serdes::Int64());
  auto it = counts.all();
  EXPECT_FALSE(it.next());
  EXPECT_EQ(it.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(counts.get("bad").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kstreams::state
