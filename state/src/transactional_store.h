// What ProcessorStateManagerImpl needs from each store besides the public store interface: its
// transactional table, changelog restoration, and commit/abort hooks.
#pragma once

#include <memory>
#include <string>

#include "kstreams/common/record.h"
#include "kstreams/state/state_manager.h"
#include "kstreams/state/store.h"
#include "state_probe.h"
#include "transactional_table.h"

namespace kstreams::state::internal {

// Shared by the stores of one task; owned by the manager.
struct StoreContext {
  ChangelogWriter* changelog = nullptr;
  TimestampMs record_timestamp = kNoTimestamp;
  StateProbe* probe = nullptr;  // never null once the manager is initialised
};

class TransactionalStore {
 public:
  virtual ~TransactionalStore() = default;
  [[nodiscard]] virtual const StoreSpec& spec() const = 0;
  [[nodiscard]] virtual TransactionalTable& table() = 0;
  // Applies one changelog record (its key and value in the changelog encoding) without logging it.
  // kDataLoss (without location: the caller adds store/topic/offset) when it does not decode.
  [[nodiscard]] virtual absl::Status restore(const RawRecord& record) = 0;
  // Before the pending writes are applied: adds the store's own metadata to them.
  virtual void prepare_commit() {}
  // After the pending writes were applied / dropped.
  virtual void on_commit() {}
  virtual void on_abort() {}
};

// Builds the store described by `spec` over `table` (the committed state). `context` outlives it.
[[nodiscard]] absl::StatusOr<std::unique_ptr<StateStore>> make_store(const StoreSpec& spec,
                                                                     std::unique_ptr<CommittedTable> table,
                                                                     StoreContext* context);
// The TransactionalStore side of a store made by make_store.
[[nodiscard]] TransactionalStore* as_transactional(StateStore* store);

}  // namespace kstreams::state::internal
