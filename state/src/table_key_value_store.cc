#include "table_key_value_store.h"

#include "key_codec.h"

namespace kstreams::state::internal {

absl::StatusOr<std::optional<std::string>> TableKeyValueStore::get(std::string_view key) { return table_.get(key); }

absl::Status TableKeyValueStore::put(std::string_view key, std::string_view value) {
  table_.put(key, value);
  if (spec_.logging && context_->changelog != nullptr) {
    context_->changelog->append(spec_.name, key, value, context_->record_timestamp);
  }
  return absl::OkStatus();
}

absl::Status TableKeyValueStore::put_all(const std::vector<std::pair<std::string, std::string>>& entries) {
  for (const auto& [key, value] : entries) KSTREAMS_RETURN_IF_ERROR(put(key, value));
  return absl::OkStatus();
}

absl::Status TableKeyValueStore::remove(std::string_view key) {
  table_.remove(key);
  if (spec_.logging && context_->changelog != nullptr) {
    context_->changelog->append(spec_.name, key, std::nullopt, context_->record_timestamp);
  }
  return absl::OkStatus();
}

namespace {

// [from, to] inclusive (empty `to`: unbounded) as a scan of [from, successor(to)).
template <typename Table>
std::unique_ptr<KeyValueIterator> inclusive_scan(Table& table, std::string_view from, std::string_view to,
                                                 bool reverse) {
  if (to.empty()) return table.scan(from, std::nullopt, reverse);
  std::string hi = key_successor(to);
  if (std::string_view(hi).compare(from) <= 0)
    return std::make_unique<VectorKeyValueIterator>(std::vector<std::pair<std::string, std::string>>{});
  return table.scan(from, std::optional<std::string_view>(hi), reverse);
}

template <typename Table>
std::unique_ptr<KeyValueIterator> prefix_scan_of(Table& table, std::string_view prefix) {
  std::optional<std::string> hi = prefix_successor(prefix);
  if (!hi) return table.scan(prefix, std::nullopt, /*reverse=*/false);
  return table.scan(prefix, std::optional<std::string_view>(*hi), /*reverse=*/false);
}

class ReadOnlyKeyValueView final : public ReadOnlyKeyValueStore {
 public:
  explicit ReadOnlyKeyValueView(CommittedTable* table) : table_(table) {}
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return table_->get(key);
  }
  [[nodiscard]] std::unique_ptr<KeyValueIterator> range(std::string_view from, std::string_view to) override {
    return inclusive_scan(*table_, from, to, false);
  }
  [[nodiscard]] std::unique_ptr<KeyValueIterator> reverse_range(std::string_view from, std::string_view to) override {
    return inclusive_scan(*table_, from, to, true);
  }
  [[nodiscard]] std::unique_ptr<KeyValueIterator> prefix_scan(std::string_view prefix) override {
    return prefix_scan_of(*table_, prefix);
  }
  [[nodiscard]] std::unique_ptr<KeyValueIterator> all() override { return table_->scan("", std::nullopt, false); }
  [[nodiscard]] uint64_t approximate_num_entries() override { return table_->approximate_num_entries(); }

 private:
  CommittedTable* const table_;
};

}  // namespace

std::unique_ptr<ReadOnlyKeyValueStore> make_read_only_key_value_view(CommittedTable* table) {
  return std::make_unique<ReadOnlyKeyValueView>(table);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::bounded(std::string_view from, std::string_view to,
                                                              bool reverse) {
  return inclusive_scan(table_, from, to, reverse);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::range(std::string_view from, std::string_view to) {
  return bounded(from, to, /*reverse=*/false);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::reverse_range(std::string_view from, std::string_view to) {
  return bounded(from, to, /*reverse=*/true);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::prefix_scan(std::string_view prefix) {
  return prefix_scan_of(table_, prefix);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::all() { return table_.scan("", std::nullopt, false); }

std::unique_ptr<KeyValueIterator> TableKeyValueStore::reverse_all() { return table_.scan("", std::nullopt, true); }

uint64_t TableKeyValueStore::approximate_num_entries() {
  uint64_t n = table_.base().approximate_num_entries();
  const auto count_puts = [&n](const PendingWrites& layer) {
    for (const auto& [key, value] : layer.writes) {
      if (value) ++n;
    }
  };
  for (const PendingWrites& layer : table_.sealed_layers()) count_puts(layer);
  count_puts(table_.pending());
  return n;
}

absl::Status TableKeyValueStore::restore(const RawRecord& record) {
  if (!record.key) return absl::DataLossError("changelog record of a key-value store has a null key");
  if (record.value) {
    table_.put(*record.key, *record.value);
  } else {
    table_.remove(*record.key);
  }
  return absl::OkStatus();
}

}  // namespace kstreams::state::internal
