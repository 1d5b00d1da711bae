// One RocksDB instance per task directory: a column family per persistent store and the changelog
// offsets in the default column family, so one WriteBatch commits every persistent store of the
// task atomically together with its offsets.
//
// Every write (commits and restoration alike) skips RocksDB's write-ahead log: the changelog is the
// log, and the offsets go in the same batch. atomic_flush flushes every column family together, so
// the files on disk always hold one consistent batch boundary with its offsets; a crash (SIGKILL, or
// destroying the object without close()) loses only the writes made since the last flush, offsets
// included, and restoration replays exactly those from the changelog (no wipe). Flushes happen when
// the memtables fill up, on close(), and at most every flush interval (RocksDBResources): a write
// made that long after the oldest unflushed one schedules a background flush (interval 0: every write
// flushes and waits). This is what Kafka Streams does too; it saves the WAL's copy and write per
// commit (~13% of the saga's stream thread). Not thread-safe: one stream thread.
#pragma once

#include <rocksdb/db.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rocksdb_resources.h"
#include "transactional_table.h"

namespace kstreams::state::internal {

class RocksDBTaskDb {
 public:
  struct StoreWrites {
    const std::string* store;
    const PendingWrites* writes;
  };

  // Opens (creating when missing) the DB in `dir` with a column family for each of `stores`.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RocksDBTaskDb>> open(const std::filesystem::path& dir,
                                                                           RocksDBResources& resources,
                                                                           const std::vector<std::string>& stores);
  ~RocksDBTaskDb();
  RocksDBTaskDb(const RocksDBTaskDb&) = delete;
  RocksDBTaskDb& operator=(const RocksDBTaskDb&) = delete;

  // The committed state of `store` (must be one of the opened stores). Must not outlive this object.
  [[nodiscard]] std::unique_ptr<CommittedTable> table(const std::string& store);
  // Committed changelog offsets (store -> next offset), as of open.
  [[nodiscard]] const std::map<std::string, int64_t>& offsets_at_open() const { return offsets_; }
  // Applies the writes and offsets in one atomic batch (in memory until the next flush, see above).
  [[nodiscard]] absl::Status write(const std::vector<StoreWrites>& stores,
                                   const std::map<std::string, int64_t>& offsets);
  // Entries in the memtables, i.e. written but not yet in files (what a crash would lose).
  [[nodiscard]] uint64_t unflushed_entries();
  // Memory held by this DB's memtables (active and immutable).
  [[nodiscard]] uint64_t memtable_bytes();
  // Flushes every column family (atomically) and waits. Thread-safe against this DB's own thread.
  [[nodiscard]] absl::Status flush_memtables();
  // Flushes what is not in files yet, then closes.
  [[nodiscard]] absl::Status close();
  // Closes without flushing: what is only in the memtables is dropped, as in a crash (the files
  // hold the state and changelog positions of the last flush).
  [[nodiscard]] absl::Status close_without_flush();

 private:
  RocksDBTaskDb() = default;
  [[nodiscard]] absl::Status load_offsets();
  [[nodiscard]] absl::Status flush_unflushed_writes();
  // After a write: the flush-interval policy (class comment).
  [[nodiscard]] absl::Status maybe_flush();
  void release();

  std::filesystem::path dir_;
  RocksDBResources* resources_ = nullptr;  // not owned; outlives this object
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> column_families_;  // store -> handle
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;                    // every open handle
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  std::map<std::string, int64_t> offsets_;
  bool unflushed_writes_ = false;
  std::chrono::steady_clock::time_point oldest_unflushed_{};  // first write since the last flush
};

// Converts a RocksDB status, naming what failed.
[[nodiscard]] absl::Status from_rocksdb(const rocksdb::Status& status, const std::string& what);

}  // namespace kstreams::state::internal
