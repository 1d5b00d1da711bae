// ecommerce::topology_options: the application settings read from a StreamsConfig, their defaults,
// and a clear error for a setting out of range.
#include <gtest/gtest.h>

#include "topology/ecommerce_topology.h"

namespace ecommerce {
namespace {

using kstreams::runtime::StreamsConfig;

StreamsConfig config(std::map<std::string, std::string> extra) {
  extra["application.id"] = "shop";
  extra["bootstrap.servers"] = "127.0.0.1:1";
  auto c = StreamsConfig::from_map(extra);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

TEST(TopologyOptionsTest, DefaultsKeepNotificationsAheadOfTheOrderRate) {
  auto o = topology_options(config({}), "http://127.0.0.1:1/hook");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->application_id, "shop");
  EXPECT_EQ(o->topic_prefix, "");
  EXPECT_EQ(o->grace_ms, kDefaultAnalyticsGraceMs);
  EXPECT_EQ(o->notifier.max_attempts, 3);
  EXPECT_EQ(o->notifier.backoff_ms, 200);
  ASSERT_NE(o->dispatcher, nullptr);
  EXPECT_EQ(o->dispatcher->options().failure_threshold, 5);
  EXPECT_EQ(o->dispatcher->options().open_ms, 5000);
  // 64 in flight per task and a 50 ms pump capped an instance near 1,700 notifications/s.
  EXPECT_EQ(o->notifier.max_in_flight, 1024u);
  EXPECT_EQ(o->notifier.pump_interval, std::chrono::milliseconds(10));
  ASSERT_NE(o->dispatcher, nullptr);
  // The webhook's I/O thread does not preempt the stream threads on each response.
  EXPECT_TRUE(o->dispatcher->batch_scheduling());
}

TEST(TopologyOptionsTest, SettingsOverrideTheDefaults) {
  auto o = topology_options(config({{"ecommerce.topic.prefix", "t1-"},
                                    {"analytics.grace.ms", "0"},
                                    {"notifications.retry.max.attempts", "7"},
                                    {"notifications.max.in.flight", "16"},
                                    {"notifications.pump.interval.ms", "25"},
                                    {"notifications.workers", "2"},
                                    {"notifications.circuit.failure.threshold", "3"},
                                    {"notifications.circuit.open.ms", "700"},
                                    {"notifications.http.batch.scheduling", "false"}}),
                            "http://127.0.0.1:1/hook");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->dispatcher->batch_scheduling());
  EXPECT_EQ(o->dispatcher->options().failure_threshold, 3);  // one breaker per instance: the dispatcher's
  EXPECT_EQ(o->dispatcher->options().open_ms, 700);
  EXPECT_EQ(o->dispatcher->options().workers, 2);
  EXPECT_EQ(o->topic_prefix, "t1-");
  EXPECT_EQ(o->grace_ms, 0);
  EXPECT_EQ(o->notifier.max_attempts, 7);
  EXPECT_EQ(o->notifier.max_in_flight, 16u);
  EXPECT_EQ(o->notifier.pump_interval, std::chrono::milliseconds(25));
}

TEST(TopologyOptionsTest, OutOfRangeSettingIsAnErrorNamingIt) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"notifications.workers", "0"},
                                                        {"notifications.max.in.flight", "0"},
                                                        {"notifications.pump.interval.ms", "0"},
                                                        {"notifications.retry.max.attempts", "0"},
                                                        {"notifications.retry.backoff.ms", "-1"},
                                                        {"analytics.grace.ms", "-5"},
                                                        {"notifications.http.batch.scheduling", "yes"}}) {
    auto o = topology_options(config({{key, value}}), "http://127.0.0.1:1/hook");
    ASSERT_FALSE(o.ok()) << key;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_NE(std::string(o.status().message()).find(key), std::string::npos) << o.status();
  }
}

}  // namespace
}  // namespace ecommerce
