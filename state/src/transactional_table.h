// The transactional core shared by every store implementation.
//
// A CommittedTable is an ordered byte map holding the last committed state (an in-memory map or a
// RocksDB column family). A TransactionalTable puts an overlay of pending writes (puts, deletes and
// range deletes since the last commit) in front of it: reads merge the two, commit applies the
// overlay to the committed table (in one atomic batch with the changelog offsets, see
// ProcessorStateManagerImpl), abort drops it. Not thread-safe: one stream thread.
//
// Sealed layers, so that a task can go on writing while its transactions commit: seal() turns the
// pending writes into a sealed layer (a transaction being committed) and starts an empty pending
// layer for the next one. Up to kMaxSealedLayers are sealed at once: under commit.pipelined the
// next transaction is sealed (and its commit started) before the one that just committed in Kafka
// is applied here. Reads see pending over the sealed layers (newest first) over committed; a commit
// applies only the oldest sealed layer (clear_sealed() afterwards), an abort drops them all.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kstreams/common/status.h"
#include "kstreams/state/store.h"

namespace kstreams::state::internal {

class CommittedTable {
 public:
  enum class Kind { kInMemory, kRocksDB };
  virtual ~CommittedTable() = default;
  [[nodiscard]] virtual Kind kind() const = 0;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> get(std::string_view key) = 0;
  // Keys in [lo, hi) (no upper bound when hi is nullopt), ascending or descending, over a consistent
  // snapshot of the committed state taken now.
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> scan(std::string_view lo, std::optional<std::string_view> hi,
                                                               bool reverse) = 0;
  [[nodiscard]] virtual uint64_t approximate_num_entries() = 0;
};

// Writes buffered since the last commit. Range deletes apply before the point writes (a point write
// made after a range delete removed the overlapping point writes from `writes`).
struct PendingWrites {
  std::map<std::string, std::optional<std::string>, std::less<>> writes;  // nullopt = delete
  std::vector<std::pair<std::string, std::string>> range_deletes;         // [begin, end)
  [[nodiscard]] bool empty() const { return writes.empty() && range_deletes.empty(); }
  void clear() {
    writes.clear();
    range_deletes.clear();
  }
};

class TransactionalTable {
 public:
  explicit TransactionalTable(std::unique_ptr<CommittedTable> base) : base_(std::move(base)) {}

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> get(std::string_view key);
  void put(std::string_view key, std::string_view value);
  void remove(std::string_view key);
  void delete_range(std::string_view begin, std::string_view end);
  // Pending writes over the committed snapshot, keys in [lo, hi). The overlay part is copied, so the
  // iterator is a snapshot of both (later writes are not seen).
  [[nodiscard]] std::unique_ptr<KeyValueIterator> scan(std::string_view lo, std::optional<std::string_view> hi,
                                                       bool reverse);
  // First key in [lo, hi), if any.
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> first_key(std::string_view lo,
                                                                     std::optional<std::string_view> hi);

  static constexpr size_t kMaxSealedLayers = 2;

  [[nodiscard]] CommittedTable& base() { return *base_; }
  [[nodiscard]] const PendingWrites& pending() const { return pending_; }
  [[nodiscard]] bool has_pending() const { return !pending_.empty(); }
  // The oldest sealed layer: the writes the next commit applies (empty when none is sealed).
  [[nodiscard]] const PendingWrites& sealed() const { return sealed_.empty() ? kNoWrites : sealed_.front(); }
  // The sealed layers, oldest first.
  [[nodiscard]] const std::deque<PendingWrites>& sealed_layers() const { return sealed_; }
  // True when some sealed layer holds writes.
  [[nodiscard]] bool has_sealed() const;
  // Moves the pending writes into a new sealed layer, also when they are empty: every seal() is
  // one transaction, and clear_sealed() must take off the layer of the transaction that committed.
  // kFailedPrecondition when kMaxSealedLayers layers are sealed already.
  [[nodiscard]] absl::Status seal();
  // After the oldest sealed layer was applied to the committed table.
  void clear_sealed() {
    if (!sealed_.empty()) sealed_.pop_front();
  }
  // Abort: every layer.
  void clear_all() {
    pending_.clear();
    sealed_.clear();
  }

 private:
  // The overlay's verdict on a key: nullopt = not written in any layer (read the committed table);
  // a value = written; an empty inner optional = deleted.
  [[nodiscard]] std::optional<std::optional<std::string_view>> overlay_lookup(std::string_view key) const;
  // Every layer restricted to [lo, hi) as one PendingWrites (a newer layer wins; older writes
  // inside a newer range delete are gone).
  [[nodiscard]] PendingWrites merged_overlay(std::string_view lo, std::optional<std::string_view> hi) const;

  inline static const PendingWrites kNoWrites{};
  std::unique_ptr<CommittedTable> base_;
  PendingWrites pending_;
  std::deque<PendingWrites> sealed_;  // oldest first
};

// Iterator over a vector of entries it owns (snapshots and materialized results).
class VectorKeyValueIterator final : public KeyValueIterator {
 public:
  explicit VectorKeyValueIterator(std::vector<std::pair<std::string, std::string>> entries)
      : entries_(std::move(entries)) {}
  [[nodiscard]] bool valid() const override { return pos_ < entries_.size(); }
  void next() override { ++pos_; }
  [[nodiscard]] std::string_view key() const override { return entries_[pos_].first; }
  [[nodiscard]] std::string_view value() const override { return entries_[pos_].second; }
  [[nodiscard]] absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  size_t pos_ = 0;
};

}  // namespace kstreams::state::internal
