// Per-task state: creating the task's stores, the transactional commit of their writes, restoration
// from changelog topics, and the state directory.
//
// The commit protocol (ARCHITECTURE.md, "Transactional state"):
//   1. During a commit interval, store writes are buffered (RocksDB WriteBatchWithIndex / an overlay
//      map) and visible to the owning thread's reads; each logged write is also appended to the
//      changelog through ChangelogWriter, inside the Kafka transaction (with a ChangelogCache,
//      the last write of each key is appended by flush_changelog, before the Kafka commit).
//   2. After the Kafka transaction commits, commit(offsets) applies every store's buffered writes
//      together with the changelog offsets they correspond to, in one atomic batch.
//   3. If the transaction aborts, abort() drops the buffered writes.
// A crash at any point leaves each store exactly at a committed state (the last one written to disk:
// RocksDB stores skip the write-ahead log and flush at least every flush interval, see
// StoreResources::create); restoration resumes from the stored offset (read_committed), never from a
// wiped store.
//
// Thread-safety: a ProcessorStateManager belongs to one stream thread. StateDirectory is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kstreams/common/metrics.h"
#include "kstreams/common/record.h"
#include "kstreams/common/status.h"
#include "kstreams/common/types.h"
#include "kstreams/state/store.h"

namespace kstreams::state {

// Receives every logged store write. Declared here, implemented above (runtime's RecordCollector
// sends to `<application.id>-<store>-changelog` at the task's partition; the TopologyTestDriver
// records them). Called on the stream thread only.
class ChangelogWriter {
 public:
  virtual ~ChangelogWriter() = default;
  // value == nullopt is a tombstone.
  virtual void append(const std::string& store, std::string_view key, std::optional<std::string_view> value,
                      TimestampMs timestamp) = 0;
};

// CPU priority of RocksDB's background (flush and compaction) threads.
enum class BackgroundCpuPriority {
  kNormal,  // as the stream threads
  kLow,     // nice 19: they yield the CPU to processing, and still progress on a busy one
  kIdle,    // SCHED_IDLE: they run only when the CPU has nothing else to run
};

// The instance-wide RocksDB memory budget: one block cache and one write-buffer manager shared by
// every store of every task, so memory does not grow with the number of stores. Thread-safe.
class StoreResources {
 public:
  virtual ~StoreResources() = default;
  // total_bytes is split between block cache and memtables (write buffers count against the cache).
  // Committed writes reach RocksDB's memtables without a write-ahead log (the changelog is the log);
  // a write made flush_interval or longer after the oldest write still only in memory schedules a
  // background flush, so a crash loses (and restoration replays) about that much of each store's
  // changelog at most, plus what an idle task wrote last. 0: every commit flushes and waits.
  // background: the priority of RocksDB's background threads. They belong to RocksDB's default
  // environment, which is process-wide: a priority once lowered is never raised again, so the
  // lowest one asked for by any StoreResources of the process applies.
  static std::unique_ptr<StoreResources> create(size_t total_bytes,
                                                std::chrono::milliseconds flush_interval = kDefaultFlushInterval,
                                                BackgroundCpuPriority background = BackgroundCpuPriority::kLow);
  static constexpr std::chrono::milliseconds kDefaultFlushInterval{10'000};
  [[nodiscard]] virtual size_t budget_bytes() const = 0;
  [[nodiscard]] virtual size_t usage_bytes() const = 0;
};

// The changelog write cache of one stream thread (`statestore.cache.max.bytes`), shared by the
// state managers of its tasks. With it, a task's logged writes are held per (store, key) until the
// task flushes (ProcessorStateManager::flush_changelog, commit phase 1): a key written N times
// within a commit interval sends one changelog record, its last value with the timestamp of that
// write. Restoration yields the same state, with fewer records to send, store on the broker and
// replay. When the buffered bytes of all tasks exceed max_bytes, every task's buffer is sent at
// once (in the middle of the transaction, as a write-through store would have done).
// Downstream forwarding is not affected: processors still see every update.
// Not thread-safe: one stream thread. It must outlive the state managers that use it.
class ChangelogCache {
 public:
  // max_bytes 0: nothing is held (every write is sent at once, as without a cache).
  explicit ChangelogCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  ChangelogCache(const ChangelogCache&) = delete;
  ChangelogCache& operator=(const ChangelogCache&) = delete;

  [[nodiscard]] size_t max_bytes() const { return max_bytes_; }
  // Bytes held by every task's buffer now (keys, values and a fixed per-entry overhead).
  [[nodiscard]] size_t bytes() const { return bytes_; }
  // Times the budget was exceeded and every buffer was sent before a commit.
  [[nodiscard]] uint64_t overflows() const { return overflows_; }

  // The side of the cache its members use (state internals; not for applications).
  class Member {
   public:
    virtual ~Member() = default;
    virtual void flush_buffer() = 0;
  };
  void join(Member* m);
  void leave(Member* m);
  // Adjusts the held bytes by delta; sends every member's buffer when over budget.
  void account(int64_t delta);

 private:
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t overflows_ = 0;
  bool flushing_ = false;
  std::vector<Member*> members_;
};

struct StateManagerOptions {
  TaskId task;
  std::filesystem::path task_dir;        // <state.dir>/<application.id>/<task id>; created if missing
  ChangelogWriter* changelog = nullptr;  // not owned; null means no store is logged
  // Not owned; null (or max_bytes 0) sends every logged write to `changelog` at once.
  ChangelogCache* changelog_cache = nullptr;
  StoreResources* resources = nullptr;  // not owned; null means private default-sized resources
  MetricsRegistry* metrics = nullptr;   // not owned; may be null
};

class ProcessorStateManager {
 public:
  virtual ~ProcessorStateManager() = default;

