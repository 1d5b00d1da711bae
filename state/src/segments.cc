#include "segments.h"

#include <algorithm>
#include <limits>

#include "key_codec.h"

namespace kstreams::state::internal {

Segments::Segments(int64_t retention_ms, int64_t segment_interval_ms)
    : retention_ms_(retention_ms),
      interval_ms_(segment_interval_ms > 0 ? segment_interval_ms : std::max<int64_t>(retention_ms / 2, 60'000)) {}

absl::Status Segments::load(TransactionalTable& table) {
  KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> meta, table.get(metadata_key()));
  if (meta) {
    if (meta->size() != 20) return absl::DataLossError("segmented store metadata has an unexpected size");
    state_.stream_time = static_cast<int64_t>(read_be64(meta->data()));
    state_.seq = read_be32(meta->data() + 8);
    state_.dropped_below = static_cast<int64_t>(read_be64(meta->data() + 12));
  }
  committed_ = state_;
  sealed_.clear();
  // Discover the existing segments: one seek per segment.
  const std::string meta_key = metadata_key();
  int64_t next = state_.dropped_below;
  for (;;) {
    KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> key, table.first_key(segment_prefix(next), meta_key));
    if (!key) break;
    if (key->size() < kSegmentPrefixSize) return absl::DataLossError("segmented store key without segment prefix");
    int64_t segment = static_cast<int64_t>(read_be64(key->data()));
    segments_.insert(segment);
    next = segment + 1;
  }
  return absl::OkStatus();
}

int64_t Segments::earliest_live_at(TimestampMs stream_time) const {
  if (retention_ms_ <= 0 || stream_time == kNoTimestamp) return 0;
  return std::max<int64_t>(0, stream_time - retention_ms_ + 1);
}

absl::StatusOr<TimestampMs> Segments::committed_stream_time(CommittedTable& table) {
  KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> meta, table.get(metadata_key()));
  if (!meta) return kNoTimestamp;
  if (meta->size() != 20) return absl::DataLossError("segmented store metadata has an unexpected size");
  return static_cast<TimestampMs>(read_be64(meta->data()));
}

absl::StatusOr<std::vector<int64_t>> Segments::committed_segments(CommittedTable& table, int64_t first, int64_t last) {
  std::vector<int64_t> out;
  const std::string end = last < std::numeric_limits<int64_t>::max() ? segment_prefix(last + 1) : metadata_key();
  int64_t next = first;
  while (next <= last) {
    auto it = table.scan(segment_prefix(next), std::string_view(end), /*reverse=*/false);
    if (!it->valid()) {
      KSTREAMS_RETURN_IF_ERROR(it->status());
      break;
    }
    if (it->key().size() < kSegmentPrefixSize) return absl::DataLossError("segmented store key without segment prefix");
    const int64_t segment = static_cast<int64_t>(read_be64(it->key().data()));
    out.push_back(segment);
    if (segment == std::numeric_limits<int64_t>::max()) break;
    next = segment + 1;
  }
  return out;
}

void Segments::observe(TimestampMs timestamp, TransactionalTable& table) {
  if (timestamp <= state_.stream_time) return;
  state_.stream_time = timestamp;
  const int64_t first_live = segment_of(earliest_live());
  if (first_live <= state_.dropped_below) return;
  table.delete_range(segment_prefix(0), segment_prefix(first_live));
  state_.dropped_below = first_live;  // segments_ keeps them until the drop commits (abort restores them)
}

std::vector<int64_t> Segments::between(int64_t first, int64_t last) const {
  std::vector<int64_t> out;
  for (auto it = segments_.lower_bound(first); it != segments_.end() && *it <= last; ++it) out.push_back(*it);
  return out;
}

void Segments::prepare_commit(TransactionalTable& table) {
  const State last_written = sealed_.empty() ? committed_ : sealed_.back();
  sealed_.push_back(state_);
  if (state_ == last_written) return;
  std::string meta;
  append_be64(&meta, static_cast<uint64_t>(state_.stream_time));
  append_be32(&meta, state_.seq);
  append_be64(&meta, static_cast<uint64_t>(state_.dropped_below));
  table.put(metadata_key(), meta);
}

}  // namespace kstreams::state::internal
