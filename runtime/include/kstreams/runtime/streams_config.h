// StreamsConfig: one declarative table of settings, with Kafka Streams' names and defaults,
// validated at startup into an immutable object.
//
// Sources, later ones winning: the table's defaults, a properties file (`key=value` lines, `#`
// comments), then `--set key=value` overrides. librdkafka settings pass through with the prefixes
// `consumer.`, `producer.`, `admin.` and `restore.consumer.` (e.g. `producer.linger.ms=5`).
// Keys that are neither in the table nor prefixed are kept for the application
// (`get_string_or("notifications.webhook.url", ...)`), so one file configures kstreams and the app.
//
// Errors: invalid configuration is reported at startup by from_map()/from_args() as
// kInvalidArgument naming the key, the value and the rule. Thread-safety: immutable, share freely.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kstreams/common/status.h"

namespace kstreams::runtime {

enum class ConfigType { kString, kInt, kLong, kBool, kDouble, kList };

struct ConfigDef {
  std::string name;
  ConfigType type = ConfigType::kString;
  std::optional<std::string> default_value;  // nullopt: required
  std::string doc;
  // Allowed values ("" = any); for kString settings with a closed set of values.
  std::vector<std::string> allowed;
  // Extra validation beyond type and allowed values; returns an error message or "".
  std::function<std::string(const std::string&)> validator;
  bool at_least_zero = false;  // numeric settings that may not be negative
};

// Names of the settings (constants so that typos fail to compile).
namespace config {
inline constexpr const char* kApplicationId = "application.id";
inline constexpr const char* kBootstrapServers = "bootstrap.servers";
inline constexpr const char* kProcessingGuarantee = "processing.guarantee";
inline constexpr const char* kCommitIntervalMs = "commit.interval.ms";
inline constexpr const char* kNumStreamThreads = "num.stream.threads";
inline constexpr const char* kStateDir = "state.dir";
inline constexpr const char* kApplicationServer = "application.server";
inline constexpr const char* kListenAddress = "listen.address";
inline constexpr const char* kQueryAuthTokenFile = "query.auth.token.file";
inline constexpr const char* kQueryAuthMetrics = "query.auth.metrics";
inline constexpr const char* kQueryAuthHealthz = "query.auth.healthz";
inline constexpr const char* kQueryMaxConnections = "query.max.connections";
inline constexpr const char* kQueryTlsCertFile = "query.tls.cert.file";
inline constexpr const char* kQueryTlsKeyFile = "query.tls.key.file";
inline constexpr const char* kQueryTlsCaFile = "query.tls.ca.file";
inline constexpr const char* kQueryTlsClientAuth = "query.tls.client.auth";
inline constexpr const char* kReplicationFactor = "replication.factor";
inline constexpr const char* kStateStoreCacheMaxBytes = "statestore.cache.max.bytes";
inline constexpr const char* kRocksDbMemoryBytes = "rocksdb.memory.bytes";
inline constexpr const char* kStateStoreFlushIntervalMs = "statestore.flush.interval.ms";
inline constexpr const char* kRocksDbBackgroundPriority = "rocksdb.background.cpu.priority";
inline constexpr const char* kDeserializationHandler = "default.deserialization.exception.handler";
inline constexpr const char* kProcessingHandler = "processing.exception.handler";
inline constexpr const char* kProductionHandler = "default.production.exception.handler";
inline constexpr const char* kProcessingRecordBudgetMs = "processing.record.budget.ms";
inline constexpr const char* kDeadLetterTopic = "errors.deadletterqueue.topic.name";
inline constexpr const char* kBufferedRecordsPerPartition = "buffered.records.per.partition";
inline constexpr const char* kPollMs = "poll.ms";
inline constexpr const char* kMaxTaskIdleMs = "max.task.idle.ms";
inline constexpr const char* kCommitWhenIdle = "commit.when.idle";
inline constexpr const char* kCommitPipelined = "commit.pipelined";
inline constexpr const char* kCommitPipelinedMaxBytes = "commit.pipelined.max.buffered.bytes";
inline constexpr const char* kTransactionTimeoutMs = "transaction.timeout.ms";
inline constexpr const char* kSessionTimeoutMs = "session.timeout.ms";
inline constexpr const char* kShutdownTimeoutMs = "shutdown.timeout.ms";
inline constexpr const char* kRestoreBatchRecords = "restore.batch.records";
inline constexpr const char* kRestoreThrottleMs = "restore.throttle.ms";
inline constexpr const char* kMetricsLatencyEnabled = "metrics.e2e.latency.enabled";
inline constexpr const char* kAtLeastOnce = "at_least_once";
inline constexpr const char* kExactlyOnceV2 = "exactly_once_v2";
}  // namespace config

// The table, in documentation order.
const std::vector<ConfigDef>& streams_config_defs();

class StreamsConfig {
 public:
  // Validates every table setting present (and required ones), applies defaults.
  [[nodiscard]] static absl::StatusOr<StreamsConfig> from_map(const std::map<std::string, std::string>& values);
  // `--config FILE` (repeatable) and `--set key=value` (repeatable); other arguments are an error
  // unless `allow_unknown_args` (then they are left for the application in `*rest`).
  [[nodiscard]] static absl::StatusOr<StreamsConfig> from_args(int argc, const char* const* argv,
                                                               std::vector<std::string>* rest = nullptr);
  // Parses a Java-style properties file (key=value or key: value, # and ! comments, no escapes).
  [[nodiscard]] static absl::StatusOr<std::map<std::string, std::string>> load_properties(const std::string& path);

  [[nodiscard]] const std::string& get_string(const std::string& name) const;
  [[nodiscard]] int64_t get_long(const std::string& name) const;
  [[nodiscard]] bool get_bool(const std::string& name) const;
  [[nodiscard]] double get_double(const std::string& name) const;
  [[nodiscard]] std::string get_string_or(const std::string& name, const std::string& fallback) const;
  [[nodiscard]] int64_t get_long_or(const std::string& name, int64_t fallback) const;
  [[nodiscard]] bool has(const std::string& name) const { return values_.count(name) > 0; }

  [[nodiscard]] bool exactly_once() const { return get_string(config::kProcessingGuarantee) == config::kExactlyOnceV2; }
  [[nodiscard]] const std::string& application_id() const { return get_string(config::kApplicationId); }
  // The dead-letter topic: the configured one, or `<application.id>-dead-letters`.
  [[nodiscard]] std::string dead_letter_topic() const;

  // librdkafka settings for each client: bootstrap.servers plus the prefixed pass-through settings.
  [[nodiscard]] std::map<std::string, std::string> client_settings(const std::string& prefix) const;
  // client_settings(prefix) plus client_defaults() of that client ("consumer." -> "consumer") for
  // every key the user did not set: what the runtime's own clients start from.
  [[nodiscard]] std::map<std::string, std::string> client_settings_with_defaults(const std::string& prefix) const;
  [[nodiscard]] const std::map<std::string, std::string>& values() const { return values_; }

  // docs/configuration.md, generated from the table.
  [[nodiscard]] static std::string to_markdown();

  // librdkafka settings kstreams gives its own clients unless the user sets them with the client's
  // prefix: `client` is "consumer", "restore.consumer" or "producer". One table, also printed by
  // to_markdown(). Thread-safe (immutable).
  struct ClientDefault {
    std::string client;
    std::string key;
    std::string value;
    std::string why;
  };
  [[nodiscard]] static const std::vector<ClientDefault>& client_defaults();

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace kstreams::runtime
