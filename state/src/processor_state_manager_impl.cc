#include "processor_state_manager_impl.h"

#include <chrono>

#include "in_memory_table.h"
#include "kstreams/common/fault_points.h"
#include "rocksdb_resources.h"
#include "segmented_session_store.h"
#include "segmented_window_store.h"
#include "table_key_value_store.h"

namespace kstreams::state {

absl::StatusOr<std::unique_ptr<ProcessorStateManager>> ProcessorStateManager::open(
    const StateManagerOptions& options, const std::vector<StoreSpec>& specs) {
  auto manager = std::make_unique<internal::ProcessorStateManagerImpl>(options, specs);
  KSTREAMS_RETURN_IF_ERROR(manager->init());
  return std::unique_ptr<ProcessorStateManager>(std::move(manager));
}

namespace internal {

ProcessorStateManagerImpl::ProcessorStateManagerImpl(const StateManagerOptions& options, std::vector<StoreSpec> specs)
    : options_(options), specs_(std::move(specs)) {
  context_.changelog = options.changelog;
}

ProcessorStateManagerImpl::~ProcessorStateManagerImpl() = default;

absl::Status ProcessorStateManagerImpl::init() {
  std::vector<std::string> persistent;
  for (const StoreSpec& spec : specs_) {
    if (spec.name.empty()) return absl::InvalidArgumentError("a store needs a name");
    if (index_.contains(spec.name)) {
      return absl::InvalidArgumentError("store " + spec.name + " is declared twice in task " +
                                        options_.task.to_string());
    }
    index_.emplace(spec.name, index_.size());
    if (spec.persistent) persistent.push_back(spec.name);
  }
  std::vector<std::string> names;
  for (const StoreSpec& spec : specs_) names.push_back(spec.name);
  probe_ = StateProbe(options_.metrics, options_.task, names);
  context_.probe = &probe_;
  if (options_.changelog != nullptr && options_.changelog_cache != nullptr &&
      options_.changelog_cache->max_bytes() > 0) {
    changelog_buffer_ = std::make_unique<ChangelogBuffer>(options_.changelog, options_.changelog_cache, &probe_);
    context_.changelog = changelog_buffer_.get();
  }
  if (!options_.task_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.task_dir, ec);
    if (ec)
      return absl::InternalError("cannot create task directory " + options_.task_dir.string() + ": " + ec.message());
  }
  if (!persistent.empty()) {
    if (options_.task_dir.empty()) {
      return absl::InvalidArgumentError("task " + options_.task.to_string() + " has persistent stores but no task_dir");
    }
    StoreResources* resources = options_.resources;
    if (resources == nullptr) {
      owned_resources_ = StoreResources::create(kDefaultStoreMemoryBytes);
      resources = owned_resources_.get();
    }
    auto* rocksdb_resources = dynamic_cast<RocksDBResources*>(resources);
    if (rocksdb_resources == nullptr) {
      return absl::InvalidArgumentError("StateManagerOptions::resources must come from StoreResources::create");
    }
    KSTREAMS_ASSIGN_OR_RETURN(db_, RocksDBTaskDb::open(options_.task_dir / "rocksdb", *rocksdb_resources, persistent));
    for (const auto& [store, offset] : db_->offsets_at_open()) {
      if (index_.contains(store)) offsets_[store] = offset;
    }
  }
  for (const StoreSpec& spec : specs_) {
    std::unique_ptr<CommittedTable> table;
    if (spec.persistent) {
      table = db_->table(spec.name);
    } else {
      table = std::make_unique<InMemoryTable>();
    }
    KSTREAMS_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store, make_store(spec, std::move(table), &context_));
    Slot slot;
    slot.txn = as_transactional(store.get());
    slot.store = std::move(store);
    if (spec.queryable) {
      CommittedTable* committed = &slot.txn->table().base();
      switch (spec.type) {
        case StoreType::kKeyValue:
          slot.read_only_key_value = make_read_only_key_value_view(committed);
          break;
        case StoreType::kWindow:
          slot.read_only_window = make_read_only_window_view(spec, committed);
          break;
        case StoreType::kSession:
          slot.read_only_session = make_read_only_session_view(spec, committed);
          break;
      }
    }
    slots_.push_back(std::move(slot));
  }
  return absl::OkStatus();
}

