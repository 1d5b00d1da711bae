// TransactionalTable's overlay layers (sealed ones under pending, commit.pipelined) against a
// committed table: point reads, scans and first_key must agree on which layer wins.
#include "transactional_table.h"

#include <gtest/gtest.h>

#include "in_memory_table.h"

namespace kstreams::state::internal {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries all(TransactionalTable& t, bool reverse = false) {
  Entries out;
  for (auto it = t.scan("", std::nullopt, reverse); it->valid(); it->next()) out.emplace_back(it->key(), it->value());
  return out;
}

// Committed: b=1, d=1, f=1. Sealed: a put, b deleted, e put, [f, g) range-deleted. Pending: a
// deleted, c put, e overwritten, [d, e) range-deleted.
class TwoLayerTableTest : public ::testing::Test {
 protected:
  TwoLayerTableTest() {
    auto base = std::make_unique<InMemoryTable>();
    PendingWrites committed;
    for (const char* k : {"b", "d", "f"}) committed.writes.emplace(k, "1");
    base->apply(committed);
    table_ = std::make_unique<TransactionalTable>(std::move(base));
    table_->put("a", "sealed");
    table_->remove("b");
    table_->put("e", "sealed");
    table_->delete_range("f", "g");
    EXPECT_TRUE(table_->seal().ok());
    table_->remove("a");
    table_->put("c", "pending");
    table_->put("e", "pending");
    table_->delete_range("d", "e");
  }
  std::optional<std::string> get(std::string_view k) { return *table_->get(k); }
  std::unique_ptr<TransactionalTable> table_;
};

TEST_F(TwoLayerTableTest, PointReadsTakeThePendingLayerThenTheSealedOneThenTheCommittedTable) {
  EXPECT_EQ(get("a"), std::nullopt);  // sealed put, pending delete
  EXPECT_EQ(get("b"), std::nullopt);  // committed, sealed delete
  EXPECT_EQ(get("c"), "pending");
  EXPECT_EQ(get("d"), std::nullopt);  // committed, pending range delete
  EXPECT_EQ(get("e"), "pending");     // sealed put overwritten
  EXPECT_EQ(get("f"), std::nullopt);  // committed, sealed range delete
  EXPECT_EQ(get("z"), std::nullopt);
}

TEST_F(TwoLayerTableTest, ScansAndFirstKeyAgreeWithPointReads) {
  EXPECT_EQ(all(*table_), (Entries{{"c", "pending"}, {"e", "pending"}}));
  EXPECT_EQ(all(*table_, true), (Entries{{"e", "pending"}, {"c", "pending"}}));
  EXPECT_EQ(*table_->first_key("", std::nullopt), "c");
  EXPECT_EQ(*table_->first_key("d", std::nullopt), "e");
  EXPECT_EQ(*table_->first_key("a", "c"), std::nullopt);  // a and b are deleted in some layer
  EXPECT_EQ(*table_->first_key("f", std::nullopt), std::nullopt);
}

TEST_F(TwoLayerTableTest, CommittingTheSealedLayerLeavesThePendingOneOnTop) {
  static_cast<InMemoryTable&>(table_->base()).apply(table_->sealed());
  table_->clear_sealed();
  EXPECT_EQ(*table_->base().get("a"), "sealed");
  EXPECT_EQ(*table_->base().get("f"), std::nullopt);
  EXPECT_EQ(all(*table_), (Entries{{"c", "pending"}, {"e", "pending"}}));
  EXPECT_EQ(*table_->first_key("", std::nullopt), "c");
  table_->clear_all();  // abort of the next transaction: the committed state shows through
  EXPECT_EQ(all(*table_), (Entries{{"a", "sealed"}, {"d", "1"}, {"e", "sealed"}}));
  EXPECT_EQ(*table_->first_key("", std::nullopt), "a");
}

// Two sealed transactions (the next one sealed before the last one is applied) and a pending
// layer. Committed: b, d, f. Sealed 1: a and e put, b deleted, [f, g) range-deleted. Sealed 2: a
// deleted, c put, [d, e) range-deleted. Pending: a and g put, c deleted.
class ThreeLayerTableTest : public ::testing::Test {
 protected:
  ThreeLayerTableTest() {
    auto base = std::make_unique<InMemoryTable>();
    PendingWrites committed;
    for (const char* k : {"b", "d", "f"}) committed.writes.emplace(k, "c");
    base->apply(committed);
    table_ = std::make_unique<TransactionalTable>(std::move(base));
    table_->put("a", "s1");
    table_->remove("b");
    table_->put("e", "s1");
    table_->delete_range("f", "g");
    EXPECT_TRUE(table_->seal().ok());
    table_->remove("a");
    table_->put("c", "s2");
    table_->delete_range("d", "e");
    EXPECT_TRUE(table_->seal().ok());
    table_->put("a", "p");
    table_->put("g", "p");
    table_->remove("c");
  }
  std::optional<std::string> get(std::string_view k) { return *table_->get(k); }
  std::unique_ptr<TransactionalTable> table_;
};

TEST_F(ThreeLayerTableTest, ReadsTakeTheNewestLayerThatMentionsTheKey) {
  EXPECT_EQ(get("a"), "p");           // s1 put, s2 delete, pending put
  EXPECT_EQ(get("b"), std::nullopt);  // committed, s1 delete
  EXPECT_EQ(get("c"), std::nullopt);  // s2 put, pending delete
  EXPECT_EQ(get("d"), std::nullopt);  // committed, s2 range delete
  EXPECT_EQ(get("e"), "s1");          // s1 put, outside s2's range delete [d, e)
  EXPECT_EQ(get("f"), std::nullopt);  // committed, s1 range delete
  EXPECT_EQ(get("g"), "p");
  EXPECT_EQ(all(*table_), (Entries{{"a", "p"}, {"e", "s1"}, {"g", "p"}}));
  EXPECT_EQ(all(*table_, true), (Entries{{"g", "p"}, {"e", "s1"}, {"a", "p"}}));
  EXPECT_EQ(*table_->first_key("", std::nullopt), "a");
  EXPECT_EQ(*table_->first_key("b", std::nullopt), "e");
  EXPECT_EQ(*table_->first_key("b", "e"), std::nullopt);
  EXPECT_EQ(*table_->first_key("f", std::nullopt), "g");
}

TEST_F(ThreeLayerTableTest, AThirdSealIsRefusedAndCommitsApplyTheOldestLayerFirst) {
  EXPECT_EQ(table_->seal().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(table_->sealed_layers().size(), 2u);
  EXPECT_EQ(get("a"), "p");  // the refused seal changed nothing
  static_cast<InMemoryTable&>(table_->base()).apply(table_->sealed());
  table_->clear_sealed();
  EXPECT_EQ(*table_->base().get("a"), "s1");  // sealed 1 only: sealed 2's delete is not applied
  EXPECT_EQ(*table_->base().get("d"), "c");
  EXPECT_EQ(*table_->base().get("f"), std::nullopt);
  EXPECT_EQ(all(*table_), (Entries{{"a", "p"}, {"e", "s1"}, {"g", "p"}}));  // reads unchanged
  table_->clear_all();  // the next transactions abort: sealed 1 shows through
  EXPECT_EQ(all(*table_), (Entries{{"a", "s1"}, {"d", "c"}, {"e", "s1"}}));
}

TEST(SealedLayerTest, AnEmptySealIsATransactionOfItsOwn) {
  TransactionalTable table(std::make_unique<InMemoryTable>());
  ASSERT_TRUE(table.seal().ok());  // a transaction that wrote nothing
  EXPECT_FALSE(table.has_sealed());
  EXPECT_EQ(table.sealed_layers().size(), 1u);
  table.put("k", "next");
  ASSERT_TRUE(table.seal().ok());
  EXPECT_TRUE(table.has_sealed());
  // Committing the empty transaction must not apply the next one's write.
  EXPECT_TRUE(table.sealed().empty());
  static_cast<InMemoryTable&>(table.base()).apply(table.sealed());
  table.clear_sealed();
  EXPECT_EQ(*table.base().get("k"), std::nullopt);
  EXPECT_EQ(*table.get("k"), "next");
  EXPECT_EQ(table.sealed().writes.size(), 1u);
}

}  // namespace
}  // namespace kstreams::state::internal
