#include "kstreams/runtime/streams_config.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace kstreams::runtime {
namespace {

std::map<std::string, std::string> minimal() {
  return {{"application.id", "orders-app"}, {"bootstrap.servers", "127.0.0.1:9092"}};
}

TEST(StreamsConfigTest, AppliesKafkaStreamsDefaults) {
  auto cfg = StreamsConfig::from_map(minimal());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->get_string("processing.guarantee"), "at_least_once");
  EXPECT_EQ(cfg->get_long("commit.interval.ms"), 30000);
  EXPECT_EQ(cfg->get_long("num.stream.threads"), 1);
  EXPECT_EQ(cfg->dead_letter_topic(), "orders-app-dead-letters");
}

TEST(StreamsConfigTest, CommitIntervalDefaultsTo100UnderExactlyOnce) {
  auto values = minimal();
  values["processing.guarantee"] = "exactly_once_v2";
  auto cfg = StreamsConfig::from_map(values);
  ASSERT_TRUE(cfg.ok());
  EXPECT_TRUE(cfg->exactly_once());
  EXPECT_EQ(cfg->get_long("commit.interval.ms"), 100);
}

TEST(StreamsConfigTest, MissingRequiredSettingIsNamed) {
  auto cfg = StreamsConfig::from_map({{"bootstrap.servers", "x:1"}});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("application.id"), std::string::npos);
}

TEST(StreamsConfigTest, InvalidValuesAreRejectedWithKeyValueAndRule) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"processing.guarantee", "exactly_once"},
      {"num.stream.threads", "0"},
      {"num.stream.threads", "two"},
      {"commit.interval.ms", "-5"},
      {"application.server", "host"},
      {"application.server", "h:99999"},
      {"application.id", "has space"},
      {"metrics.e2e.latency.enabled", "yes"},
      {"default.deserialization.exception.handler", "ignore"}};
  for (const auto& [key, value] : bad) {
    auto values = minimal();
    values[key] = value;
    auto cfg = StreamsConfig::from_map(values);
    ASSERT_FALSE(cfg.ok()) << key << "=" << value;
    EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(cfg.status().message().find(key), std::string::npos) << cfg.status();
  }
}

TEST(StreamsConfigTest, TransactionTimeoutMustStayBelowSessionTimeoutUnderEos) {
  auto values = minimal();
  values["processing.guarantee"] = "exactly_once_v2";
  values["transaction.timeout.ms"] = "60000";
  auto cfg = StreamsConfig::from_map(values);
  ASSERT_FALSE(cfg.ok());
  // The message names both values and what to change.
  EXPECT_NE(cfg.status().message().find("(60000)"), std::string::npos) << cfg.status();
  EXPECT_NE(cfg.status().message().find("raise session.timeout.ms"), std::string::npos) << cfg.status();
  values["session.timeout.ms"] = "90000";
  EXPECT_TRUE(StreamsConfig::from_map(values).ok());
}

TEST(StreamsConfigTest, ClientOverridesThatBreakExactlyOnceOrCoPartitioningAreConfigErrors) {
  // Each of these, passed through a client prefix, would silently break a guarantee.
  const std::vector<std::tuple<std::string, std::string, std::string>> unsafe = {
      {"exactly_once_v2", "consumer.isolation.level", "read_uncommitted"},
      {"exactly_once_v2", "producer.transaction.timeout.ms", "60000"},
      {"exactly_once_v2", "consumer.session.timeout.ms", "5000"},  // below transaction.timeout.ms (10000)
      {"exactly_once_v2", "producer.enable.idempotence", "false"},
      {"exactly_once_v2", "producer.acks", "1"},
      {"exactly_once_v2", "producer.transactional.id", "mine"},
      {"exactly_once_v2", "consumer.enable.auto.commit", "true"},
      {"at_least_once", "consumer.partition.assignment.strategy", "roundrobin"},
      {"at_least_once", "consumer.partition.assignment.strategy", "cooperative-sticky"},
      {"at_least_once", "consumer.enable.auto.commit", "true"},
      {"at_least_once", "consumer.group.id", "other"},
  };
  for (const auto& [guarantee, key, value] : unsafe) {
    auto values = minimal();
    values["processing.guarantee"] = guarantee;
    values[key] = value;
    auto cfg = StreamsConfig::from_map(values);
    ASSERT_FALSE(cfg.ok()) << guarantee << " " << key << "=" << value;
    EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(cfg.status().message().find(key), std::string::npos) << cfg.status();
  }
  // The same settings with safe values are fine.
  auto values = minimal();
  values["processing.guarantee"] = "exactly_once_v2";
  values["consumer.isolation.level"] = "read_committed";
  values["consumer.session.timeout.ms"] = "45000";
  values["consumer.partition.assignment.strategy"] = "range";
  values["producer.enable.idempotence"] = "true";
  values["producer.acks"] = "all";
  EXPECT_TRUE(StreamsConfig::from_map(values).ok()) << StreamsConfig::from_map(values).status();
  auto alos = minimal();
  alos["consumer.isolation.level"] = "read_uncommitted";  // a choice at-least-once may make
  EXPECT_TRUE(StreamsConfig::from_map(alos).ok());
}

