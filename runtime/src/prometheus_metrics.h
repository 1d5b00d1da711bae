// PrometheusMetrics: the MetricsRegistry the runtime records into, exposed in the Prometheus text
// format 0.0.4 (prometheus-cpp's data model and TextSerializer).
//
// Handles: every Counter&/Gauge&/Histogram& returned stays valid for the registry's lifetime, even
// after remove_matching() dropped its series from the exposition: the series object is moved to a
// retired list and kept alive (recording on it is harmless and invisible). Asking again for a removed
// (name, labels) creates a fresh series starting from zero (a counter reset, as Prometheus expects).
// The retired list grows with task churn only (one small object per series per revocation).
//
// Naming: `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not
// start with "__"; one name has one type (a counter named like an existing gauge is a programming
// error). Violations fail KSTREAMS_CHECK at registration, never on the record path.
//
// Thread-safety: all methods may be called concurrently. Registration, removal and text() take one
// mutex; recording on a handle is lock-free (atomics only).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kstreams/common/metrics.h"

namespace kstreams::runtime {

class PrometheusMetrics final : public MetricsRegistry {
 public:
  PrometheusMetrics();
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels) override;
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels) override;
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels,
                       const std::vector<double>& buckets) override;
  void remove_matching(const Labels& labels) override;

  // Every live series in the Prometheus text exposition format, version 0.0.4, families sorted by
  // name. Serve it with `Content-Type: text/plain; version=0.0.4`.
  [[nodiscard]] std::string text() const;

  // Number of live (exposed) series; for tests and diagnostics.
  [[nodiscard]] size_t series_count() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Series;
  struct Family {
    Kind kind;
    std::string help;
    std::vector<double> buckets;  // histograms only: sorted upper bounds
    std::map<Labels, std::unique_ptr<Series>> series;
  };

  Series& find_or_create(const std::string& name, const std::string& help, const Labels& labels, Kind kind,
                         const std::vector<double>& buckets);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<std::unique_ptr<Series>> retired_;  // removed series, kept so handles stay valid
};

}  // namespace kstreams::runtime
