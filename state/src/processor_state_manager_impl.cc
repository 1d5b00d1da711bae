#include "processor_state_manager_impl.h"

#include "in_memory_table.h"
#include "kstreams/common/fault_points.h"

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
  for (const StoreSpec& spec : specs_) {
    if (spec.name.empty()) return absl::InvalidArgumentError("a store needs a name");
    if (index_.contains(spec.name)) {
      return absl::InvalidArgumentError("store " + spec.name + " is declared twice in task " +
                                        options_.task.to_string());
    }
    // Until the RocksDB backend lands, persistent stores are kept in memory too.
    StoreSpec effective = spec;
    effective.persistent = false;
    KSTREAMS_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store,
                              make_store(effective, std::make_unique<InMemoryTable>(), &context_));
    Slot slot;
    slot.txn = as_transactional(store.get());
    slot.store = std::move(store);
    index_.emplace(spec.name, slots_.size());
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

std::optional<int64_t> ProcessorStateManagerImpl::restore_offset(std::string_view store) const {
  auto it = offsets_.find(store);
  if (it == offsets_.end()) return std::nullopt;
  return it->second;
}

void ProcessorStateManagerImpl::drop_pending(Slot& slot) {
  slot.txn->table().clear_pending();
  slot.txn->on_abort();
}

absl::Status ProcessorStateManagerImpl::apply(const std::vector<Slot*>& slots,
                                              const std::map<std::string, int64_t>& offsets, bool restoring) {
  for (Slot* slot : slots) slot->txn->prepare_commit();
  if (restoring) {
    KSTREAMS_FAULT_POINT("state.restore.before_write");
  } else {
    KSTREAMS_FAULT_POINT("state.commit.before_write");
  }
  for (Slot* slot : slots) {
    TransactionalTable& table = slot->txn->table();
    if (table.base().kind() == CommittedTable::Kind::kInMemory) {
      static_cast<InMemoryTable&>(table.base()).apply(table.pending());
    }
    table.clear_pending();
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
  if (slot->txn->table().has_pending()) {
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
  absl::Status status = apply({slot}, {{std::string(store), next_offset}}, /*restoring=*/true);
  if (!status.ok()) drop_pending(*slot);
  return status;
}

absl::Status ProcessorStateManagerImpl::commit(const std::map<std::string, int64_t>& changelog_next_offsets) {
  if (closed_) return absl::FailedPreconditionError("commit after close of task " + options_.task.to_string());
  for (const auto& [store, offset] : changelog_next_offsets) {
    if (!index_.contains(store)) {
      return absl::InvalidArgumentError("commit: task " + options_.task.to_string() + " has no store " + store);
    }
  }
  std::vector<Slot*> slots;
  slots.reserve(slots_.size());
  for (Slot& slot : slots_) slots.push_back(&slot);
  return apply(slots, changelog_next_offsets, /*restoring=*/false);
}

void ProcessorStateManagerImpl::abort() {
  for (Slot& slot : slots_) drop_pending(slot);
}

bool ProcessorStateManagerImpl::has_uncommitted_writes() const {
  for (const Slot& slot : slots_) {
    if (slot.txn->table().has_pending()) return true;
  }
  return false;
}

absl::Status ProcessorStateManagerImpl::close() {
  if (closed_) return absl::OkStatus();
  abort();
  closed_ = true;
  slots_.clear();
  index_.clear();
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace kstreams::state
