// One RocksDB instance per task directory: a column family per persistent store and the changelog
// offsets in the default column family, so one WriteBatch commits every persistent store of the
// task atomically together with its offsets.
//
// Restoration writes go in with the WAL disabled (the changelog is the source of truth and the
// offset is in the same batch); atomic_flush keeps every column family's memtable flush consistent,
// and the first WAL-logged write after such writes flushes first, so a crash can only lose a whole
// suffix of restore batches together with their offsets. Destroying the object without close()
// simulates a crash: nothing is flushed. Not thread-safe: one stream thread.
#pragma once

#include <rocksdb/db.h>

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
  // Applies the writes and offsets in one atomic batch; `restoring` disables the WAL.
  [[nodiscard]] absl::Status write(const std::vector<StoreWrites>& stores,
                                   const std::map<std::string, int64_t>& offsets, bool restoring);
  // Memory held by this DB's memtables (active and immutable).
  [[nodiscard]] uint64_t memtable_bytes();
  // Flushes every column family (atomically) and waits. Thread-safe against this DB's own thread.
  [[nodiscard]] absl::Status flush_memtables();
  // Flushes restoration writes that are not in the WAL, then closes.
  [[nodiscard]] absl::Status close();

 private:
  RocksDBTaskDb() = default;
  [[nodiscard]] absl::Status load_offsets();
  [[nodiscard]] absl::Status flush_unlogged_writes();
  void release();

  std::filesystem::path dir_;
  RocksDBResources* resources_ = nullptr;  // not owned; outlives this object
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> column_families_;  // store -> handle
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;                    // every open handle
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  std::map<std::string, int64_t> offsets_;
  bool unlogged_writes_ = false;
};

// Converts a RocksDB status, naming what failed.
[[nodiscard]] absl::Status from_rocksdb(const rocksdb::Status& status, const std::string& what);

}  // namespace kstreams::state::internal
