// GlobalStateTask: keeps the global stores (GlobalKTable) of a topology up to date. Every instance
// runs one, fed with every partition of every global topic (the topic is the changelog: global
// stores are not logged). Records are stored as their bytes (null value = delete); joins decode them.
//
// Driven like a StreamTask: add_records() as polled, then commit(next offsets) after they are
// applied. The runtime reads all partitions from `restore_offset`s before starting stream tasks.
// Ownership: owns the state manager of the global stores. Thread-safety: one thread (the driver's,
// or the runtime's global thread); stream tasks read the stores through store() on the same thread
// or through the stores' read-only views.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kstreams/state/state_manager.h"
#include "kstreams/topology/topology.h"

namespace kstreams::runtime {

class GlobalStateTask {
 public:
  GlobalStateTask(const Topology& topology, std::unique_ptr<state::ProcessorStateManager> state);

  // The store specs to open the state manager with (every global store of the topology).
  [[nodiscard]] static std::vector<state::StoreSpec> store_specs(const Topology& topology);

  // Applies records of one partition of a global topic to its store.
  [[nodiscard]] absl::Status add_records(const std::string& topic, int32_t partition,
                                         const std::vector<RawRecord>& records);
  // Makes the applied writes durable; records each partition's next offset.
  [[nodiscard]] absl::Status commit();
  [[nodiscard]] state::StateStore* store(std::string_view name) const;
  [[nodiscard]] const std::map<std::pair<std::string, int32_t>, int64_t>& offsets() const { return offsets_; }
  [[nodiscard]] absl::Status close();

 private:
  std::unique_ptr<state::ProcessorStateManager> state_;
  std::map<std::string, state::KeyValueBytesStore*> store_by_topic_;
  std::map<std::pair<std::string, int32_t>, int64_t> offsets_;
};

}  // namespace kstreams::runtime
