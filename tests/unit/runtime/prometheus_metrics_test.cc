#include "prometheus_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace kstreams::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(PrometheusMetricsTest, ExposesCounterWithHelpTypeAndLabels) {
  PrometheusMetrics metrics;
  metrics.counter("kstreams_task_records_processed_total", "Records processed.", {{"thread", "t1"}, {"task", "0_3"}})
      .increment(3);
  const std::string text = metrics.text();
  EXPECT_THAT(text, HasSubstr("# HELP kstreams_task_records_processed_total Records processed.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE kstreams_task_records_processed_total counter\n"));
  EXPECT_THAT(text, HasSubstr("kstreams_task_records_processed_total{task=\"0_3\",thread=\"t1\"} 3"));
}

TEST(PrometheusMetricsTest, SameNameAndLabelsReturnSameHandle) {
  PrometheusMetrics metrics;
  Counter& a = metrics.counter("kstreams_x_total", "x", {{"task", "0_1"}});
  Counter& b = metrics.counter("kstreams_x_total", "x", {{"task", "0_1"}});
  Counter& c = metrics.counter("kstreams_x_total", "x", {{"task", "0_2"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.increment();
  b.increment(2);
  EXPECT_EQ(a.value(), 3);
  EXPECT_EQ(c.value(), 0);
  EXPECT_EQ(metrics.series_count(), 2u);
}

TEST(PrometheusMetricsTest, CounterIgnoresNegativeIncrements) {
  PrometheusMetrics metrics;
  Counter& c = metrics.counter("kstreams_y_total", "y", {});
  c.increment(5);
  c.increment(-2);
  EXPECT_EQ(c.value(), 5);
}

TEST(PrometheusMetricsTest, GaugeSetsAndAdds) {
  PrometheusMetrics metrics;
  Gauge& g = metrics.gauge("kstreams_restore_remaining_records", "Records left to restore.", {{"store", "s"}});
  g.set(10);
  g.add(-4);
  EXPECT_EQ(g.value(), 6);
  EXPECT_THAT(metrics.text(), HasSubstr("# TYPE kstreams_restore_remaining_records gauge\n"));
  EXPECT_THAT(metrics.text(), HasSubstr("kstreams_restore_remaining_records{store=\"s\"} 6\n"));
}

TEST(PrometheusMetricsTest, HistogramHasCumulativeBucketsSumAndCount) {
  PrometheusMetrics metrics;
  Histogram& h = metrics.histogram("kstreams_commit_latency_ms", "Commit latency.", {{"thread", "t1"}}, {1, 5, 10});
  h.observe(0.5);
  h.observe(1);  // le="1" is inclusive
  h.observe(7);
  h.observe(100);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.sum(), 108.5);
  const std::string text = metrics.text();
  EXPECT_THAT(text, HasSubstr("# TYPE kstreams_commit_latency_ms histogram\n"));
  EXPECT_THAT(text, HasSubstr("kstreams_commit_latency_ms_bucket{thread=\"t1\",le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("kstreams_commit_latency_ms_bucket{thread=\"t1\",le=\"5\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("kstreams_commit_latency_ms_bucket{thread=\"t1\",le=\"10\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("kstreams_commit_latency_ms_bucket{thread=\"t1\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("kstreams_commit_latency_ms_count{thread=\"t1\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("kstreams_commit_latency_ms_sum{thread=\"t1\"} 108.5\n"));
}

TEST(PrometheusMetricsTest, HistogramBucketsComeFromFirstRegistration) {
  PrometheusMetrics metrics;
  metrics.histogram("kstreams_h_ms", "h", {{"task", "a"}}, {1, 2});
  metrics.histogram("kstreams_h_ms", "h", {{"task", "b"}}, {100, 200}).observe(1.5);
  EXPECT_THAT(metrics.text(), HasSubstr("kstreams_h_ms_bucket{task=\"b\",le=\"2\"} 1\n"));
  EXPECT_THAT(metrics.text(), Not(HasSubstr("le=\"200\"")));
}

TEST(PrometheusMetricsTest, EmptyBucketsUseDefaultLatencyBuckets) {
  PrometheusMetrics metrics;
  metrics.histogram("kstreams_d_ms", "d", {}, {}).observe(1);
  const auto& defaults = latency_buckets_ms();
  ASSERT_FALSE(defaults.empty());
  // One bucket line per default bound plus +Inf.
  const std::string text = metrics.text();
  size_t lines = 0;
  for (size_t pos = text.find("kstreams_d_ms_bucket"); pos != std::string::npos;
       pos = text.find("kstreams_d_ms_bucket", pos + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, defaults.size() + 1);
}

TEST(PrometheusMetricsTest, EscapesLabelValues) {
  PrometheusMetrics metrics;
  metrics.gauge("kstreams_e", "e", {{"store", "a\"b\\c\nd"}}).set(1);
  EXPECT_THAT(metrics.text(), HasSubstr("kstreams_e{store=\"a\\\"b\\\\c\\nd\"} 1"));
}

TEST(PrometheusMetricsTest, RemoveMatchingDropsSeriesButKeepsHandlesUsable) {
  PrometheusMetrics metrics;
  Counter& revoked = metrics.counter("kstreams_p_total", "p", {{"thread", "t1"}, {"task", "0_1"}});
  Counter& kept = metrics.counter("kstreams_p_total", "p", {{"thread", "t1"}, {"task", "0_2"}});
  Gauge& revoked_gauge = metrics.gauge("kstreams_g", "g", {{"task", "0_1"}, {"store", "s"}});
  revoked.increment(7);
  kept.increment(1);
  metrics.remove_matching({{"task", "0_1"}});

  const std::string text = metrics.text();
  EXPECT_THAT(text, Not(HasSubstr("task=\"0_1\"")));
  EXPECT_THAT(text, HasSubstr("kstreams_p_total{task=\"0_2\",thread=\"t1\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("kstreams_g")));  // a family left without series disappears
  EXPECT_EQ(metrics.series_count(), 1u);

  // The old handles are still valid objects (recording on them is invisible).
  revoked.increment();
  revoked_gauge.set(3);
  EXPECT_EQ(revoked.value(), 8);
  EXPECT_THAT(metrics.text(), Not(HasSubstr("task=\"0_1\"")));

  // Registering again starts a fresh series from zero.
  Counter& again = metrics.counter("kstreams_p_total", "p", {{"thread", "t1"}, {"task", "0_1"}});
  EXPECT_NE(&again, &revoked);
  EXPECT_EQ(again.value(), 0);
  EXPECT_THAT(metrics.text(), HasSubstr("kstreams_p_total{task=\"0_1\",thread=\"t1\"} 0"));
}

TEST(PrometheusMetricsTest, RemoveMatchingNeedsEveryLabel) {
  PrometheusMetrics metrics;
  metrics.counter("kstreams_q_total", "q", {{"thread", "t1"}, {"task", "0_1"}});
  metrics.counter("kstreams_q_total", "q", {{"thread", "t2"}, {"task", "0_1"}});
  metrics.remove_matching({{"thread", "t1"}, {"task", "0_1"}});
  EXPECT_EQ(metrics.series_count(), 1u);
  EXPECT_THAT(metrics.text(), HasSubstr("thread=\"t2\""));
}

TEST(PrometheusMetricsTest, ConcurrentRecordingLosesNothing) {
  PrometheusMetrics metrics;
  Counter& c = metrics.counter("kstreams_c_total", "c", {});
  Histogram& h = metrics.histogram("kstreams_c_ms", "c", {}, {1, 10});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.increment();
        h.observe(i % 20);
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 50; ++i) (void)metrics.text();
  });
  for (auto& t : threads) t.join();
  scraper.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(h.count(), 40000u);
}

TEST(PrometheusMetricsDeathTest, RejectsInvalidNamesAndTypeClashes) {
  PrometheusMetrics metrics;
  EXPECT_DEATH(metrics.counter("bad-name", "x", {}), "invalid Prometheus metric name");
  EXPECT_DEATH(metrics.counter("kstreams_ok", "x", {{"bad-label", "v"}}), "invalid Prometheus label name");
  metrics.gauge("kstreams_clash", "x", {});
  EXPECT_DEATH(metrics.counter("kstreams_clash", "x", {}), "two different types");
}

}  // namespace
}  // namespace kstreams::runtime
