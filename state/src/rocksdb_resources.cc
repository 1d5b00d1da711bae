#include "rocksdb_resources.h"

#include <rocksdb/env.h>

#include "kstreams/common/logging.h"
#include "rocksdb_task_db.h"

namespace kstreams::state {

std::unique_ptr<StoreResources> StoreResources::create(size_t total_bytes, std::chrono::milliseconds flush_interval,
                                                       BackgroundCpuPriority background) {
  KSTREAMS_CHECK(flush_interval.count() >= 0, "StoreResources::create with a negative flush interval");
  if (background != BackgroundCpuPriority::kNormal) {
    // Nothing waits for flushes and compactions (the changelog is the log), and the periodic flushes
    // of every task's stores fall due at about the same time: they yield to processing.
    const auto cpu =
        background == BackgroundCpuPriority::kIdle ? rocksdb::CpuPriority::kIdle : rocksdb::CpuPriority::kLow;
    for (auto pool : {rocksdb::Env::Priority::HIGH, rocksdb::Env::Priority::LOW}) {
      rocksdb::Status st = rocksdb::Env::Default()->LowerThreadPoolCPUPriority(pool, cpu);
      if (!st.ok()) KS_LOG_WARN("rocksdb: background threads keep their CPU priority: {}", st.ToString());
    }
  }
  return std::make_unique<internal::RocksDBResources>(total_bytes, flush_interval);
}

namespace internal {

RocksDBResources::RocksDBResources(size_t total_bytes, std::chrono::milliseconds flush_interval)
    : budget_(total_bytes),
      flush_interval_(flush_interval),
      cache_(rocksdb::NewLRUCache(total_bytes, /*num_shard_bits=*/-1, /*strict_capacity_limit=*/false,
                                  /*high_pri_pool_ratio=*/0.1)),
      wbm_(std::make_shared<rocksdb::WriteBufferManager>(total_bytes / 4, cache_, /*allow_stall=*/false)) {}

void RocksDBResources::register_db(RocksDBTaskDb* db) {
  std::lock_guard lock(mu_);
  dbs_.insert(db);
}

void RocksDBResources::unregister_db(RocksDBTaskDb* db) {
  std::lock_guard lock(mu_);
  dbs_.erase(db);
}

void RocksDBResources::enforce_memtable_budget() {
  if (wbm_->memory_usage() <= wbm_->buffer_size()) return;
  std::lock_guard lock(mu_);
  for (size_t round = 0; round < dbs_.size() && wbm_->memory_usage() > wbm_->buffer_size(); ++round) {
    RocksDBTaskDb* largest = nullptr;
    uint64_t largest_bytes = 0;
    for (RocksDBTaskDb* db : dbs_) {
      const uint64_t bytes = db->memtable_bytes();
      if (bytes > largest_bytes) {
        largest = db;
        largest_bytes = bytes;
      }
    }
    if (largest == nullptr) return;
    absl::Status flushed = largest->flush_memtables();
    if (!flushed.ok()) {
      // The DB keeps its memtables (RocksDB's own flush triggers still apply); the next write retries.
      return;
    }
  }
}

}  // namespace internal
}  // namespace kstreams::state
