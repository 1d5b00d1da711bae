#include "kstreams/common/metrics.h"

#include <algorithm>

namespace kstreams {

const std::vector<double>& latency_buckets_ms() {
  static const std::vector<double> buckets = {0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
  return buckets;
}

namespace {
void atomic_add(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}
}  // namespace

struct InMemoryMetrics::Series final : Counter, Gauge, Histogram {
  int kind = 0;
  std::atomic<double> v{0};
  std::atomic<uint64_t> n{0};
  void increment(double d) override { atomic_add(v, d); }
  void set(double d) override { v.store(d, std::memory_order_relaxed); }
  void add(double d) override { atomic_add(v, d); }
  void observe(double d) override {
    atomic_add(v, d);
    n.fetch_add(1, std::memory_order_relaxed);
  }
  [[nodiscard]] double value() const override { return v.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t count() const override { return n.load(std::memory_order_relaxed); }
  [[nodiscard]] double sum() const override { return v.load(std::memory_order_relaxed); }
};

InMemoryMetrics::InMemoryMetrics() = default;
InMemoryMetrics::~InMemoryMetrics() = default;

InMemoryMetrics::Series& InMemoryMetrics::find_or_create(const std::string& name, const Labels& labels, int kind) {
  std::lock_guard lock(mu_);
  auto& slot = series_[{name, labels}];
  if (!slot) {
    slot = std::make_unique<Series>();
    slot->kind = kind;
  }
  return *slot;
}

Counter& InMemoryMetrics::counter(const std::string& name, const std::string&, const Labels& labels) {
  return find_or_create(name, labels, 0);
}
Gauge& InMemoryMetrics::gauge(const std::string& name, const std::string&, const Labels& labels) {
  return find_or_create(name, labels, 1);
}
Histogram& InMemoryMetrics::histogram(const std::string& name, const std::string&, const Labels& labels,
                                      const std::vector<double>&) {
  return find_or_create(name, labels, 2);
}

void InMemoryMetrics::remove_matching(const Labels&) {
  // Handles given out must stay valid for the registry's lifetime (components may still hold them),
  // so the in-memory registry keeps every series; totals stay correct for tests.
}

double InMemoryMetrics::total(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  double sum = 0;
  for (const auto& entry : series_) {
    const std::string& series_name = entry.first.first;
    const Labels& series_labels = entry.first.second;
    if (series_name != name) continue;
    const bool match = std::all_of(labels.begin(), labels.end(), [&series_labels](const auto& kv) {
      auto it = series_labels.find(kv.first);
      return it != series_labels.end() && it->second == kv.second;
    });
    const Series& series = *entry.second;
    if (match) sum += series.kind == 2 ? static_cast<double>(series.count()) : series.value();
  }
  return sum;
}

}  // namespace kstreams
