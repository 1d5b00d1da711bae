#include "rocksdb_task_db.h"

#include <algorithm>

#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "key_codec.h"

namespace kstreams::state::internal {
namespace {

constexpr char kColumnFamilyPrefix[] = "store:";
constexpr char kOffsetPrefix[] = "offset:";

class RocksDBIterator final : public KeyValueIterator {
 public:
  RocksDBIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view lo,
                  std::optional<std::string_view> hi, bool reverse)
      : lo_(lo), hi_(hi ? std::string(*hi) : std::string()), lo_slice_(lo_), hi_slice_(hi_) {
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lo_slice_;
    if (hi) options.iterate_upper_bound = &hi_slice_;
    it_.reset(db->NewIterator(options, cf));
    if (!reverse) {
      it_->Seek(lo_slice_);
    } else {
      it_->SeekToLast();  // honours iterate_upper_bound
    }
    reverse_ = reverse;
  }
  [[nodiscard]] bool valid() const override { return it_->Valid(); }
  void next() override {
    if (reverse_) {
      it_->Prev();
    } else {
      it_->Next();
    }
  }
  [[nodiscard]] std::string_view key() const override { return it_->key().ToStringView(); }
  [[nodiscard]] std::string_view value() const override { return it_->value().ToStringView(); }
  [[nodiscard]] absl::Status status() const override { return from_rocksdb(it_->status(), "iterator"); }

 private:
  std::string lo_;
  std::string hi_;
  rocksdb::Slice lo_slice_;
  rocksdb::Slice hi_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool reverse_ = false;
};

class RocksDBTable final : public CommittedTable {
 public:
  RocksDBTable(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}
  [[nodiscard]] Kind kind() const override { return Kind::kRocksDB; }
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_rocksdb(s, "get from " + cf_->GetName());
    return std::optional<std::string>(value.ToString());
  }
  [[nodiscard]] std::unique_ptr<KeyValueIterator> scan(std::string_view lo, std::optional<std::string_view> hi,
                                                       bool reverse) override {
    return std::make_unique<RocksDBIterator>(db_, cf_, lo, hi, reverse);
  }
  [[nodiscard]] uint64_t approximate_num_entries() override {
    uint64_t n = 0;
    if (!db_->GetIntProperty(cf_, "rocksdb.estimate-num-keys", &n)) return 0;
    return n;
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

rocksdb::ColumnFamilyOptions column_family_options(const RocksDBResources& resources) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = resources.cache();
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_size = size_t{16} << 20;
  options.max_write_buffer_number = 3;
  return options;
}

rocksdb::DBOptions db_options(const RocksDBResources& resources) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.atomic_flush = true;  // restoration writes skip the WAL: flush all column families together
  options.write_buffer_manager = resources.write_buffer_manager();
  options.max_background_jobs = 2;
  options.max_open_files = 256;
  options.keep_log_file_num = 2;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  return options;
}

}  // namespace

absl::Status from_rocksdb(const rocksdb::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  std::string message = "rocksdb " + what + ": " + status.ToString();
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()) return absl::UnavailableError(message);
  if (status.IsInvalidArgument() || status.IsNotSupported()) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::unique_ptr<RocksDBTaskDb>> RocksDBTaskDb::open(const std::filesystem::path& dir,
                                                                   RocksDBResources& resources,
                                                                   const std::vector<std::string>& stores) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError("cannot create " + dir.string() + ": " + ec.message());

  const rocksdb::DBOptions options = db_options(resources);
  const rocksdb::ColumnFamilyOptions cf_options = column_family_options(resources);
  // Every existing column family must be opened, also those of stores no longer in the topology.
  std::vector<std::string> names;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(options, dir.string(), &names);
  if (!listed.ok()) names = {rocksdb::kDefaultColumnFamilyName};  // a new DB
  for (const std::string& store : stores) {
    std::string cf = kColumnFamilyPrefix + store;
    if (std::find(names.begin(), names.end(), cf) == names.end()) names.push_back(cf);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) descriptors.emplace_back(name, cf_options);

  auto db = std::unique_ptr<RocksDBTaskDb>(new RocksDBTaskDb());
  db->dir_ = dir;
  rocksdb::DB* raw = nullptr;
  KSTREAMS_RETURN_IF_ERROR(
      from_rocksdb(rocksdb::DB::Open(options, dir.string(), descriptors, &db->handles_, &raw), "open " + dir.string()));
  db->db_.reset(raw);
  for (rocksdb::ColumnFamilyHandle* handle : db->handles_) {
    const std::string& name = handle->GetName();
    if (name == rocksdb::kDefaultColumnFamilyName) {
      db->default_cf_ = handle;
    } else if (name.rfind(kColumnFamilyPrefix, 0) == 0) {
      db->column_families_[name.substr(sizeof(kColumnFamilyPrefix) - 1)] = handle;
    }
  }
  KSTREAMS_CHECK(db->default_cf_ != nullptr, "RocksDB opened without its default column family");
  KSTREAMS_RETURN_IF_ERROR(db->load_offsets());
  db->resources_ = &resources;
  resources.register_db(db.get());
  return db;
}

absl::Status RocksDBTaskDb::load_offsets() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), default_cf_));
  for (it->Seek(kOffsetPrefix); it->Valid() && it->key().starts_with(kOffsetPrefix); it->Next()) {
    if (it->value().size() != 8) return absl::DataLossError("changelog offset of unexpected size in " + dir_.string());
    std::string store = it->key().ToString().substr(sizeof(kOffsetPrefix) - 1);
    offsets_[store] = static_cast<int64_t>(read_be64(it->value().data()));
  }
  return from_rocksdb(it->status(), "reading changelog offsets in " + dir_.string());
}

