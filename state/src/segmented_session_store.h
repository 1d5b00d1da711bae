// The session store over a transactional table, segmented by session end (see segments.h).
#pragma once

#include <string>

#include "segments.h"
#include "transactional_store.h"

namespace kstreams::state::internal {

class SegmentedSessionStore final : public SessionBytesStore, public TransactionalStore {
 public:
  SegmentedSessionStore(StoreSpec spec, std::unique_ptr<CommittedTable> table, StoreContext* context);
  [[nodiscard]] absl::Status load() { return segments_.load(table_); }

  [[nodiscard]] const std::string& name() const override { return spec_.name; }
  [[nodiscard]] bool persistent() const override { return spec_.persistent; }

  [[nodiscard]] absl::Status put(std::string_view key, TimestampMs start, TimestampMs end,
                                 std::string_view value) override;
  [[nodiscard]] absl::Status remove(std::string_view key, TimestampMs start, TimestampMs end) override;
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key, TimestampMs start,
                                                                         TimestampMs end) override;
  [[nodiscard]] std::unique_ptr<SessionIterator> find_sessions(std::string_view key, TimestampMs earliest_session_end,
                                                               TimestampMs latest_session_start) override;
  [[nodiscard]] std::unique_ptr<SessionIterator> fetch(std::string_view key) override;
  [[nodiscard]] std::unique_ptr<SessionIterator> all() override;
  [[nodiscard]] int64_t retention_ms() const override { return segments_.retention_ms(); }

  [[nodiscard]] const StoreSpec& spec() const override { return spec_; }
  [[nodiscard]] TransactionalTable& table() override { return table_; }
  [[nodiscard]] absl::Status restore(const RawRecord& record) override;
  void prepare_commit() override { segments_.prepare_commit(table_); }
  void on_commit() override { segments_.on_commit(); }
  void on_abort() override { segments_.on_abort(); }

 private:
  // Sessions with end >= earliest_end and start <= latest_start, of `key` (or of every key when
  // `key` is nullopt), ordered by (end, key, start).
  std::unique_ptr<SessionIterator> collect(std::optional<std::string_view> key, TimestampMs earliest_end,
                                           TimestampMs latest_start);
  [[nodiscard]] absl::Status write(std::string_view key, TimestampMs start, TimestampMs end,
                                   std::optional<std::string_view> value);
  void apply(std::string_view changelog_key, int64_t end, std::optional<std::string_view> value);

  StoreSpec spec_;
  TransactionalTable table_;
  StoreContext* context_;
  Segments segments_;
  std::string scratch_;        // stored key (segment + changelog key)
  std::string changelog_key_;  // changelog key of the current write
};

// The committed state of a session store, readable from any thread (interactive queries).
[[nodiscard]] std::unique_ptr<ReadOnlySessionStore> make_read_only_session_view(const StoreSpec& spec,
                                                                                CommittedTable* table);

}  // namespace kstreams::state::internal