ProcessorStateManagerImpl::Slot* ProcessorStateManagerImpl::find(std::string_view name) {
  if (closed_) return nullptr;
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &slots_[it->second];
}

StateStore* ProcessorStateManagerImpl::store(std::string_view name) {
  Slot* slot = find(name);
  return slot == nullptr ? nullptr : slot->store.get();
}

KeyValueBytesStore* ProcessorStateManagerImpl::key_value_store(std::string_view name) {
  StateStore* s = store(name);
  return s != nullptr && s->type() == StoreType::kKeyValue ? static_cast<KeyValueBytesStore*>(s) : nullptr;
}

WindowBytesStore* ProcessorStateManagerImpl::window_store(std::string_view name) {
  StateStore* s = store(name);
  return s != nullptr && s->type() == StoreType::kWindow ? static_cast<WindowBytesStore*>(s) : nullptr;
}

SessionBytesStore* ProcessorStateManagerImpl::session_store(std::string_view name) {
  StateStore* s = store(name);
  return s != nullptr && s->type() == StoreType::kSession ? static_cast<SessionBytesStore*>(s) : nullptr;
}

ReadOnlyKeyValueStore* ProcessorStateManagerImpl::read_only_key_value_store(std::string_view name) {
  Slot* slot = find(name);
  return slot == nullptr ? nullptr : slot->read_only_key_value.get();
}

ReadOnlyWindowStore* ProcessorStateManagerImpl::read_only_window_store(std::string_view name) {
  Slot* slot = find(name);
  return slot == nullptr ? nullptr : slot->read_only_window.get();
}

ReadOnlySessionStore* ProcessorStateManagerImpl::read_only_session_store(std::string_view name) {
  Slot* slot = find(name);
  return slot == nullptr ? nullptr : slot->read_only_session.get();
}

std::optional<int64_t> ProcessorStateManagerImpl::restore_offset(std::string_view store) const {
  auto it = offsets_.find(store);
  if (it == offsets_.end()) return std::nullopt;
  return it->second;
}

void ProcessorStateManagerImpl::drop_pending(Slot& slot) {
  slot.txn->table().clear_all();
  slot.txn->on_abort();
}

absl::Status ProcessorStateManagerImpl::seal(Slot& slot) {
  slot.txn->prepare_commit();
  return slot.txn->table().seal();
}

absl::Status ProcessorStateManagerImpl::apply(const std::vector<Slot*>& slots,
                                              const std::map<std::string, int64_t>& offsets, bool restoring) {
  if (restoring) {
    KSTREAMS_FAULT_POINT("state.restore.before_write");
  } else {
    KSTREAMS_FAULT_POINT("state.commit.before_write");
  }
  if (db_) {
    std::vector<RocksDBTaskDb::StoreWrites> writes;
    for (Slot* slot : slots) {
      if (slot->txn->table().base().kind() != CommittedTable::Kind::kRocksDB) continue;
      writes.push_back({&slot->txn->spec().name, &slot->txn->table().sealed()});
    }
    std::map<std::string, int64_t> persistent_offsets;
    for (const auto& [store, offset] : offsets) {
      if (specs_[index_.find(store)->second].persistent) persistent_offsets[store] = offset;
    }
    KSTREAMS_RETURN_IF_ERROR(db_->write(writes, persistent_offsets));
  }
  for (Slot* slot : slots) {
    TransactionalTable& table = slot->txn->table();
    if (table.base().kind() == CommittedTable::Kind::kInMemory) {
      static_cast<InMemoryTable&>(table.base()).apply(table.sealed());
    }
    table.clear_sealed();
    slot->txn->on_commit();
  }
  for (const auto& [store, offset] : offsets) offsets_[store] = offset;
  if (restoring) {
    KSTREAMS_FAULT_POINT("state.restore.after_write");
  } else {
    KSTREAMS_FAULT_POINT("state.commit.after_write");
  }
  return absl::OkStatus();
}

