// The metrics interface every layer records into; runtime exposes it in Prometheus text format.
//
// Names follow `kstreams_<area>_<thing>_<unit>` with labels thread / task / store. A metric handle
// returned by the registry lives as long as the registry; recording on it is thread-safe and
// lock-free, so it may sit on the per-record path. Looking a metric up takes a lock: do it once,
// when a component is created, and keep the handle (see STYLE.md, "probes").
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kstreams {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  virtual ~Counter() = default;
  virtual void increment(double v = 1) = 0;
  [[nodiscard]] virtual double value() const = 0;
};

class Gauge {
 public:
  virtual ~Gauge() = default;
  virtual void set(double v) = 0;
  virtual void add(double v) = 0;
  [[nodiscard]] virtual double value() const = 0;
};

class Histogram {
 public:
  virtual ~Histogram() = default;
  virtual void observe(double v) = 0;
  [[nodiscard]] virtual uint64_t count() const = 0;
  [[nodiscard]] virtual double sum() const = 0;
};

class MetricsRegistry {
 public:
  virtual ~MetricsRegistry() = default;
  // The same (name, labels) returns the same handle.
  virtual Counter& counter(const std::string& name, const std::string& help, const Labels& labels) = 0;
  virtual Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels) = 0;
  // `buckets` are upper bounds; used only when the family is first created.
  virtual Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels,
                               const std::vector<double>& buckets) = 0;
  // Drops every metric carrying all of `labels` (for example a task that was revoked).
  virtual void remove_matching(const Labels& labels) = 0;
};

// Default latency buckets in milliseconds.
const std::vector<double>& latency_buckets_ms();

// A self-contained registry (no exposition): the TopologyTestDriver and unit tests read values back.
class InMemoryMetrics final : public MetricsRegistry {
 public:
  InMemoryMetrics();
  ~InMemoryMetrics() override;
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels) override;
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels) override;
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels,
                       const std::vector<double>& buckets) override;
  void remove_matching(const Labels& labels) override;

  // Sum of every series of `name` whose labels include `labels` (0 when there is none).
  [[nodiscard]] double total(const std::string& name, const Labels& labels = {}) const;

 private:
  struct Series;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, Labels>, std::unique_ptr<Series>> series_;
  Series& find_or_create(const std::string& name, const Labels& labels, int kind);
};

}  // namespace kstreams
