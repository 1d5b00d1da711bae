// The state module's metrics for one task (STYLE.md "probes"): registered once at open, recorded
// lock-free. With a null registry every call is a no-op. Metric handles are left registered at
// close; the runtime drops a revoked task's series with MetricsRegistry::remove_matching({task}).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kstreams/common/metrics.h"
#include "kstreams/common/types.h"

namespace kstreams::state::internal {

class StateProbe {
 public:
  StateProbe() = default;
  StateProbe(MetricsRegistry* metrics, TaskId task, const std::vector<std::string>& stores);

  void record_commit(double latency_ms);
  void record_restored(const std::string& store, size_t records);
  // A write to a window or session store arrived after its window had expired and was dropped.
  void record_expired_write(const std::string& store);
  // A logged write replaced a changelog record the ChangelogCache still held (one record less sent).
  void record_coalesced_write(const std::string& store);

 private:
  struct StoreMetrics {
    Counter* restored = nullptr;
    Counter* expired = nullptr;
    Counter* coalesced = nullptr;
  };
  Histogram* commit_latency_ = nullptr;
  std::map<std::string, StoreMetrics, std::less<>> stores_;
};

}  // namespace kstreams::state::internal
