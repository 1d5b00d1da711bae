// ProcessorStateManager: owns a task's stores and runs the transactional commit of their writes.
//
// In-memory stores keep their committed state in InMemoryTable; persistent stores share one RocksDB
// instance per task directory (RocksDBTaskDb: a column family per store plus the changelog offsets),
// so one WriteBatch commits every persistent store of the task together with its offsets.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "changelog_buffer.h"
#include "kstreams/state/state_manager.h"
#include "rocksdb_task_db.h"
#include "transactional_store.h"

namespace kstreams::state::internal {

class ProcessorStateManagerImpl final : public ProcessorStateManager {
 public:
  ProcessorStateManagerImpl(const StateManagerOptions& options, std::vector<StoreSpec> specs);
  ~ProcessorStateManagerImpl() override;
  [[nodiscard]] absl::Status init();

  [[nodiscard]] StateStore* store(std::string_view name) override;
  [[nodiscard]] KeyValueBytesStore* key_value_store(std::string_view name) override;
  [[nodiscard]] WindowBytesStore* window_store(std::string_view name) override;
  [[nodiscard]] SessionBytesStore* session_store(std::string_view name) override;
  [[nodiscard]] const std::vector<StoreSpec>& specs() const override { return specs_; }
  [[nodiscard]] ReadOnlyKeyValueStore* read_only_key_value_store(std::string_view name) override;
  [[nodiscard]] ReadOnlyWindowStore* read_only_window_store(std::string_view name) override;
  [[nodiscard]] ReadOnlySessionStore* read_only_session_store(std::string_view name) override;
  void set_record_timestamp(TimestampMs ts) override { context_.record_timestamp = ts; }
  [[nodiscard]] std::optional<int64_t> restore_offset(std::string_view store) const override;
  [[nodiscard]] absl::Status restore_batch(std::string_view store, const std::vector<RawRecord>& records,
                                           int64_t next_offset) override;
  void flush_changelog() override;
  [[nodiscard]] absl::Status seal() override;
  [[nodiscard]] absl::Status commit(const std::map<std::string, int64_t>& changelog_next_offsets) override;
  void abort() override;
  [[nodiscard]] bool has_uncommitted_writes() const override;
  [[nodiscard]] absl::Status close() override;
  [[nodiscard]] absl::Status close_keeping_last_flush() override;

 private:
  [[nodiscard]] absl::Status close_stores(bool flush);
  struct Slot {
    std::unique_ptr<StateStore> store;
    TransactionalStore* txn = nullptr;
    // Committed-state views for interactive queries (only the one matching the store's type; null
    // when the store is not queryable).
    std::unique_ptr<ReadOnlyKeyValueStore> read_only_key_value;
    std::unique_ptr<ReadOnlyWindowStore> read_only_window;
    std::unique_ptr<ReadOnlySessionStore> read_only_session;
  };

  [[nodiscard]] Slot* find(std::string_view name);
  // Seals one store's pending writes (its own metadata added first).
  [[nodiscard]] absl::Status seal(Slot& slot);
  // Applies the sealed writes of `slots` and the offsets in one atomic step per backend.
  [[nodiscard]] absl::Status apply(const std::vector<Slot*>& slots, const std::map<std::string, int64_t>& offsets,
                                   bool restoring);
  void drop_pending(Slot& slot);

  StateManagerOptions options_;
  std::vector<StoreSpec> specs_;
  StoreContext context_;
  StateProbe probe_;
  std::unique_ptr<ChangelogBuffer> changelog_buffer_;  // with a ChangelogCache; context_.changelog then
  std::unique_ptr<StoreResources> owned_resources_;    // when options_.resources is null
  std::unique_ptr<RocksDBTaskDb> db_;                  // null without persistent stores; outlives slots_
  std::vector<Slot> slots_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, int64_t, std::less<>> offsets_;  // committed changelog positions
  bool closed_ = false;
  size_t sealed_ = 0;  // transactions sealed and neither committed nor aborted yet (oldest commits first)
};

}  // namespace kstreams::state::internal
