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

namespace {

bool range_deleted_in(const PendingWrites& layer, std::string_view key) {
  for (const auto& [b, e] : layer.range_deletes) {
    if (key >= b && key < e) return true;
  }
  return false;
}

// A layer's verdict on a key (as overlay_lookup), nullopt when the layer does not mention it.
std::optional<std::optional<std::string_view>> layer_verdict(const PendingWrites& layer, std::string_view key) {
  if (auto it = layer.writes.find(key); it != layer.writes.end()) {
    if (!it->second) return std::optional<std::string_view>();
    return std::optional<std::string_view>(*it->second);
  }
  if (range_deleted_in(layer, key)) return std::optional<std::string_view>();
  return std::nullopt;
}

}  // namespace

std::optional<std::optional<std::string_view>> TransactionalTable::overlay_lookup(std::string_view key) const {
  if (auto verdict = layer_verdict(pending_, key)) return verdict;
  for (auto layer = sealed_.rbegin(); layer != sealed_.rend(); ++layer) {
    if (auto verdict = layer_verdict(*layer, key)) return verdict;
  }
  return std::nullopt;
}

PendingWrites TransactionalTable::merged_overlay(std::string_view lo, std::optional<std::string_view> hi) const {
  PendingWrites out;
  const auto overlaps = [&](const std::pair<std::string, std::string>& r) {
    return r.second > lo && (!hi || r.first < *hi);
  };
  // Oldest to newest: a layer's range deletes take back the older writes they cover, its writes
  // replace older ones. The range deletes of every layer hide committed keys (MergedIterator).
  const auto fold = [&](const PendingWrites& layer) {
    for (const auto& r : layer.range_deletes) {
      if (!overlaps(r)) continue;
      out.range_deletes.push_back(r);
      out.writes.erase(out.writes.lower_bound(r.first), out.writes.lower_bound(r.second));
    }
    auto first = layer.writes.lower_bound(lo);
    auto last = hi ? layer.writes.lower_bound(*hi) : layer.writes.end();
    for (auto it = first; it != last; ++it) out.writes.insert_or_assign(it->first, it->second);
  };
  for (const PendingWrites& layer : sealed_) fold(layer);
  fold(pending_);
  return out;
}

bool TransactionalTable::has_sealed() const {
  return std::any_of(sealed_.begin(), sealed_.end(), [](const PendingWrites& l) { return !l.empty(); });
}

absl::Status TransactionalTable::seal() {
  if (sealed_.size() >= kMaxSealedLayers) {
    return absl::FailedPreconditionError("seal: " + std::to_string(sealed_.size()) +
                                         " transactions sealed before have not committed or aborted yet");
  }
  sealed_.push_back(std::move(pending_));
  pending_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> TransactionalTable::get(std::string_view key) {
  if (auto verdict = overlay_lookup(key)) {
    if (!*verdict) return std::optional<std::string>();
    return std::optional<std::string>(std::string(**verdict));
  }
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
  std::vector<std::pair<std::string, std::string>> ranges;
  if (!has_sealed()) {
    auto first = pending_.writes.lower_bound(lo);
    auto last = hi ? pending_.writes.lower_bound(*hi) : pending_.writes.end();
    for (auto it = first; it != last; ++it) overlay.emplace_back(it->first, it->second);
    for (const auto& r : pending_.range_deletes) {
      if (r.second > lo && (!hi || r.first < *hi)) ranges.push_back(r);
    }
  } else {
    PendingWrites merged = merged_overlay(lo, hi);
    overlay.reserve(merged.writes.size());
    for (auto& node : merged.writes) overlay.emplace_back(node.first, std::move(node.second));
    ranges = std::move(merged.range_deletes);
  }
  if (reverse) std::reverse(overlay.begin(), overlay.end());
  return std::make_unique<MergedIterator>(std::move(overlay), std::move(ranges), base_->scan(lo, hi, reverse), reverse);
}

absl::StatusOr<std::optional<std::string>> TransactionalTable::first_key(std::string_view lo,
                                                                         std::optional<std::string_view> hi) {
  // Committed side: the first key not hidden by a delete of either layer.
  std::optional<std::string> from_base;
  auto it = base_->scan(lo, hi, /*reverse=*/false);
  for (; it->valid(); it->next()) {
    std::string_view k = it->key();
    auto verdict = overlay_lookup(k);
    if (verdict && !*verdict) continue;
    from_base.emplace(k);
    break;
  }
  KSTREAMS_RETURN_IF_ERROR(it->status());
  // Overlay side: the first put of any layer that no newer layer takes back.
  std::optional<std::string> from_overlay;
  const auto first_live_put = [&](const PendingWrites& layer, bool newest) {
    for (auto w = layer.writes.lower_bound(lo); w != layer.writes.end() && in_range(w->first, lo, hi); ++w) {
      if (from_overlay && w->first >= *from_overlay) break;
      if (!newest) {
        auto verdict = overlay_lookup(w->first);  // a newer layer may have deleted it since
        if (!verdict || !*verdict) continue;
      } else if (!w->second) {
        continue;
      }
      from_overlay.emplace(w->first);
      break;
    }
  };
  first_live_put(pending_, /*newest=*/true);
  for (const PendingWrites& layer : sealed_) first_live_put(layer, /*newest=*/false);
  if (from_overlay && (!from_base || *from_overlay < *from_base)) return from_overlay;
  return from_base;
}

}  // namespace kstreams::state::internal
