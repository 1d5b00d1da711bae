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
  std::string changelog_key;
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
  std::vector<SessionEntry> entries;
  absl::Status status;
  earliest_end = std::max(earliest_end, segments_.earliest_live());
  for (int64_t segment : segments_.between(segments_.segment_of(earliest_end), kMaxTime)) {
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
    auto it = table_.scan(lo, std::optional<std::string_view>(hi), /*reverse=*/false);
    for (; it->valid(); it->next()) {
      SessionKey k;
      if (!decode_session_key(it->key().substr(kSegmentPrefixSize), &k)) {
        status = absl::DataLossError("store " + spec_.name + " holds an undecodable session key");
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

std::unique_ptr<SessionIterator> SegmentedSessionStore::find_sessions(std::string_view key,
                                                                      TimestampMs earliest_session_end,
                                                                      TimestampMs latest_session_start) {
  return collect(key, earliest_session_end, latest_session_start);
}

std::unique_ptr<SessionIterator> SegmentedSessionStore::fetch(std::string_view key) {
  return collect(key, 0, kMaxTime);
}

std::unique_ptr<SessionIterator> SegmentedSessionStore::all() { return collect(std::nullopt, 0, kMaxTime); }

}  // namespace kstreams::state::internal
