// The RocksDB side of StoreResources: one LRU block cache and one WriteBufferManager charged to
// that cache, shared by every RocksDB instance of the application instance (Kafka Streams'
// BoundedMemoryRocksDBConfig, built in). Thread-safe (RocksDB's cache and manager are).
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/write_buffer_manager.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <set>

#include "kstreams/state/state_manager.h"

namespace kstreams::state::internal {

class RocksDBTaskDb;

class RocksDBResources final : public StoreResources {
 public:
  // A quarter of the budget may be memtables; memtable memory is reserved in the cache, so block
  // cache + memtables stay within total_bytes.
  // flush_interval: see RocksDBTaskDb (the longest a write stays only in memory, 0: none).
  RocksDBResources(size_t total_bytes, std::chrono::milliseconds flush_interval);
  [[nodiscard]] size_t budget_bytes() const override { return budget_; }
  [[nodiscard]] size_t usage_bytes() const override { return cache_->GetUsage(); }

  [[nodiscard]] std::chrono::milliseconds flush_interval() const { return flush_interval_; }
  [[nodiscard]] const std::shared_ptr<rocksdb::Cache>& cache() const { return cache_; }
  [[nodiscard]] const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffer_manager() const { return wbm_; }

  // RocksDB's WriteBufferManager only flushes the DB being written to, so memtables of tasks that
  // stopped writing would stay in memory forever. Every DB registers here, and after each write
  // enforce_memtable_budget() flushes the DBs holding the most memtable memory until the shared
  // memtable budget is met again.
  void register_db(RocksDBTaskDb* db);
  void unregister_db(RocksDBTaskDb* db);
  void enforce_memtable_budget();

 private:
  size_t budget_;
  std::chrono::milliseconds flush_interval_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> wbm_;
  std::mutex mu_;
  std::set<RocksDBTaskDb*> dbs_;
};

inline constexpr size_t kDefaultStoreMemoryBytes = size_t{256} << 20;

}  // namespace kstreams::state::internal