  // Opens (creating when missing) every store in `specs` under options.task_dir.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ProcessorStateManager>> open(const StateManagerOptions& options,
                                                                                   const std::vector<StoreSpec>& specs);

  // Stores by name; null when there is none of that name and kind. Valid until close().
  [[nodiscard]] virtual StateStore* store(std::string_view name) = 0;
  [[nodiscard]] virtual KeyValueBytesStore* key_value_store(std::string_view name) = 0;
  [[nodiscard]] virtual WindowBytesStore* window_store(std::string_view name) = 0;
  [[nodiscard]] virtual SessionBytesStore* session_store(std::string_view name) = 0;
  [[nodiscard]] virtual const std::vector<StoreSpec>& specs() const = 0;

  // Thread-safe views of the committed state for interactive queries (store.h, ReadOnly*): null
  // when there is no queryable store of that name and kind. The pointers may be taken on any
  // thread while the manager is open; they become invalid at close(), so the caller (the runtime's
  // query path) must stop using them before it closes the task.
  [[nodiscard]] virtual ReadOnlyKeyValueStore* read_only_key_value_store(std::string_view /*name*/) { return nullptr; }
  [[nodiscard]] virtual ReadOnlyWindowStore* read_only_window_store(std::string_view /*name*/) { return nullptr; }
  [[nodiscard]] virtual ReadOnlySessionStore* read_only_session_store(std::string_view /*name*/) { return nullptr; }

  // The timestamp given to changelog records of the writes that follow (the current record's).
  virtual void set_record_timestamp(TimestampMs ts) = 0;

  // Restoration. The changelog offset to resume from (the next offset to read) for a logged store;
  // nullopt when the store has never committed (restore from the beginning).
  [[nodiscard]] virtual std::optional<int64_t> restore_offset(std::string_view store) const = 0;
  // Applies changelog records (read with read_committed) to `store` without logging them again,
  // and records `next_offset` as the store's changelog position, atomically with the data.
  // A record that cannot be decoded is a kDataLoss error naming the store, topic and offset.
  [[nodiscard]] virtual absl::Status restore_batch(std::string_view store, const std::vector<RawRecord>& records,
                                                   int64_t next_offset) = 0;

  // Commit phase 1 (before the Kafka commit): sends the changelog records the ChangelogCache holds
  // for this task to the ChangelogWriter. No-op without a cache.
  virtual void flush_changelog() = 0;
  // Commit phase 1b (after flush_changelog, before the Kafka commit): seals every store's buffered
  // writes as a transaction being committed. Writes made after seal() belong to the next
  // transaction: reads see them over the sealed ones, commit() leaves them buffered, abort() drops
  // them all. This lets the runtime go on processing while the transaction commits. Two
  // transactions may be sealed at once (the runtime seals the next one before it applies the one
  // that just committed in Kafka); commit() applies the older first.
  // kFailedPrecondition when changelog records are still held (flush_changelog was not called) or
  // when two sealed transactions are neither committed nor aborted.
  [[nodiscard]] virtual absl::Status seal() = 0;
  // Commit phase 2 (after the Kafka transaction committed): applies the oldest sealed transaction's
  // writes (sealing the buffered ones first when nothing is sealed) and the given changelog
  // positions (store -> next offset, as of the end of that transaction) in one atomic batch.
  // kFailedPrecondition as seal() when it has to seal: the writes would become durable without
  // their changelog records.
  [[nodiscard]] virtual absl::Status commit(const std::map<std::string, int64_t>& changelog_next_offsets) = 0;
  // The transaction aborted: drops every buffered and sealed write (and held changelog record),
  // stores return to the last commit.
  virtual void abort() = 0;
  // True when there are buffered or sealed writes not yet committed.
  [[nodiscard]] virtual bool has_uncommitted_writes() const = 0;

  // Closes the stores. Buffered writes are dropped (commit first for a clean close).
  [[nodiscard]] virtual absl::Status close() = 0;
  // Closes the stores without writing what is committed but not yet flushed to disk (RocksDB
  // memtables): on disk they stay as of their last flush, changelog positions included, as after a
  // crash; reopened, they restore the changelog tail since then. Much quicker than close() when
  // background flushes are slow; for tasks that moved to another instance, whose local state is
  // about to go stale anyway.
  [[nodiscard]] virtual absl::Status close_keeping_last_flush() = 0;
};

// `<state.dir>/<application.id>/<task id>` with an exclusive lock per task directory, so that two
// instances (or two threads) never open the same task's stores.
class StateDirectory {
 public:
  virtual ~StateDirectory() = default;
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<StateDirectory>> open(const std::filesystem::path& state_dir,
                                                                            const std::string& application_id);
  [[nodiscard]] virtual std::filesystem::path task_dir(TaskId task) const = 0;
  // Locks the task's directory for the calling thread (again: ok). kUnavailable while another
  // process or another thread of this one holds it: retry later.
  [[nodiscard]] virtual absl::Status lock(TaskId task) = 0;
  // Releases a lock the calling thread holds (others: no-op).
  virtual void unlock(TaskId task) = 0;
  // Removes the task's directory (for a reset); the task must be locked by the caller.
  [[nodiscard]] virtual absl::Status wipe(TaskId task) = 0;
};

}  // namespace kstreams::state
