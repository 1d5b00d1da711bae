#include "segmented_session_store.h"
#include "segmented_window_store.h"
#include "table_key_value_store.h"
#include "transactional_store.h"

namespace kstreams::state::internal {

absl::StatusOr<std::unique_ptr<StateStore>> make_store(const StoreSpec& spec, std::unique_ptr<CommittedTable> table,
                                                       StoreContext* context) {
  switch (spec.type) {
    case StoreType::kKeyValue:
      return std::unique_ptr<StateStore>(std::make_unique<TableKeyValueStore>(spec, std::move(table), context));
    case StoreType::kWindow: {
      auto store = std::make_unique<SegmentedWindowStore>(spec, std::move(table), context);
      KSTREAMS_RETURN_IF_ERROR(store->load());
      return std::unique_ptr<StateStore>(std::move(store));
    }
    case StoreType::kSession: {
      auto store = std::make_unique<SegmentedSessionStore>(spec, std::move(table), context);
      KSTREAMS_RETURN_IF_ERROR(store->load());
      return std::unique_ptr<StateStore>(std::move(store));
    }
  }
  return absl::InvalidArgumentError("unknown store type for store " + spec.name);
}

TransactionalStore* as_transactional(StateStore* store) {
  switch (store->type()) {
    case StoreType::kKeyValue:
      return static_cast<TableKeyValueStore*>(store);
    case StoreType::kWindow:
      return static_cast<SegmentedWindowStore*>(store);
    case StoreType::kSession:
      return static_cast<SegmentedSessionStore*>(store);
  }
  KSTREAMS_CHECK(false, "unknown store type");
}

}  // namespace kstreams::state::internal
