// The window store over a transactional table, segmented by window start (see segments.h).
#pragma once

#include <string>

#include "segments.h"
#include "transactional_store.h"

namespace kstreams::state::internal {

// A window found by a read, with its duplicate sequence number (for ordering).
struct FoundWindow {
  WindowedEntry entry;
  uint32_t seq = 0;
};

class SegmentedWindowStore final : public WindowBytesStore, public TransactionalStore {
 public:
  SegmentedWindowStore(StoreSpec spec, std::unique_ptr<CommittedTable> table, StoreContext* context);
  [[nodiscard]] absl::Status load() { return segments_.load(table_); }

  [[nodiscard]] const std::string& name() const override { return spec_.name; }
  [[nodiscard]] bool persistent() const override { return spec_.persistent; }

  [[nodiscard]] absl::Status put(std::string_view key, std::optional<std::string_view> value,
                                 TimestampMs window_start) override;
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                                 TimestampMs window_start) override;
  [[nodiscard]] std::unique_ptr<WindowIterator> fetch(std::string_view key, TimestampMs time_from,
                                                      TimestampMs time_to) override;
  [[nodiscard]] std::unique_ptr<WindowIterator> backward_fetch(std::string_view key, TimestampMs time_from,
                                                               TimestampMs time_to) override;
  [[nodiscard]] std::unique_ptr<WindowIterator> fetch_range(std::string_view key_from, std::string_view key_to,
                                                            TimestampMs time_from, TimestampMs time_to) override;
  [[nodiscard]] std::unique_ptr<WindowIterator> fetch_all(TimestampMs time_from, TimestampMs time_to) override;
  [[nodiscard]] std::unique_ptr<WindowIterator> all() override;
  [[nodiscard]] int64_t retention_ms() const override { return segments_.retention_ms(); }
  [[nodiscard]] TimestampMs observed_stream_time() const override { return segments_.stream_time(); }

  [[nodiscard]] const StoreSpec& spec() const override { return spec_; }
  [[nodiscard]] TransactionalTable& table() override { return table_; }
  [[nodiscard]] absl::Status restore(const RawRecord& record) override;
  void prepare_commit() override { segments_.prepare_commit(table_); }
  void on_commit() override { segments_.on_commit(); }
  void on_abort() override { segments_.on_abort(); }

 private:
  // Entries with key in [key_from, key_to] (empty key_to: unbounded; exact: key_from only) and
  // start in [time_from, time_to], ordered by (start, key, seq).
  absl::Status collect(std::string_view key_from, std::string_view key_to, bool exact, TimestampMs time_from,
                       TimestampMs time_to, std::vector<FoundWindow>* out);
  std::unique_ptr<WindowIterator> iterate(std::string_view key_from, std::string_view key_to, bool exact,
                                          TimestampMs time_from, TimestampMs time_to, bool reverse);
  void apply(std::string_view changelog_key, int64_t start, std::optional<std::string_view> value);

  StoreSpec spec_;
  TransactionalTable table_;
  StoreContext* context_;
  Segments segments_;
  std::string scratch_;        // stored key (segment + changelog key)
  std::string changelog_key_;  // changelog key of the current write
};

// The committed state of a window store, readable from any thread (interactive queries).
[[nodiscard]] std::unique_ptr<ReadOnlyWindowStore> make_read_only_window_view(const StoreSpec& spec,
                                                                              CommittedTable* table);

}  // namespace kstreams::state::internal
