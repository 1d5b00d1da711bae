#include "kstreams/common/fault_points.h"

#include <atomic>
#include <mutex>

#include "absl/container/flat_hash_map.h"

namespace kstreams::fault {
namespace {

struct Armed {
  FaultSpec spec;
  int64_t hits = 0;
  int fired = 0;
};

struct Registry {
  std::mutex mu;
  absl::flat_hash_map<std::string, Armed> points;
  std::atomic<int> armed{0};  // fast path: zero means every hit() returns ok at once
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: points may be hit during static teardown
  return *r;
}

}  // namespace

void arm(std::string_view point, FaultSpec spec) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.points[std::string(point)] = Armed{std::move(spec), 0, 0};
  r.armed.store(static_cast<int>(r.points.size()), std::memory_order_release);
}

void disarm(std::string_view point) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.points.erase(std::string(point));
  r.armed.store(static_cast<int>(r.points.size()), std::memory_order_release);
}

void disarm_all() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.points.clear();
  r.armed.store(0, std::memory_order_release);
}

int64_t hits(std::string_view point) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.points.find(std::string(point));
  return it == r.points.end() ? 0 : it->second.hits;
}

absl::Status hit(std::string_view point) {
  Registry& r = registry();
  if (r.armed.load(std::memory_order_relaxed) == 0) return absl::OkStatus();
  FaultAction action;
  absl::Status error;
  {
    std::lock_guard lock(r.mu);
    auto it = r.points.find(std::string(point));
    if (it == r.points.end()) return absl::OkStatus();
    Armed& a = it->second;
    ++a.hits;
    if (a.hits <= a.spec.skip) return absl::OkStatus();
    if (a.spec.times >= 0 && a.fired >= a.spec.times) return absl::OkStatus();
    ++a.fired;
    action = a.spec.action;
    error = a.spec.error;
  }
  if (action == FaultAction::kCrash) throw SimulatedCrash(std::string(point));
  return error;
}

}  // namespace kstreams::fault