absl::Status ProcessorStateManagerImpl::restore_batch(std::string_view store, const std::vector<RawRecord>& records,
                                                      int64_t next_offset) {
  Slot* slot = find(store);
  if (slot == nullptr) {
    return absl::InvalidArgumentError("restore_batch: task " + options_.task.to_string() + " has no store " +
                                      std::string(store));
  }
  if (slot->txn->table().has_pending() || !slot->txn->table().sealed_layers().empty()) {
    return absl::FailedPreconditionError("restore_batch: store " + std::string(store) +
                                         " has uncommitted writes (restore before processing)");
  }
  for (const RawRecord& record : records) {
    absl::Status status = slot->txn->restore(record);
    if (!status.ok()) {
      drop_pending(*slot);
      return absl::Status(status.code(), "cannot restore store " + std::string(store) + " of task " +
                                             options_.task.to_string() + " from changelog " + record.topic + "-" +
                                             std::to_string(record.partition.value()) + " at offset " +
                                             std::to_string(record.offset.value()) + ": " +
                                             std::string(status.message()));
    }
  }
  absl::Status status = seal(*slot);
  if (status.ok()) status = apply({slot}, {{std::string(store), next_offset}}, /*restoring=*/true);
  if (!status.ok()) {
    drop_pending(*slot);
    return status;
  }
  probe_.record_restored(slot->txn->spec().name, records.size());
  return absl::OkStatus();
}

void ProcessorStateManagerImpl::flush_changelog() {
  if (changelog_buffer_) changelog_buffer_->flush_buffer();
}

absl::Status ProcessorStateManagerImpl::seal() {
  if (closed_) return absl::FailedPreconditionError("seal after close of task " + options_.task.to_string());
  if (changelog_buffer_ && !changelog_buffer_->empty()) {
    return absl::FailedPreconditionError("commit of task " + options_.task.to_string() + " with " +
                                         std::to_string(changelog_buffer_->held_records()) +
                                         " changelog records still held: flush_changelog() comes first");
  }
  if (sealed_ >= TransactionalTable::kMaxSealedLayers) {
    return absl::FailedPreconditionError("seal of task " + options_.task.to_string() + ": " + std::to_string(sealed_) +
                                         " transactions sealed before are not committed yet (commit or abort first)");
  }
  for (Slot& slot : slots_) KSTREAMS_RETURN_IF_ERROR(seal(slot));
  ++sealed_;
  return absl::OkStatus();
}

absl::Status ProcessorStateManagerImpl::commit(const std::map<std::string, int64_t>& changelog_next_offsets) {
  if (closed_) return absl::FailedPreconditionError("commit after close of task " + options_.task.to_string());
  for (const auto& [store, offset] : changelog_next_offsets) {
    if (!index_.contains(store)) {
      return absl::InvalidArgumentError("commit: task " + options_.task.to_string() + " has no store " + store);
    }
  }
  if (sealed_ == 0) KSTREAMS_RETURN_IF_ERROR(seal());
  std::vector<Slot*> slots;
  slots.reserve(slots_.size());
  for (Slot& slot : slots_) slots.push_back(&slot);
  const auto started = std::chrono::steady_clock::now();
  absl::Status status = apply(slots, changelog_next_offsets, /*restoring=*/false);
  if (!status.ok()) return status;
  --sealed_;
  probe_.record_commit(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  return absl::OkStatus();
}

void ProcessorStateManagerImpl::abort() {
  for (Slot& slot : slots_) drop_pending(slot);
  if (changelog_buffer_) changelog_buffer_->drop();
  sealed_ = 0;
}

bool ProcessorStateManagerImpl::has_uncommitted_writes() const {
  for (const Slot& slot : slots_) {
    if (slot.txn->table().has_pending() || slot.txn->table().has_sealed()) return true;
  }
  return false;
}

absl::Status ProcessorStateManagerImpl::close() { return close_stores(/*flush=*/true); }

absl::Status ProcessorStateManagerImpl::close_keeping_last_flush() { return close_stores(/*flush=*/false); }

absl::Status ProcessorStateManagerImpl::close_stores(bool flush) {
  if (closed_) return absl::OkStatus();
  abort();
  closed_ = true;
  slots_.clear();
  index_.clear();
  changelog_buffer_.reset();  // leaves the ChangelogCache
  if (!db_) return absl::OkStatus();
  absl::Status status = flush ? db_->close() : db_->close_without_flush();
  db_.reset();
  return status;
}

}  // namespace internal
}  // namespace kstreams::state
