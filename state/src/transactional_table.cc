#include "transactional_table.h"

#include <algorithm>

namespace kstreams::state::internal {
namespace {

bool in_range(std::string_view key, std::string_view lo, std::optional<std::string_view> hi) {
  return key >= lo && (!hi || key < *hi);
}

// Merges a copied slice of the overlay (in iteration order) with a committed-state iterator. The
// overlay wins on equal keys; overlay deletes and pending range deletes hide committed keys.
class MergedIterator final : public KeyValueIterator {
 public:
  MergedIterator(std::vector<std::pair<std::string, std::optional<std::string>>> overlay,
                 std::vector<std::pair<std::string, std::string>> deleted_ranges,
                 std::unique_ptr<KeyValueIterator> base, bool reverse)
      : overlay_(std::move(overlay)),
        deleted_ranges_(std::move(deleted_ranges)),
        base_(std::move(base)),
        reverse_(reverse) {
    settle();
  }

  [[nodiscard]] bool valid() const override { return current_ != Source::kNone; }
  void next() override {
    if (current_ == Source::kBase) {
      base_->next();
    } else if (current_ == Source::kOverlay) {
      ++pos_;
    }
    settle();
  }
  [[nodiscard]] std::string_view key() const override {
    return current_ == Source::kBase ? base_->key() : std::string_view(overlay_[pos_].first);
  }
  [[nodiscard]] std::string_view value() const override {
    return current_ == Source::kBase ? base_->value() : std::string_view(*overlay_[pos_].second);
  }
  [[nodiscard]] absl::Status status() const override { return base_->status(); }

 private:
  enum class Source { kNone, kBase, kOverlay };

  bool hidden_by_range_delete(std::string_view key) const {
    for (const auto& [b, e] : deleted_ranges_) {
      if (key >= b && key < e) return true;
    }
    return false;
  }

  void settle() {
    for (;;) {
      while (base_->valid() && hidden_by_range_delete(base_->key())) base_->next();
      const bool has_base = base_->valid();
      const bool has_overlay = pos_ < overlay_.size();
      if (!has_base && !has_overlay) {
        current_ = Source::kNone;
        return;
      }
      int order;  // < 0: base first, > 0: overlay first, 0: same key
      if (!has_base) {
        order = 1;
      } else if (!has_overlay) {
        order = -1;
      } else {
        order = base_->key().compare(overlay_[pos_].first);
        if (reverse_) order = -order;
      }
      if (order < 0) {
        current_ = Source::kBase;
        return;
      }
      if (order == 0) base_->next();  // shadowed by the overlay
      if (overlay_[pos_].second.has_value()) {
        current_ = Source::kOverlay;
        return;
      }
      ++pos_;  // a pending delete
    }
  }

  std::vector<std::pair<std::string, std::optional<std::string>>> overlay_;
  std::vector<std::pair<std::string, std::string>> deleted_ranges_;
  std::unique_ptr<KeyValueIterator> base_;
  bool reverse_;
  size_t pos_ = 0;
  Source current_ = Source::kNone;
};

}  // namespace

bool TransactionalTable::range_deleted(std::string_view key) const {
  for (const auto& [b, e] : pending_.range_deletes) {
    if (key >= b && key < e) return true;
  }
  return false;
}

absl::StatusOr<std::optional<std::string>> TransactionalTable::get(std::string_view key) {
  if (auto it = pending_.writes.find(key); it != pending_.writes.end()) return it->second;
  if (range_deleted(key)) return std::optional<std::string>();
  return base_->get(key);
}

void TransactionalTable::put(std::string_view key, std::string_view value) {
  auto it = pending_.writes.find(key);
  if (it == pending_.writes.end()) {
    pending_.writes.emplace(std::string(key), std::string(value));
  } else if (it->second.has_value()) {
    it->second->assign(value.data(), value.size());
  } else {
    it->second.emplace(value);
  }
}

void TransactionalTable::remove(std::string_view key) {
  auto it = pending_.writes.find(key);
  if (it == pending_.writes.end()) {
    pending_.writes.emplace(std::string(key), std::nullopt);
  } else {
    it->second.reset();
  }
}

void TransactionalTable::delete_range(std::string_view begin, std::string_view end) {
  if (begin >= end) return;
  pending_.writes.erase(pending_.writes.lower_bound(begin), pending_.writes.lower_bound(end));
  pending_.range_deletes.emplace_back(std::string(begin), std::string(end));
}

std::unique_ptr<KeyValueIterator> TransactionalTable::scan(std::string_view lo, std::optional<std::string_view> hi,
                                                           bool reverse) {
  if (hi && *hi <= lo)
    return std::make_unique<VectorKeyValueIterator>(std::vector<std::pair<std::string, std::string>>{});
  std::vector<std::pair<std::string, std::optional<std::string>>> overlay;
  auto first = pending_.writes.lower_bound(lo);
  auto last = hi ? pending_.writes.lower_bound(*hi) : pending_.writes.end();
  for (auto it = first; it != last; ++it) overlay.emplace_back(it->first, it->second);
  if (reverse) std::reverse(overlay.begin(), overlay.end());
  std::vector<std::pair<std::string, std::string>> ranges;
  for (const auto& r : pending_.range_deletes) {
    if (r.second > lo && (!hi || r.first < *hi)) ranges.push_back(r);
  }
  return std::make_unique<MergedIterator>(std::move(overlay), std::move(ranges), base_->scan(lo, hi, reverse), reverse);
}

absl::StatusOr<std::optional<std::string>> TransactionalTable::first_key(std::string_view lo,
                                                                         std::optional<std::string_view> hi) {
  // Committed side: the first key not hidden by a pending delete.
  std::optional<std::string> from_base;
  auto it = base_->scan(lo, hi, /*reverse=*/false);
  for (; it->valid(); it->next()) {
    std::string_view k = it->key();
    if (range_deleted(k)) continue;
    auto w = pending_.writes.find(k);
    if (w != pending_.writes.end() && !w->second) continue;
    from_base.emplace(k);
    break;
  }
  KSTREAMS_RETURN_IF_ERROR(it->status());
  // Overlay side: the first pending put.
  for (auto w = pending_.writes.lower_bound(lo); w != pending_.writes.end() && in_range(w->first, lo, hi); ++w) {
    if (!w->second) continue;
    if (!from_base || w->first < *from_base) return std::optional<std::string>(w->first);
    break;
  }
  return from_base;
}

}  // namespace kstreams::state::internal