TEST(StreamsConfigTest, ClientDefaultsApplyToTheirClientUnderWhatTheUserSet) {
  auto values = minimal();
  values["consumer.queued.min.messages"] = "100000";
  auto cfg = StreamsConfig::from_map(values);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  auto consumer = cfg->client_settings_with_defaults("consumer.");
  EXPECT_EQ(consumer.at("queued.min.messages"), "100000");  // the user's value wins
  EXPECT_EQ(consumer.at("isolation.level"), "read_committed");
  EXPECT_EQ(consumer.count("acks"), 0u);  // a producer default stays with the producer
  auto restore = cfg->client_settings_with_defaults("restore.consumer.");
  EXPECT_EQ(restore.at("queued.min.messages"), "300000");
  auto producer = cfg->client_settings_with_defaults("producer.");
  EXPECT_EQ(producer.at("enable.idempotence"), "true");
  EXPECT_EQ(producer.count("queued.min.messages"), 0u);
}

TEST(StreamsConfigTest, PrefixedSettingsPassThroughToTheirClient) {
  auto values = minimal();
  values["producer.linger.ms"] = "5";
  values["consumer.fetch.min.bytes"] = "1";
  values["notifications.webhook.url"] = "http://127.0.0.1:8089/hook";
  auto cfg = StreamsConfig::from_map(values);
  ASSERT_TRUE(cfg.ok());
  auto producer = cfg->client_settings("producer.");
  EXPECT_EQ(producer.at("linger.ms"), "5");
  EXPECT_EQ(producer.at("bootstrap.servers"), "127.0.0.1:9092");
  EXPECT_EQ(producer.count("fetch.min.bytes"), 0u);
  EXPECT_EQ(cfg->get_string_or("notifications.webhook.url", ""), "http://127.0.0.1:8089/hook");
}

TEST(StreamsConfigTest, PropertiesFileThenSetOverridesWin) {
  const std::string path = ::testing::TempDir() + "/kstreams-config-test.properties";
  {
    std::ofstream f(path);
    f << "# comment\napplication.id = from-file\nbootstrap.servers=127.0.0.1:9092\n! other comment\n"
         "num.stream.threads: 2\n";
  }
  const char* argv[] = {"app", "--config", path.c_str(), "--set", "num.stream.threads=3"};
  auto cfg = StreamsConfig::from_args(5, argv);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->application_id(), "from-file");
  EXPECT_EQ(cfg->get_long("num.stream.threads"), 3);
  std::remove(path.c_str());
}

TEST(StreamsConfigTest, BadArgumentsAndFilesAreClearErrors) {
  const char* missing_value[] = {"app", "--set"};
  EXPECT_FALSE(StreamsConfig::from_args(2, missing_value).ok());
  const char* no_equals[] = {"app", "--set", "novalue"};
  EXPECT_FALSE(StreamsConfig::from_args(3, no_equals).ok());
  const char* no_file[] = {"app", "--config", "/nonexistent/file.properties"};
  EXPECT_EQ(StreamsConfig::from_args(3, no_file).status().code(), absl::StatusCode::kNotFound);
  const char* unknown[] = {"app", "--frobnicate"};
  EXPECT_FALSE(StreamsConfig::from_args(2, unknown).ok());
}

}  // namespace
}  // namespace kstreams::runtime
