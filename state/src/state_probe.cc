#include "state_probe.h"

namespace kstreams::state::internal {

StateProbe::StateProbe(MetricsRegistry* metrics, TaskId task, const std::vector<std::string>& stores) {
  if (metrics == nullptr) return;
  const std::string task_id = task.to_string();
  commit_latency_ = &metrics->histogram("kstreams_state_commit_latency_ms",
                                        "Time to apply a task's buffered store writes and changelog offsets",
                                        {{"task", task_id}}, latency_buckets_ms());
  for (const std::string& store : stores) {
    const Labels labels = {{"task", task_id}, {"store", store}};
    StoreMetrics& m = stores_[store];
    m.restored = &metrics->counter("kstreams_state_restored_records_total",
                                   "Changelog records applied to the store by restoration", labels);
    m.expired = &metrics->counter("kstreams_state_expired_writes_total",
                                  "Writes dropped because their window or session had expired", labels);
    m.coalesced = &metrics->counter("kstreams_state_changelog_coalesced_writes_total",
                                    "Logged writes that replaced a changelog record still held by the changelog "
                                    "cache (records not sent)",
                                    labels);
  }
}

void StateProbe::record_commit(double latency_ms) {
  if (commit_latency_ != nullptr) commit_latency_->observe(latency_ms);
}

void StateProbe::record_restored(const std::string& store, size_t records) {
  auto it = stores_.find(store);
  if (it != stores_.end()) it->second.restored->increment(static_cast<double>(records));
}

void StateProbe::record_expired_write(const std::string& store) {
  auto it = stores_.find(store);
  if (it != stores_.end()) it->second.expired->increment();
}

}  // namespace kstreams::state::internal

namespace kstreams::state::internal {

void StateProbe::record_coalesced_write(const std::string& store) {
  auto it = stores_.find(store);
  if (it != stores_.end()) it->second.coalesced->increment();
}

}  // namespace kstreams::state::internal
