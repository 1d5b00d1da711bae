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

std::unique_ptr<KeyValueIterator> TableKeyValueStore::bounded(std::string_view from, std::string_view to,
                                                              bool reverse) {
  if (to.empty()) return table_.scan(from, std::nullopt, reverse);
  std::string hi = key_successor(to);  // `to` is inclusive
  if (hi <= from) return std::make_unique<VectorKeyValueIterator>(std::vector<std::pair<std::string, std::string>>{});
  return table_.scan(from, hi, reverse);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::range(std::string_view from, std::string_view to) {
  return bounded(from, to, /*reverse=*/false);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::reverse_range(std::string_view from, std::string_view to) {
  return bounded(from, to, /*reverse=*/true);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::prefix_scan(std::string_view prefix) {
  std::optional<std::string> hi = prefix_successor(prefix);
  if (!hi) return table_.scan(prefix, std::nullopt, /*reverse=*/false);
  return table_.scan(prefix, *hi, /*reverse=*/false);
}

std::unique_ptr<KeyValueIterator> TableKeyValueStore::all() { return table_.scan("", std::nullopt, false); }

std::unique_ptr<KeyValueIterator> TableKeyValueStore::reverse_all() { return table_.scan("", std::nullopt, true); }

uint64_t TableKeyValueStore::approximate_num_entries() {
  uint64_t n = table_.base().approximate_num_entries();
  for (const auto& [key, value] : table_.pending().writes) {
    if (value) ++n;
  }
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
