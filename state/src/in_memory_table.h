// The committed state of an in-memory store: a sorted map, copy-on-write so that iterators are
// cheap snapshots (an iterator shares the map; a commit while an iterator is open copies it first).
// Thread-safety: get/scan may be called from any thread (interactive queries) concurrently with
// apply() on the owning thread; a mutex guards taking a snapshot and applying a commit.
#pragma once

#include <map>
#include <memory>
#include <mutex>
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
  [[nodiscard]] uint64_t approximate_num_entries() override { return snapshot()->size(); }

  // Applies a commit (cannot fail).
  void apply(const PendingWrites& writes);
  // Bytes held by keys and values (an estimate for memory accounting).
  [[nodiscard]] size_t data_bytes() const { return data_bytes_; }

 private:
  [[nodiscard]] std::shared_ptr<const Map> snapshot() const {
    std::lock_guard lock(mu_);
    return map_;
  }

  mutable std::mutex mu_;
  std::shared_ptr<Map> map_;  // guarded by mu_
  size_t data_bytes_ = 0;
};

}  // namespace kstreams::state::internal
