#include "global_state_task.h"

namespace kstreams::runtime {

GlobalStateTask::GlobalStateTask(const Topology& topology, std::unique_ptr<state::ProcessorStateManager> state)
    : state_(std::move(state)) {
  for (const auto& g : topology.global_stores()) {
    auto* s = state_ ? state_->key_value_store(g.spec.name) : nullptr;
    KSTREAMS_CHECK(s != nullptr, "global store missing from the global state manager");
    store_by_topic_[g.topic] = s;
  }
}

std::vector<state::StoreSpec> GlobalStateTask::store_specs(const Topology& topology) {
  std::vector<state::StoreSpec> out;
  for (const auto& g : topology.global_stores()) out.push_back(g.spec);
  return out;
}

absl::Status GlobalStateTask::add_records(const std::string& topic, int32_t partition,
                                          const std::vector<RawRecord>& records) {
  auto it = store_by_topic_.find(topic);
  if (it == store_by_topic_.end()) return absl::InvalidArgumentError("not a global topic: " + topic);
  for (const auto& r : records) {
    if (!r.key) continue;  // a table row needs a key
    state_->set_record_timestamp(r.timestamp);
    KSTREAMS_RETURN_IF_ERROR(r.value ? it->second->put(*r.key, *r.value) : it->second->remove(*r.key));
    offsets_[{topic, partition}] = r.offset.value() + 1;
  }
  return absl::OkStatus();
}

absl::Status GlobalStateTask::commit() { return state_->commit({}); }

state::StateStore* GlobalStateTask::store(std::string_view name) const { return state_->store(name); }

absl::Status GlobalStateTask::close() { return state_->close(); }

}  // namespace kstreams::runtime
