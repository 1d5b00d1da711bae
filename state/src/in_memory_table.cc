#include "in_memory_table.h"

#include <iterator>

namespace kstreams::state::internal {
namespace {

template <typename It>
class MapRangeIterator final : public KeyValueIterator {
 public:
  MapRangeIterator(std::shared_ptr<const InMemoryTable::Map> map, It first, It last)
      : map_(std::move(map)), it_(first), last_(last) {}
  [[nodiscard]] bool valid() const override { return it_ != last_; }
  void next() override { ++it_; }
  [[nodiscard]] std::string_view key() const override { return it_->first; }
  [[nodiscard]] std::string_view value() const override { return it_->second; }
  [[nodiscard]] absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::shared_ptr<const InMemoryTable::Map> map_;  // keeps the snapshot alive
  It it_;
  It last_;
};

}  // namespace

absl::StatusOr<std::optional<std::string>> InMemoryTable::get(std::string_view key) {
  std::shared_ptr<const Map> map = snapshot();
  auto it = map->find(key);
  if (it == map->end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

std::unique_ptr<KeyValueIterator> InMemoryTable::scan(std::string_view lo, std::optional<std::string_view> hi,
                                                      bool reverse) {
  std::shared_ptr<const Map> snapshot = this->snapshot();
  auto first = snapshot->lower_bound(lo);
  auto last = hi ? snapshot->lower_bound(*hi) : snapshot->end();
  if (hi && *hi <= lo) last = first;
  if (!reverse) return std::make_unique<MapRangeIterator<Map::const_iterator>>(snapshot, first, last);
  using Rev = std::reverse_iterator<Map::const_iterator>;
  return std::make_unique<MapRangeIterator<Rev>>(snapshot, Rev(last), Rev(first));
}

void InMemoryTable::apply(const PendingWrites& writes) {
  if (writes.empty()) return;
  std::lock_guard lock(mu_);
  if (map_.use_count() > 1) map_ = std::make_shared<Map>(*map_);  // an iterator holds the old snapshot
  Map& m = *map_;
  for (const auto& [begin, end] : writes.range_deletes) {
    auto first = m.lower_bound(begin);
    auto last = m.lower_bound(end);
    for (auto it = first; it != last; ++it) data_bytes_ -= it->first.size() + it->second.size();
    m.erase(first, last);
  }
  for (const auto& [key, value] : writes.writes) {
    auto it = m.find(key);
    if (value) {
      if (it == m.end()) {
        m.emplace(key, *value);
        data_bytes_ += key.size() + value->size();
      } else {
        data_bytes_ += value->size() - it->second.size();
        it->second = *value;
      }
    } else if (it != m.end()) {
      data_bytes_ -= key.size() + it->second.size();
      m.erase(it);
    }
  }
}

}  // namespace kstreams::state::internal
