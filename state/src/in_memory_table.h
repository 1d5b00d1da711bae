// The committed state of an in-memory store: a sorted map, copy-on-write so that iterators are
// cheap snapshots (an iterator shares the map; a commit while an iterator is open copies it first).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "transactional_table.h"

namespace kstreams::state::internal {

class InMemoryTable final : public CommittedTable {
 public:
  using Map = std::map<std::string, std::string, std::less<>>;

  InMemoryTable() : map_(std::make_shared<Map>()) {}
  [[nodiscard]] Kind kind() const override { return Kind::kInMemory; }
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> get(std::string_view key) override;
  [[nodiscard]] std::unique_ptr<KeyValueIterator> scan(std::string_view lo, std::optional<std::string_view> hi,
                                                       bool reverse) override;
  [[nodiscard]] uint64_t approximate_num_entries() override { return map_->size(); }

  // Applies a commit (cannot fail).
  void apply(const PendingWrites& writes);
  // Bytes held by keys and values (an estimate for memory accounting).
  [[nodiscard]] size_t data_bytes() const { return data_bytes_; }

 private:
  std::shared_ptr<Map> map_;
  size_t data_bytes_ = 0;
};

}  // namespace kstreams::state::internal
