#include "prometheus_metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>

#include "kstreams/common/status.h"

namespace kstreams::runtime {
namespace {

bool valid_metric_name(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool labels_include(const Labels& series, const Labels& wanted) {
  for (const auto& [k, v] : wanted) {
    auto it = series.find(k);
    if (it == series.end() || it->second != v) return false;
  }
  return true;
}

class PromCounter final : public Counter {
 public:
  // prometheus::Counter ignores negative increments: counters only go up.
  void increment(double v) override { impl_.Increment(v); }
  [[nodiscard]] double value() const override { return impl_.Value(); }
  [[nodiscard]] prometheus::ClientMetric collect() const { return impl_.Collect(); }

 private:
  prometheus::Counter impl_;
};

class PromGauge final : public Gauge {
 public:
  void set(double v) override { impl_.Set(v); }
  void add(double v) override { impl_.Increment(v); }
  [[nodiscard]] double value() const override { return impl_.Value(); }
  [[nodiscard]] prometheus::ClientMetric collect() const { return impl_.Collect(); }

 private:
  prometheus::Gauge impl_;
};

// Lock-free histogram (prometheus::Histogram takes a mutex per observation). The count is the sum of
// the buckets, so an exposition is always self-consistent (+Inf bucket == _count).
class PromHistogram final : public Histogram {
 public:
  explicit PromHistogram(std::vector<double> bounds) : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {}

  void observe(double v) override {
    // Prometheus buckets are "less or equal": the first bound >= v; past the last one is +Inf.
    const auto i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.Increment(v);
  }
  [[nodiscard]] uint64_t count() const override {
    uint64_t n = 0;
    for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
    return n;
  }
  [[nodiscard]] double sum() const override { return sum_.Value(); }

  [[nodiscard]] prometheus::ClientMetric collect() const {
    prometheus::ClientMetric m;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      cumulative += buckets_[i].load(std::memory_order_relaxed);
      prometheus::ClientMetric::Bucket b;
      b.cumulative_count = cumulative;
      b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(b);
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = sum_.Value();
    return m;
  }

 private:
  const std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> buckets_;
  prometheus::Gauge sum_;  // an atomic double (Gauge::Increment accepts negative values)
};

std::vector<double> normalized_buckets(const std::vector<double>& requested) {
  std::vector<double> out;
  for (double b : requested.empty() ? latency_buckets_ms() : requested) {
    if (std::isinf(b) && b > 0) continue;  // +Inf is implicit
    KSTREAMS_CHECK(std::isfinite(b), "histogram bucket bounds must be finite numbers");
    KSTREAMS_CHECK(out.empty() || b > out.back(), "histogram bucket bounds must be strictly increasing");
    out.push_back(b);
  }
  return out;
}

}  // namespace

struct PrometheusMetrics::Series {
  Labels labels;
  std::unique_ptr<PromCounter> counter;
  std::unique_ptr<PromGauge> gauge;
  std::unique_ptr<PromHistogram> histogram;

  [[nodiscard]] prometheus::ClientMetric collect() const {
    prometheus::ClientMetric m = counter ? counter->collect() : gauge ? gauge->collect() : histogram->collect();
    for (const auto& [k, v] : labels) m.label.push_back({k, v});
    return m;
  }
};

PrometheusMetrics::PrometheusMetrics() = default;
PrometheusMetrics::~PrometheusMetrics() = default;

PrometheusMetrics::Series& PrometheusMetrics::find_or_create(const std::string& name, const std::string& help,
                                                             const Labels& labels, Kind kind,
                                                             const std::vector<double>& buckets) {
  std::lock_guard lock(mu_);
  auto fit = families_.find(name);
  if (fit == families_.end()) {
    KSTREAMS_CHECK(valid_metric_name(name), "invalid Prometheus metric name");
    Family family{kind, help, kind == Kind::kHistogram ? normalized_buckets(buckets) : std::vector<double>{}, {}};
    fit = families_.emplace(name, std::move(family)).first;
  }
  Family& family = fit->second;
  KSTREAMS_CHECK(family.kind == kind, "a metric name was registered with two different types");
  auto sit = family.series.find(labels);
  if (sit != family.series.end()) return *sit->second;

  for (const auto& [k, v] : labels) KSTREAMS_CHECK(valid_label_name(k), "invalid Prometheus label name");
  auto series = std::make_unique<Series>();
  series->labels = labels;
  switch (kind) {
    case Kind::kCounter:
      series->counter = std::make_unique<PromCounter>();
      break;
    case Kind::kGauge:
      series->gauge = std::make_unique<PromGauge>();
      break;
    case Kind::kHistogram:
      series->histogram = std::make_unique<PromHistogram>(family.buckets);
      break;
  }
  return *family.series.emplace(labels, std::move(series)).first->second;
}

Counter& PrometheusMetrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  return *find_or_create(name, help, labels, Kind::kCounter, {}).counter;
}

Gauge& PrometheusMetrics::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  return *find_or_create(name, help, labels, Kind::kGauge, {}).gauge;
}

Histogram& PrometheusMetrics::histogram(const std::string& name, const std::string& help, const Labels& labels,
                                        const std::vector<double>& buckets) {
  return *find_or_create(name, help, labels, Kind::kHistogram, buckets).histogram;
}

void PrometheusMetrics::remove_matching(const Labels& labels) {
  std::lock_guard lock(mu_);
  for (auto fit = families_.begin(); fit != families_.end();) {
    auto& series = fit->second.series;
    for (auto sit = series.begin(); sit != series.end();) {
      if (labels_include(sit->first, labels)) {
        retired_.push_back(std::move(sit->second));
        sit = series.erase(sit);
      } else {
        ++sit;
      }
    }
    // A family without series disappears from the exposition, but keeps nothing alive: drop it
    // (its type and buckets are decided afresh if it is registered again).
    fit = series.empty() ? families_.erase(fit) : std::next(fit);
  }
}

std::string PrometheusMetrics::text() const {
  std::vector<prometheus::MetricFamily> families;
  {
    std::lock_guard lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      prometheus::MetricFamily out;
      out.name = name;
      out.help = family.help;
      out.type = family.kind == Kind::kCounter ? prometheus::MetricType::Counter
                 : family.kind == Kind::kGauge ? prometheus::MetricType::Gauge
                                               : prometheus::MetricType::Histogram;
      for (const auto& [labels, series] : family.series) out.metric.push_back(series->collect());
      families.push_back(std::move(out));
    }
  }
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, families);
  return os.str();
}

size_t PrometheusMetrics::series_count() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [name, family] : families_) n += family.series.size();
  return n;
}

}  // namespace kstreams::runtime
