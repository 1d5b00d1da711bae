// Time segments of window and session stores (Kafka Streams' Segments): entries are stored under
// be64(segment id) || changelog key, so one segment is one key range and expiry drops every
// segment older than `stream time - retention` with a single range delete.
//
// Also keeps the store's metadata (observed stream time, the next duplicate sequence number, the
// segments already dropped) in a reserved key of the same table, so that it commits and aborts
// together with the data.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "transactional_table.h"

namespace kstreams::state::internal {

class Segments {
 public:
  // retention_ms <= 0: nothing expires. segment_interval_ms <= 0: max(retention / 2, 60 s).
  Segments(int64_t retention_ms, int64_t segment_interval_ms);

  // Reads the committed metadata and the existing segments from the committed state.
  [[nodiscard]] absl::Status load(TransactionalTable& table);

  [[nodiscard]] int64_t retention_ms() const { return retention_ms_; }
  [[nodiscard]] int64_t segment_of(int64_t timestamp) const { return timestamp / interval_ms_; }
  [[nodiscard]] TimestampMs stream_time() const { return state_.stream_time; }
  // The smallest timestamp that is not expired.
  [[nodiscard]] int64_t earliest_live() const { return earliest_live_at(state_.stream_time); }
  [[nodiscard]] int64_t earliest_live_at(TimestampMs stream_time) const;

  // Committed-state reads for read-only views (any thread; `table` must be thread-safe to read).
  // The committed observed stream time (kNoTimestamp when none).
  [[nodiscard]] static absl::StatusOr<TimestampMs> committed_stream_time(CommittedTable& table);
  // Segments holding committed data in [first, last], one seek each.
  [[nodiscard]] static absl::StatusOr<std::vector<int64_t>> committed_segments(CommittedTable& table, int64_t first,
                                                                               int64_t last);
  // Raises stream time, then drops segments that expired as a result.
  void observe(TimestampMs timestamp, TransactionalTable& table);
  // Records that `segment` (may) hold data.
  void touch(int64_t segment) { segments_.insert(segment); }
  // Existing segments in [first, last] (a superset: a segment may have become empty).
  [[nodiscard]] std::vector<int64_t> between(int64_t first, int64_t last) const;
  // The next sequence number for retain_duplicates; `seen` raises it past a restored one.
  uint32_t next_seq() { return ++state_.seq; }
  void saw_seq(uint32_t seq) { state_.seq = std::max(state_.seq, seq); }

  // Adds the metadata to the pending writes and remembers it as the state being committed (the
  // writes are sealed right after; the task may go on changing state_ while they commit).
  void prepare_commit(TransactionalTable& table);
  // The oldest sealed state committed (TransactionalTable::clear_sealed took off its layer).
  void on_commit() {
    if (sealed_.empty()) return;
    committed_ = sealed_.front();
    sealed_.pop_front();
    segments_.erase(segments_.begin(), segments_.lower_bound(committed_.dropped_below));
  }
  void on_abort() {
    state_ = committed_;
    sealed_.clear();
  }

 private:
  struct State {
    TimestampMs stream_time = kNoTimestamp;
    uint32_t seq = 0;
    int64_t dropped_below = 0;  // every segment < this was dropped
    bool operator==(const State&) const = default;
  };

  int64_t retention_ms_;
  int64_t interval_ms_;
  State state_;
  std::deque<State> sealed_;  // one per sealed transaction, oldest first
  State committed_;
  std::set<int64_t> segments_;
};

}  // namespace kstreams::state::internal