std::unique_ptr<CommittedTable> RocksDBTaskDb::table(const std::string& store) {
  auto it = column_families_.find(store);
  KSTREAMS_CHECK(it != column_families_.end(), "RocksDBTaskDb::table for a store that was not opened");
  return std::make_unique<RocksDBTable>(db_.get(), it->second);
}

absl::Status RocksDBTaskDb::flush_unflushed_writes() {
  if (!unflushed_writes_) return absl::OkStatus();
  rocksdb::FlushOptions options;
  options.wait = true;
  KSTREAMS_RETURN_IF_ERROR(from_rocksdb(db_->Flush(options, handles_), "flush of " + dir_.string()));
  unflushed_writes_ = false;
  return absl::OkStatus();
}

absl::Status RocksDBTaskDb::write(const std::vector<StoreWrites>& stores,
                                  const std::map<std::string, int64_t>& offsets) {
  KSTREAMS_CHECK(db_ != nullptr, "RocksDBTaskDb::write after close");
  rocksdb::WriteBatch batch;
  for (const StoreWrites& s : stores) {
    rocksdb::ColumnFamilyHandle* cf = column_families_.at(*s.store);
    for (const auto& [begin, end] : s.writes->range_deletes) {
      KSTREAMS_RETURN_IF_ERROR(from_rocksdb(batch.DeleteRange(cf, begin, end), "range delete"));
    }
    for (const auto& [key, value] : s.writes->writes) {
      rocksdb::Status st = value ? batch.Put(cf, key, *value) : batch.Delete(cf, key);
      KSTREAMS_RETURN_IF_ERROR(from_rocksdb(st, "batch write"));
    }
  }
  for (const auto& [store, offset] : offsets) {
    std::string value;
    append_be64(&value, static_cast<uint64_t>(offset));
    KSTREAMS_RETURN_IF_ERROR(from_rocksdb(batch.Put(default_cf_, kOffsetPrefix + store, value), "batch write"));
  }
  if (batch.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // the changelog is the log (class comment)
  KSTREAMS_RETURN_IF_ERROR(from_rocksdb(db_->Write(options, &batch), "commit in " + dir_.string()));
  if (!unflushed_writes_) {
    unflushed_writes_ = true;
    oldest_unflushed_ = std::chrono::steady_clock::now();
  }
  KSTREAMS_RETURN_IF_ERROR(maybe_flush());
  resources_->enforce_memtable_budget();
  return absl::OkStatus();
}

absl::Status RocksDBTaskDb::maybe_flush() {
  const std::chrono::milliseconds interval = resources_->flush_interval();
  if (interval.count() == 0) return flush_unflushed_writes();
  if (std::chrono::steady_clock::now() - oldest_unflushed_ < interval) return absl::OkStatus();
  // In the background: RocksDB's flush thread writes the files; the stream thread goes on.
  rocksdb::FlushOptions options;
  options.wait = false;
  options.allow_write_stall = true;
  KSTREAMS_RETURN_IF_ERROR(from_rocksdb(db_->Flush(options, handles_), "flush of " + dir_.string()));
  unflushed_writes_ = false;
  return absl::OkStatus();
}

uint64_t RocksDBTaskDb::unflushed_entries() {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    uint64_t active = 0;
    uint64_t immutable = 0;
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kNumEntriesActiveMemTable, &active)) total += active;
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kNumEntriesImmMemTables, &immutable)) total += immutable;
  }
  return total;
}

uint64_t RocksDBTaskDb::memtable_bytes() {
  uint64_t bytes = 0;
  if (!db_ || !db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &bytes)) return 0;
  return bytes;
}

absl::Status RocksDBTaskDb::flush_memtables() {
  rocksdb::FlushOptions options;
  options.wait = true;
  options.allow_write_stall = true;
  return from_rocksdb(db_->Flush(options, handles_), "flush of " + dir_.string());
}

void RocksDBTaskDb::release() {
  if (resources_ != nullptr) resources_->unregister_db(this);
  resources_ = nullptr;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    rocksdb::Status ignored = db_->DestroyColumnFamilyHandle(handle);
    (void)ignored;  // only fails for the default handle, which RocksDB keeps itself
  }
  handles_.clear();
  column_families_.clear();
  default_cf_ = nullptr;
}

absl::Status RocksDBTaskDb::close() {
  if (!db_) return absl::OkStatus();
  absl::Status flushed = flush_memtables();  // also completes a background flush still running
  release();
  absl::Status closed = from_rocksdb(db_->Close(), "close " + dir_.string());
  db_.reset();
  return flushed.ok() ? closed : flushed;
}

absl::Status RocksDBTaskDb::close_without_flush() {
  if (!db_) return absl::OkStatus();
  rocksdb::Status ignored = db_->SetDBOptions({{"avoid_flush_during_shutdown", "true"}});
  (void)ignored;
  release();
  absl::Status closed = from_rocksdb(db_->Close(), "close " + dir_.string());
  db_.reset();
  return closed;
}

RocksDBTaskDb::~RocksDBTaskDb() {
  if (!db_) return;
  // Not closed: behave like a crash and persist nothing that is not already in SST files.
  rocksdb::Status ignored = db_->SetDBOptions({{"avoid_flush_during_shutdown", "true"}});
  (void)ignored;
  release();
  db_.reset();
}

}  // namespace kstreams::state::internal
