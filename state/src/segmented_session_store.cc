#include "segmented_session_store.h"

#include <algorithm>
#include <limits>

#include "key_codec.h"

namespace kstreams::state::internal {
namespace {

class VectorSessionIterator final : public SessionIterator {
 public:
  VectorSessionIterator(std::vector<SessionEntry> entries, absl::Status status)
      : entries_(std::move(entries)), status_(std::move(status)) {}
  [[nodiscard]] bool valid() const override { return pos_ < entries_.size(); }
  void next() override { ++pos_; }
  [[nodiscard]] const SessionEntry& entry() const override { return entries_[pos_]; }
  [[nodiscard]] absl::Status status() const override { return status_; }

 private:
  std::vector<SessionEntry> entries_;
  absl::Status status_;
  size_t pos_ = 0;
};

constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// Sessions with end >= earliest_end (already clamped to the live range) and start <= latest_start
// from `segments`, of `key` (every key when nullopt), ordered by (end, key, start).
template <typename Scan>
std::unique_ptr<SessionIterator> collect_sessions(Scan&& scan, const std::vector<int64_t>& segments,
                                                  const std::string& store, std::optional<std::string_view> key,
                                                  TimestampMs earliest_end, TimestampMs latest_start) {
  std::vector<SessionEntry> entries;
  absl::Status status;
  for (int64_t segment : segments) {
    std::string lo = segment_prefix(segment);
    std::string hi;
    if (key) {
      lo.append(*key);
      append_be64(&lo, static_cast<uint64_t>(earliest_end));
      hi = segment_prefix(segment);
      hi.append(*key);
      hi.append(kSessionSuffixSize, '\xff');
      hi.push_back('\0');
    } else {
      hi = segment_prefix(segment + 1);
    }
    auto it = scan(lo, hi);
    for (; it->valid(); it->next()) {
      SessionKey k;
      if (!decode_session_key(it->key().substr(kSegmentPrefixSize), &k)) {
        status = absl::DataLossError("store " + store + " holds an undecodable session key");
        break;
      }
      if (key && k.key != *key) continue;
      if (k.end < earliest_end || k.start > latest_start) continue;
      entries.push_back(SessionEntry{std::string(k.key), k.start, k.end, std::string(it->value())});
    }
    if (status.ok()) status = it->status();
    if (!status.ok()) break;
  }
  std::sort(entries.begin(), entries.end(), [](const SessionEntry& a, const SessionEntry& b) {
    if (a.end != b.end) return a.end < b.end;
    if (a.key != b.key) return a.key < b.key;
    return a.start < b.start;
  });
  return std::make_unique<VectorSessionIterator>(std::move(entries), std::move(status));
}

}  // namespace

SegmentedSessionStore::SegmentedSessionStore(StoreSpec spec, std::unique_ptr<CommittedTable> table,
                                             StoreContext* context)
    : spec_(std::move(spec)),
      table_(std::move(table)),
      context_(context),
      segments_(spec_.retention_ms, spec_.segment_interval_ms) {}

void SegmentedSessionStore::apply(std::string_view changelog_key, int64_t end, std::optional<std::string_view> value) {
  const int64_t segment = segments_.segment_of(end);
  scratch_.clear();
  append_segment(&scratch_, segment);
  scratch_.append(changelog_key);
  if (value) {
    table_.put(scratch_, *value);
    segments_.touch(segment);
  } else {
    table_.remove(scratch_);
  }
}

absl::Status SegmentedSessionStore::write(std::string_view key, TimestampMs start, TimestampMs end,
                                          std::optional<std::string_view> value) {
  if (start < 0 || end < start) {
    return absl::InvalidArgumentError("session [" + std::to_string(start) + ", " + std::to_string(end) +
                                      "] is invalid in store " + spec_.name + " (need 0 <= start <= end)");
  }
  segments_.observe(end, table_);
  if (end < segments_.earliest_live()) {  // expired: ignored, not logged
    context_->probe->record_expired_write(spec_.name);
    return absl::OkStatus();
  }
  std::string& changelog_key = changelog_key_;  // reused: no allocation once warm
  changelog_key.clear();
  encode_session_key(key, start, end, &changelog_key);
  apply(changelog_key, end, value);
  if (spec_.logging && context_->changelog != nullptr) {
    context_->changelog->append(spec_.name, changelog_key, value, context_->record_timestamp);
  }
  return absl::OkStatus();
}

absl::Status SegmentedSessionStore::put(std::string_view key, TimestampMs start, TimestampMs end,
                                        std::string_view value) {
  return write(key, start, end, value);
}

absl::Status SegmentedSessionStore::remove(std::string_view key, TimestampMs start, TimestampMs end) {
  return write(key, start, end, std::nullopt);
}

absl::Status SegmentedSessionStore::restore(const RawRecord& record) {
  SessionKey decoded;
  if (!record.key || !decode_session_key(*record.key, &decoded)) {
    return absl::DataLossError("session changelog key is not key+be64(end)+be64(start) (" +
                               std::to_string(record.key ? record.key->size() : 0) + " bytes)");
  }
  segments_.observe(decoded.end, table_);
  if (decoded.end < segments_.earliest_live()) return absl::OkStatus();
  if (record.value) {
    apply(*record.key, decoded.end, std::string_view(*record.value));
  } else {
    apply(*record.key, decoded.end, std::nullopt);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> SegmentedSessionStore::fetch_session(std::string_view key, TimestampMs start,
                                                                                TimestampMs end) {
  if (start < 0 || end < start || end < segments_.earliest_live()) return std::optional<std::string>();
  scratch_.clear();
  append_segment(&scratch_, segments_.segment_of(end));
  encode_session_key(key, start, end, &scratch_);
  return table_.get(scratch_);
}

std::unique_ptr<SessionIterator> SegmentedSessionStore::collect(std::optional<std::string_view> key,
                                                                TimestampMs earliest_end, TimestampMs latest_start) {
  earliest_end = std::max(earliest_end, segments_.earliest_live());
  return collect_sessions([this](std::string_view lo, std::string_view hi) { return table_.scan(lo, hi, false); },
                          segments_.between(segments_.segment_of(earliest_end), kMaxTime), spec_.name, key,
                          earliest_end, latest_start);
}

std::unique_ptr<SessionIterator> SegmentedSessionStore::find_sessions(std::string_view key,
                                                                      TimestampMs earliest_session_end,
                                                                      TimestampMs latest_session_start) {
  return collect(key, earliest_session_end, latest_session_start);
}

std::unique_ptr<SessionIterator> SegmentedSessionStore::fetch(std::string_view key) {
  return collect(key, 0, kMaxTime);
}

std::unique_ptr<SessionIterator> SegmentedSessionStore::all() { return collect(std::nullopt, 0, kMaxTime); }

namespace {

class ReadOnlySessionView final : public ReadOnlySessionStore {
 public:
  ReadOnlySessionView(const StoreSpec& spec, CommittedTable* table)
      : spec_(spec), table_(table), config_(spec.retention_ms, spec.segment_interval_ms) {}

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key, TimestampMs start,
                                                                         TimestampMs end) override {
    KSTREAMS_ASSIGN_OR_RETURN(TimestampMs stream_time, Segments::committed_stream_time(*table_));
    if (start < 0 || end < start || end < config_.earliest_live_at(stream_time)) return std::optional<std::string>();
    std::string key_bytes;
    append_segment(&key_bytes, config_.segment_of(end));
    encode_session_key(key, start, end, &key_bytes);
    return table_->get(key_bytes);
  }
  [[nodiscard]] std::unique_ptr<SessionIterator> find_sessions(std::string_view key, TimestampMs earliest_session_end,
                                                               TimestampMs latest_session_start) override {
    return collect(key, earliest_session_end, latest_session_start);
  }
  [[nodiscard]] std::unique_ptr<SessionIterator> fetch(std::string_view key) override {
    return collect(key, 0, kMaxTime);
  }

 private:
  std::unique_ptr<SessionIterator> collect(std::string_view key, TimestampMs earliest_end, TimestampMs latest_start) {
    auto stream_time = Segments::committed_stream_time(*table_);
    if (!stream_time.ok())
      return std::make_unique<VectorSessionIterator>(std::vector<SessionEntry>{}, stream_time.status());
    earliest_end = std::max(earliest_end, config_.earliest_live_at(*stream_time));
    auto segments = Segments::committed_segments(*table_, config_.segment_of(earliest_end), kMaxTime);
    if (!segments.ok()) return std::make_unique<VectorSessionIterator>(std::vector<SessionEntry>{}, segments.status());
    return collect_sessions([this](std::string_view lo, std::string_view hi) { return table_->scan(lo, hi, false); },
                            *segments, spec_.name, key, earliest_end, latest_start);
  }

  const StoreSpec spec_;
  CommittedTable* const table_;
  const Segments config_;  // only its configuration (segment size, retention) is used
};

}  // namespace

std::unique_ptr<ReadOnlySessionStore> make_read_only_session_view(const StoreSpec& spec, CommittedTable* table) {
  return std::make_unique<ReadOnlySessionView>(spec, table);
}

}  // namespace kstreams::state::internal
