// The key-value store over a transactional table (in-memory or RocksDB committed state).
#pragma once

#include <string>

#include "transactional_store.h"

namespace kstreams::state::internal {

class TableKeyValueStore final : public KeyValueBytesStore, public TransactionalStore {
 public:
  TableKeyValueStore(StoreSpec spec, std::unique_ptr<CommittedTable> table, StoreContext* context)
      : spec_(std::move(spec)), table_(std::move(table)), context_(context) {}

  [[nodiscard]] const std::string& name() const override { return spec_.name; }
  [[nodiscard]] bool persistent() const override { return spec_.persistent; }

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> get(std::string_view key) override;
  [[nodiscard]] absl::Status put(std::string_view key, std::string_view value) override;
  [[nodiscard]] absl::Status put_all(const std::vector<std::pair<std::string, std::string>>& entries) override;
  [[nodiscard]] absl::Status remove(std::string_view key) override;
  [[nodiscard]] std::unique_ptr<KeyValueIterator> range(std::string_view from, std::string_view to) override;
  [[nodiscard]] std::unique_ptr<KeyValueIterator> reverse_range(std::string_view from, std::string_view to) override;
  [[nodiscard]] std::unique_ptr<KeyValueIterator> prefix_scan(std::string_view prefix) override;
  [[nodiscard]] std::unique_ptr<KeyValueIterator> all() override;
  [[nodiscard]] std::unique_ptr<KeyValueIterator> reverse_all() override;
  [[nodiscard]] uint64_t approximate_num_entries() override;

  [[nodiscard]] const StoreSpec& spec() const override { return spec_; }
  [[nodiscard]] TransactionalTable& table() override { return table_; }
  [[nodiscard]] absl::Status restore(const RawRecord& record) override;

 private:
  [[nodiscard]] std::unique_ptr<KeyValueIterator> bounded(std::string_view from, std::string_view to, bool reverse);

  StoreSpec spec_;
  TransactionalTable table_;
  StoreContext* context_;
};

// The committed state of a key-value store, readable from any thread (interactive queries).
[[nodiscard]] std::unique_ptr<ReadOnlyKeyValueStore> make_read_only_key_value_view(CommittedTable* table);

}  // namespace kstreams::state::internal
