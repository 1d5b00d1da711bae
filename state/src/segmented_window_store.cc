#include "segmented_window_store.h"

#include <algorithm>
#include <limits>

#include "key_codec.h"

namespace kstreams::state::internal {
namespace {

class VectorWindowIterator final : public WindowIterator {
 public:
  VectorWindowIterator(std::vector<WindowedEntry> entries, absl::Status status)
      : entries_(std::move(entries)), status_(std::move(status)) {}
  [[nodiscard]] bool valid() const override { return pos_ < entries_.size(); }
  void next() override { ++pos_; }
  [[nodiscard]] const WindowedEntry& entry() const override { return entries_[pos_]; }
  [[nodiscard]] absl::Status status() const override { return status_; }

 private:
  std::vector<WindowedEntry> entries_;
  absl::Status status_;
  size_t pos_ = 0;
};

constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// Windows with key in [key_from, key_to] (empty key_to: unbounded; exact: key_from only) and start in
// [time_from, time_to] (already clamped to the live range) from `segments`, ordered by (start, key, seq).
template <typename Scan>
absl::Status collect_windows(Scan&& scan, const std::vector<int64_t>& segments, const std::string& store,
                             std::string_view key_from, std::string_view key_to, bool exact, TimestampMs time_from,
                             TimestampMs time_to, std::vector<FoundWindow>* out) {
  const bool unbounded_keys = !exact && key_to.empty();
  for (int64_t segment : segments) {
    std::string lo = segment_prefix(segment);
    std::string hi;
    std::optional<std::string_view> hi_bound;
    if (exact) {
      encode_window_key(key_from, time_from, 0, &lo);
      hi = segment_prefix(segment);
      encode_window_key(key_from, time_to, std::numeric_limits<uint32_t>::max(), &hi);
      hi.push_back('\0');
    } else {
      lo.append(key_from);
      hi = segment_prefix(unbounded_keys ? segment + 1 : segment);
      if (!unbounded_keys) {
        hi.append(key_to);
        hi.append(kWindowSuffixSize, '\xff');
        hi.push_back('\0');
      }
    }
    hi_bound = hi;
    auto it = scan(lo, *hi_bound);
    for (; it->valid(); it->next()) {
      WindowKey k;
      if (!decode_window_key(it->key().substr(kSegmentPrefixSize), &k)) {
        return absl::DataLossError("store " + store + " holds an undecodable window key");
      }
      if (k.start < time_from || k.start > time_to) continue;
      if (exact ? k.key != key_from : (k.key < key_from || (!unbounded_keys && k.key > key_to))) continue;
      out->push_back(FoundWindow{WindowedEntry{std::string(k.key), k.start, std::string(it->value())}, k.seq});
    }
    KSTREAMS_RETURN_IF_ERROR(it->status());
  }
  std::sort(out->begin(), out->end(), [](const FoundWindow& a, const FoundWindow& b) {
    if (a.entry.window_start != b.entry.window_start) return a.entry.window_start < b.entry.window_start;
    if (a.entry.key != b.entry.key) return a.entry.key < b.entry.key;
    return a.seq < b.seq;
  });
  return absl::OkStatus();
}

std::unique_ptr<WindowIterator> to_iterator(std::vector<FoundWindow> found, absl::Status status, bool reverse) {
  std::vector<WindowedEntry> entries;
  entries.reserve(found.size());
  for (auto& f : found) entries.push_back(std::move(f.entry));
  if (reverse) std::reverse(entries.begin(), entries.end());
  return std::make_unique<VectorWindowIterator>(std::move(entries), std::move(status));
}

}  // namespace

SegmentedWindowStore::SegmentedWindowStore(StoreSpec spec, std::unique_ptr<CommittedTable> table, StoreContext* context)
    : spec_(std::move(spec)),
      table_(std::move(table)),
      context_(context),
      segments_(spec_.retention_ms, spec_.segment_interval_ms) {}

void SegmentedWindowStore::apply(std::string_view changelog_key, int64_t start, std::optional<std::string_view> value) {
  const int64_t segment = segments_.segment_of(start);
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

absl::Status SegmentedWindowStore::put(std::string_view key, std::optional<std::string_view> value,
                                       TimestampMs window_start) {
  if (window_start < 0) return absl::InvalidArgumentError("window start must be >= 0 in store " + spec_.name);
  segments_.observe(window_start, table_);
  if (window_start < segments_.earliest_live()) {  // expired: ignored, not logged
    context_->probe->record_expired_write(spec_.name);
    return absl::OkStatus();
  }
  uint32_t seq = 0;
  if (spec_.retain_duplicates) {
    if (!value) return absl::OkStatus();  // duplicates are never deleted one by one
    seq = segments_.next_seq();
  }
  std::string& changelog_key = changelog_key_;  // reused: no allocation once warm
  changelog_key.clear();
  encode_window_key(key, window_start, seq, &changelog_key);
  apply(changelog_key, window_start, value);
  if (spec_.logging && context_->changelog != nullptr) {
    context_->changelog->append(spec_.name, changelog_key, value, context_->record_timestamp);
  }
  return absl::OkStatus();
}

absl::Status SegmentedWindowStore::restore(const RawRecord& record) {
  WindowKey decoded;
  if (!record.key || !decode_window_key(*record.key, &decoded)) {
    return absl::DataLossError("window changelog key is not key+be64(start)+be32(seq) (" +
                               std::to_string(record.key ? record.key->size() : 0) + " bytes)");
  }
  segments_.observe(decoded.start, table_);
  if (decoded.start < segments_.earliest_live()) return absl::OkStatus();
  segments_.saw_seq(decoded.seq);
  if (record.value) {
    apply(*record.key, decoded.start, std::string_view(*record.value));
  } else {
    apply(*record.key, decoded.start, std::nullopt);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> SegmentedWindowStore::fetch(std::string_view key, TimestampMs window_start) {
  if (window_start < segments_.earliest_live()) return std::optional<std::string>();
  if (spec_.retain_duplicates) {
    std::vector<FoundWindow> found;
    KSTREAMS_RETURN_IF_ERROR(collect(key, key, true, window_start, window_start, &found));
    if (found.empty()) return std::optional<std::string>();
    return std::optional<std::string>(std::move(found.front().entry.value));
  }
  scratch_.clear();
  append_segment(&scratch_, segments_.segment_of(window_start));
  encode_window_key(key, window_start, 0, &scratch_);
  return table_.get(scratch_);
}

absl::Status SegmentedWindowStore::collect(std::string_view key_from, std::string_view key_to, bool exact,
                                           TimestampMs time_from, TimestampMs time_to, std::vector<FoundWindow>* out) {
  time_from = std::max(time_from, segments_.earliest_live());
  if (time_from > time_to) return absl::OkStatus();
  return collect_windows([this](std::string_view lo, std::string_view hi) { return table_.scan(lo, hi, false); },
                         segments_.between(segments_.segment_of(time_from), segments_.segment_of(time_to)), spec_.name,
                         key_from, key_to, exact, time_from, time_to, out);
}

std::unique_ptr<WindowIterator> SegmentedWindowStore::iterate(std::string_view key_from, std::string_view key_to,
                                                              bool exact, TimestampMs time_from, TimestampMs time_to,
                                                              bool reverse) {
  std::vector<FoundWindow> found;
  absl::Status status = collect(key_from, key_to, exact, time_from, time_to, &found);
  return to_iterator(std::move(found), std::move(status), reverse);
}

std::unique_ptr<WindowIterator> SegmentedWindowStore::fetch(std::string_view key, TimestampMs time_from,
                                                            TimestampMs time_to) {
  return iterate(key, key, true, time_from, time_to, false);
}

std::unique_ptr<WindowIterator> SegmentedWindowStore::backward_fetch(std::string_view key, TimestampMs time_from,
                                                                     TimestampMs time_to) {
  return iterate(key, key, true, time_from, time_to, true);
}

std::unique_ptr<WindowIterator> SegmentedWindowStore::fetch_range(std::string_view key_from, std::string_view key_to,
                                                                  TimestampMs time_from, TimestampMs time_to) {
  return iterate(key_from, key_to, false, time_from, time_to, false);
}

std::unique_ptr<WindowIterator> SegmentedWindowStore::fetch_all(TimestampMs time_from, TimestampMs time_to) {
  return iterate("", "", false, time_from, time_to, false);
}

std::unique_ptr<WindowIterator> SegmentedWindowStore::all() { return iterate("", "", false, 0, kMaxTime, false); }

namespace {

class ReadOnlyWindowView final : public ReadOnlyWindowStore {
 public:
  ReadOnlyWindowView(const StoreSpec& spec, CommittedTable* table)
      : spec_(spec), table_(table), config_(spec.retention_ms, spec.segment_interval_ms) {}

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                                 TimestampMs window_start) override {
    if (spec_.retain_duplicates) {
      std::vector<FoundWindow> found;
      KSTREAMS_RETURN_IF_ERROR(collect(key, key, true, window_start, window_start, &found));
      if (found.empty()) return std::optional<std::string>();
      return std::optional<std::string>(std::move(found.front().entry.value));
    }
    KSTREAMS_ASSIGN_OR_RETURN(TimestampMs stream_time, Segments::committed_stream_time(*table_));
    if (window_start < config_.earliest_live_at(stream_time)) return std::optional<std::string>();
    std::string key_bytes;
    append_segment(&key_bytes, config_.segment_of(window_start));
    encode_window_key(key, window_start, 0, &key_bytes);
    return table_->get(key_bytes);
  }
  [[nodiscard]] std::unique_ptr<WindowIterator> fetch(std::string_view key, TimestampMs time_from,
                                                      TimestampMs time_to) override {
    return iterate(key, key, true, time_from, time_to, false);
  }
  [[nodiscard]] std::unique_ptr<WindowIterator> backward_fetch(std::string_view key, TimestampMs time_from,
                                                               TimestampMs time_to) override {
    return iterate(key, key, true, time_from, time_to, true);
  }
  [[nodiscard]] std::unique_ptr<WindowIterator> fetch_range(std::string_view key_from, std::string_view key_to,
                                                            TimestampMs time_from, TimestampMs time_to) override {
    return iterate(key_from, key_to, false, time_from, time_to, false);
  }
  [[nodiscard]] std::unique_ptr<WindowIterator> fetch_all(TimestampMs time_from, TimestampMs time_to) override {
    return iterate("", "", false, time_from, time_to, false);
  }

 private:
  absl::Status collect(std::string_view key_from, std::string_view key_to, bool exact, TimestampMs time_from,
                       TimestampMs time_to, std::vector<FoundWindow>* out) {
    KSTREAMS_ASSIGN_OR_RETURN(TimestampMs stream_time, Segments::committed_stream_time(*table_));
    time_from = std::max(time_from, config_.earliest_live_at(stream_time));
    if (time_from > time_to) return absl::OkStatus();
    KSTREAMS_ASSIGN_OR_RETURN(
        std::vector<int64_t> segments,
        Segments::committed_segments(*table_, config_.segment_of(time_from), config_.segment_of(time_to)));
    return collect_windows([this](std::string_view lo, std::string_view hi) { return table_->scan(lo, hi, false); },
                           segments, spec_.name, key_from, key_to, exact, time_from, time_to, out);
  }
  std::unique_ptr<WindowIterator> iterate(std::string_view key_from, std::string_view key_to, bool exact,
                                          TimestampMs time_from, TimestampMs time_to, bool reverse) {
    std::vector<FoundWindow> found;
    absl::Status status = collect(key_from, key_to, exact, time_from, time_to, &found);
    return to_iterator(std::move(found), std::move(status), reverse);
  }

  const StoreSpec spec_;
  CommittedTable* const table_;
  const Segments config_;  // only its configuration (segment size, retention) is used
};

}  // namespace

std::unique_ptr<ReadOnlyWindowStore> make_read_only_window_view(const StoreSpec& spec, CommittedTable* table) {
  return std::make_unique<ReadOnlyWindowView>(spec, table);
}

}  // namespace kstreams::state::internal
