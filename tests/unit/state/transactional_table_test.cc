// TransactionalTable's two overlay layers (sealed under pending, commit.pipelined) against a
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
  EXPECT_EQ(table_->seal().code(), absl::StatusCode::kFailedPrecondition);
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

}  // namespace
}  // namespace kstreams::state::internal
