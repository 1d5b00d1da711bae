#include "kstreams/runtime/streams_config.h"

#include "absl/strings/numbers.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "kstreams/common/logging.h"

namespace kstreams::runtime {
namespace {

using namespace config;

std::string host_port_rule(const std::string& v) {
  if (v.empty()) return "";
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) return "must be host:port";
  int port = 0;
  auto r = std::from_chars(v.data() + colon + 1, v.data() + v.size(), port);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || port <= 0 || port > 65535) {
    return "port must be 1-65535";
  }
  return "";
}

std::string app_id_rule(const std::string& v) {
  if (v.empty()) return "must not be empty";
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return "may contain only letters, digits, '.', '_' and '-' (it prefixes topic names)";
    }
  }
  return "";
}

const std::vector<std::string> kHandlers = {"dead-letter", "continue", "fail"};

std::vector<ConfigDef> make_defs() {
  std::vector<ConfigDef> d;
  auto add = [&d](ConfigDef def) { d.push_back(std::move(def)); };
  add({kApplicationId,
       ConfigType::kString,
       std::nullopt,
       "Identifies the application: consumer group id, prefix of internal topics and of the state directory.",
       {},
       app_id_rule});
  add({kBootstrapServers, ConfigType::kList, std::nullopt, "Kafka brokers to bootstrap from (host:port,...)."});
  add({kProcessingGuarantee,
       ConfigType::kString,
       std::string(kAtLeastOnce),
       "at_least_once, or exactly_once_v2 (transactional producer per stream thread, read_committed, "
       "transactional state stores).",
       {kAtLeastOnce, kExactlyOnceV2}});
  add({kCommitIntervalMs,
       ConfigType::kLong,
       std::nullopt,
       "Upper bound between commits. Default 30000 under at_least_once, 100 under exactly_once_v2.",
       {},
       nullptr,
       true});
  add({kCommitWhenIdle, ConfigType::kBool, std::string("true"),
       "Commit as soon as a thread has drained its input (its tasks' buffers and its consumer's prefetch queue) "
       "instead of waiting for commit.interval.ms (lower end-to-end latency under exactly_once_v2; under a "
       "backlog commits still come every commit.interval.ms)."});
  add({kCommitPipelined, ConfigType::kBool, std::string("true"),
       "Under exactly_once_v2, a stream thread hands its transaction's flush and commit to a helper thread and "
       "goes on processing into the next transaction meanwhile: store writes made during the commit stay "
       "uncommitted on top of the sealed ones, output and changelog records wait in memory and are sent when the "
       "commit returned. The next commit then starts before the stores apply the one that returned, so that their "
       "writes overlap its flush. If the commit fails, both transactions are aborted and re-read. false: the thread "
       "waits for each commit (Kafka Streams' behaviour)."});
  add({kCommitPipelinedMaxBytes,
       ConfigType::kLong,
       std::string("67108864"),
       "With commit.pipelined, the most output and changelog bytes a stream thread holds in memory while a "
       "commit is in flight. Past it the thread stops processing until the commit returns (its inputs then "
       "pause at buffered.records.per.partition): a broker that stalls a commit cannot make a backlog pile up "
       "in memory.",
       {},
       [](const std::string& v) { return std::stoll(v) >= 1 ? "" : "must be at least 1"; }});
  add({kNumStreamThreads,
       ConfigType::kInt,
       std::string("1"),
       "Stream threads per instance.",
       {},
       [](const std::string& v) { return std::stoll(v) >= 1 ? "" : "must be at least 1"; }});
  add({kStateDir, ConfigType::kString, std::string("/tmp/kstreams"),
       "Root of the state directories: <state.dir>/<application.id>/<task id>."});
  add({kApplicationServer,
       ConfigType::kString,
       std::string(""),
       "host:port this instance serves interactive queries, /metrics and /healthz on; empty disables HTTP.",
       {},
       host_port_rule});
  add({kListenAddress, ConfigType::kString, std::string(""),
       "Address the query server binds. Empty: the host of application.server when it is an IP address, else "
       "127.0.0.1 (loopback only: private by default; other instances cannot forward to it). 0.0.0.0 or :: "
       "binds every interface. See docs/security.md."});
  add({kQueryAuthTokenFile, ConfigType::kString, std::string(""),
       "File holding a bearer token (surrounding whitespace ignored). When set, /v1/... requests need the header "
       "`Authorization: Bearer <token>` (else 401), and forwarded queries carry it: every instance of the "
       "application uses the same token. Empty: no authentication."});
  add({kQueryAuthMetrics, ConfigType::kBool, std::string("true"),
       "With query.auth.token.file: /metrics needs the token too."});
  add({kQueryAuthHealthz, ConfigType::kBool, std::string("false"),
       "With query.auth.token.file: /healthz needs the token too (off: liveness probes need no secret)."});
  add({kQueryMaxConnections,
       ConfigType::kInt,
       std::string("1024"),
       "Connections the query server holds at once; a connection beyond them is answered 503 and closed.",
       {},
       [](const std::string& v) { return std::stoll(v) >= 1 ? "" : "must be at least 1"; }});
  add({kQueryTlsCertFile, ConfigType::kString, std::string(""),
       "PEM file with this instance's certificate (then any intermediate CAs). Set together with "
       "query.tls.key.file: the query server speaks only https (TLS 1.2 or 1.3), and forwarded queries go to "
       "the other instances over https. Its subject alternative names must cover the host of "
       "application.server (DNS name or IP address), which the other instances verify. Empty: plain HTTP. "
       "See docs/security.md."});
  add({kQueryTlsKeyFile, ConfigType::kString, std::string(""),
       "PEM file with the unencrypted private key of query.tls.cert.file."});
  add({kQueryTlsCaFile, ConfigType::kString, std::string(""),
       "PEM file with the CA certificates other instances' certificates must chain to when queries are "
       "forwarded over https (and, with query.tls.client.auth=required, clients' certificates). Empty: the "
       "system's trust store."});
  add({kQueryTlsClientAuth,
       ConfigType::kString,
       std::string("none"),
       "With query.tls.cert.file: `required` makes every client present a certificate that chains to "
       "query.tls.ca.file (mutual TLS; forwards present this instance's certificate); `none` asks for none.",
       {"none", "required"}});
  add({kReplicationFactor, ConfigType::kInt, std::string("-1"),
       "Replication factor of internal topics (-1: the broker default)."});
  add({kStateStoreCacheMaxBytes,
       ConfigType::kLong,
       std::string("10485760"),
       "Changelog write cache of the instance, in bytes, split evenly between its stream threads. A store key "
       "written several times between two commits sends one changelog record, its last value, at the commit "
       "(fewer records to send, store and restore; same restored state). When a thread's tasks hold more, "
       "they send everything at once. 0: every write is sent when it is made. Unlike Kafka Streams' record "
       "cache of the same name, downstream processors still receive every update.",
       {},
       nullptr,
       true});
  add({kRocksDbMemoryBytes,
       ConfigType::kLong,
       std::string("268435456"),
       "RocksDB memory budget of the instance (one shared block cache and write-buffer manager).",
       {},
       nullptr,
       true});
  add({kStateStoreFlushIntervalMs,
       ConfigType::kLong,
       std::string("10000"),
       "RocksDB stores apply commits without RocksDB's write-ahead log (the changelog is the log, as in Kafka "
       "Streams) and flush them to disk in the background at least this often. After a crash (SIGKILL, power "
       "loss) a task's stores reopen at their last flush, with its changelog offsets, and restoration replays "
       "about this much changelog (never the whole of it). 0: every commit flushes and waits (slower).",
       {},
       nullptr,
       true});
  add({kRocksDbBackgroundPriority,
       ConfigType::kString,
       std::string("low"),
       "CPU priority of RocksDB's flush and compaction threads: low (nice 19), idle (SCHED_IDLE: only when the "
       "CPU has nothing else to run) or normal. Nothing waits for them (the changelog is the log), and the "
       "periodic flushes of every task's stores fall due at about the same time: at normal priority they compete "
       "with the stream threads for their cores. Process-wide: the lowest priority asked for by any instance in "
       "the process applies.",
       {"low", "idle", "normal"}});
  add({kDeserializationHandler, ConfigType::kString, std::string("dead-letter"),
       "What a record that cannot be deserialized does: dead-letter (send the original to the dead-letter topic "
       "with headers saying why, go on), continue (drop and count), fail (stop the thread).",
       kHandlers});
  add({kProcessingHandler, ConfigType::kString, std::string("dead-letter"),
       "What an error raised by a processor does: dead-letter, continue or fail.", kHandlers});
  add({kProcessingRecordBudgetMs,
       ConfigType::kLong,
       std::string("60000"),
       "How long the processing of one record may take (0: no limit). A record still in processing past it "
       "hangs its stream thread, which nothing can interrupt: the instance logs the record's topic, partition "
       "and offset, keeps them in <state.dir>/<application.id>/quarantine and exits with status 70. Restarted "
       "on the same state.dir, it hands that record to processing.exception.handler (error class "
       "PROCESSING_BUDGET; by default the dead-letter topic) without processing it, and goes on.",
       {},
       nullptr,
       true});
  add({kProductionHandler, ConfigType::kString, std::string("fail"),
       "What a record the broker refuses (e.g. too large) does: dead-letter, continue or fail.", kHandlers});
  add({kDeadLetterTopic, ConfigType::kString, std::string(""),
       "The dead-letter topic; empty means <application.id>-dead-letters."});
  add({kBufferedRecordsPerPartition,
       ConfigType::kInt,
       std::string("1000"),
       "Records buffered per input partition before the partition is paused.",
       {},
       nullptr,
       true});
  add({kPollMs,
       ConfigType::kLong,
       std::string("100"),
       "How long a poll blocks when there is nothing to process.",
       {},
       nullptr,
       true});
  add({kMaxTaskIdleMs,
       ConfigType::kLong,
       std::string("0"),
       "How a task with several input partitions (joins, merges) waits for data on all of them before processing "
       "out of timestamp order (Kafka Streams' KIP-695 semantics). An empty partition whose lag (end offset minus "
       "position, from what the consumer last fetched; under read_committed the end is the last stable offset, so "
       "open transactions do not count) is unknown or positive always holds the task back: its data is being "
       "fetched. An empty partition with lag 0 holds it back this many ms more, then the task processes "
       "without it (counted in kstreams_task_enforced_processing_total). 0: do not wait for caught-up partitions; "
       "-1: never wait, not even for fetched lag. Waiting never blocks the stream thread.",
       {},
       [](const std::string& v) { return std::stoll(v) >= -1 ? "" : "must be -1 (never wait) or at least 0"; }});
  add({kTransactionTimeoutMs,
       ConfigType::kLong,
       std::string("10000"),
       "Transaction timeout under exactly_once_v2; kept below session.timeout.ms so a member kicked out of the "
       "group cannot commit afterwards.",
       {},
       nullptr,
       true});
  add({kSessionTimeoutMs,
       ConfigType::kLong,
       std::string("45000"),
       "Consumer group session timeout.",
       {},
       nullptr,
       true});
  add({kShutdownTimeoutMs,
       ConfigType::kLong,
       std::string("30000"),
       "How long a shutdown (SIGTERM/SIGINT through run_until_signal) may take. The stream threads commit, "
       "close their tasks and leave the group within it; with the broker unreachable their broker calls end "
       "at the deadline, uncommitted work is left to the transaction timeout (nothing is lost: the tasks "
       "restore and reprocess on the next start) and the group is left by session timeout. If a thread is "
       "still stuck then, the process exits with status 1.",
       {},
       nullptr,
       true});
  add({kRestoreBatchRecords,
       ConfigType::kInt,
       std::string("10000"),
       "Changelog records a stream thread restores per loop iteration, at most (one atomic store write per "
       "changelog partition); bounds how long restoration holds up processing and queries of running tasks.",
       {},
       nullptr,
       true});
  add({kRestoreThrottleMs,
       ConfigType::kLong,
       std::string("0"),
       "Test aid, not for production: minimum time between two restoration batches of a stream thread (0: none). "
       "Slows restoration down deterministically, e.g. to observe queries against restoring tasks.",
       {},
       nullptr,
       true});
  add({kMetricsLatencyEnabled, ConfigType::kBool, std::string("true"),
       "Record the end-to-end latency histogram (record timestamp to processed)."});
  return d;
}

std::string check_type(const ConfigDef& def, const std::string& v) {
  switch (def.type) {
    case ConfigType::kInt:
    case ConfigType::kLong: {
      int64_t n = 0;
      auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) return "must be an integer";
      if (def.type == ConfigType::kInt && (n < INT32_MIN || n > INT32_MAX)) return "out of int range";
      if (def.at_least_zero && n < 0) return "must not be negative";
      return "";
    }
    case ConfigType::kBool:
      return v == "true" || v == "false" ? "" : "must be true or false";
    case ConfigType::kDouble: {
      try {
        size_t pos = 0;
        std::stod(v, &pos);
        return pos == v.size() ? "" : "must be a number";
      } catch (...) {
        return "must be a number";
      }
    }
    case ConfigType::kList:
      return v.empty() ? "must not be empty" : "";
    case ConfigType::kString:
      return "";
  }
  return "";
}

bool passes_through(const std::string& key) {
  for (const char* prefix : {"consumer.", "producer.", "admin.", "restore.consumer."}) {
    if (key.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Client settings passed through a prefix that would silently break what the runtime guarantees:
// exactly-once (read_committed, idempotence, the transaction timeout below the session timeout, no
// offsets committed outside the transaction) and co-partitioning (the range assignor). The runtime
// sets these itself; a user who overrides them gets this error instead of a quietly wrong app.
absl::Status check_client_overrides(const StreamsConfig& cfg) {
  const auto consumer = cfg.client_settings("consumer.");
  const auto producer = cfg.client_settings("producer.");
  const auto refuse = [](const std::string& key, const std::string& value, const std::string& why) {
    return absl::InvalidArgumentError("setting '" + key + "' = '" + value + "': " + why);
  };
  const auto value_of = [](const std::map<std::string, std::string>& m, const std::string& key) -> const std::string* {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  };
  if (const auto* v = value_of(consumer, "partition.assignment.strategy"); v != nullptr && *v != "range") {
    return refuse("consumer.partition.assignment.strategy", *v,
                  "kstreams needs the range assignor: it keeps co-partitioned partitions in one task");
  }
  if (const auto* v = value_of(consumer, "enable.auto.commit"); v != nullptr && *v != "false") {
    return refuse("consumer.enable.auto.commit", *v, "kstreams commits offsets itself, after processing");
  }
  if (const auto* v = value_of(consumer, "group.id"); v != nullptr && *v != cfg.application_id()) {
    return refuse("consumer.group.id", *v, "the consumer group is application.id");
  }
  if (!cfg.exactly_once()) return absl::OkStatus();
  const std::string eos = " under exactly_once_v2";
  if (const auto* v = value_of(consumer, "isolation.level"); v != nullptr && *v != "read_committed") {
    return refuse("consumer.isolation.level", *v, "must be read_committed" + eos + " (aborted output would be read)");
  }
  if (const auto* v = value_of(producer, "enable.idempotence"); v != nullptr && *v != "true") {
    return refuse("producer.enable.idempotence", *v, "must be true" + eos);
  }
  if (const auto* v = value_of(producer, "acks"); v != nullptr && *v != "all" && *v != "-1") {
    return refuse("producer.acks", *v, "must be all" + eos);
  }
  if (const auto* v = value_of(producer, "transactional.id"); v != nullptr) {
    return refuse("producer.transactional.id", *v, "kstreams names each stream thread's transactional producer");
  }
  if (const auto* v = value_of(producer, "transaction.timeout.ms"); v != nullptr) {
    return refuse("producer.transaction.timeout.ms", *v,
                  "set transaction.timeout.ms instead (kept below the session timeout)");
  }
  if (const auto* v = value_of(consumer, "session.timeout.ms"); v != nullptr) {
    int64_t session = 0;
    if (!absl::SimpleAtoi(*v, &session) || session <= cfg.get_long(kTransactionTimeoutMs)) {
      return refuse("consumer.session.timeout.ms", *v,
                    "must be above transaction.timeout.ms (" + cfg.get_string(kTransactionTimeoutMs) + ")" + eos +
                        ", so that a member kicked out of the group cannot commit afterwards");
    }
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<ConfigDef>& streams_config_defs() {
  static const std::vector<ConfigDef> defs = make_defs();
  return defs;
}

absl::StatusOr<StreamsConfig> StreamsConfig::from_map(const std::map<std::string, std::string>& values) {
  StreamsConfig cfg;
  cfg.values_ = values;
  for (const auto& def : streams_config_defs()) {
    auto it = cfg.values_.find(def.name);
    if (it == cfg.values_.end()) {
      if (def.name == kCommitIntervalMs) continue;  // derived below
      if (!def.default_value) return absl::InvalidArgumentError("missing required setting '" + def.name + "'");
      cfg.values_[def.name] = *def.default_value;
      continue;
    }
    std::string problem = check_type(def, it->second);
    if (problem.empty() && !def.allowed.empty() &&
        std::find(def.allowed.begin(), def.allowed.end(), it->second) == def.allowed.end()) {
      problem = "must be one of";
      for (const auto& a : def.allowed) problem += " " + a;
    }
    if (problem.empty() && def.validator) problem = def.validator(it->second);
    if (!problem.empty()) {
      return absl::InvalidArgumentError("setting '" + def.name + "' = '" + it->second + "': " + problem);
    }
  }
  if (cfg.values_.count(kCommitIntervalMs) == 0) {
    cfg.values_[kCommitIntervalMs] = cfg.exactly_once() ? "100" : "30000";
  }
  if (cfg.exactly_once() && cfg.get_long(kTransactionTimeoutMs) >= cfg.get_long(kSessionTimeoutMs)) {
    return absl::InvalidArgumentError(
        "transaction.timeout.ms (" + std::to_string(cfg.get_long(kTransactionTimeoutMs)) +
        ") must be below session.timeout.ms (" + std::to_string(cfg.get_long(kSessionTimeoutMs)) +
        ") under exactly_once_v2, so that a member kicked out of the group cannot commit afterwards: "
        "lower transaction.timeout.ms or raise session.timeout.ms");
  }
  KSTREAMS_RETURN_IF_ERROR(check_client_overrides(cfg));
  for (const auto& [key, value] : cfg.values_) {
    const bool known = std::any_of(streams_config_defs().begin(), streams_config_defs().end(),
                                   [&key = key](const ConfigDef& d) { return d.name == key; });
    if (!known && !passes_through(key))
      KS_LOG_DEBUG("config: '{}' is not a kstreams setting; kept for the application", key);
  }
  return cfg;
}

absl::StatusOr<std::map<std::string, std::string>> StreamsConfig::load_properties(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read properties file '" + path + "'");
  std::map<std::string, std::string> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    const auto sep = t.find_first_of("=:");
    if (sep == std::string::npos || sep == 0) {
      return absl::InvalidArgumentError(path + ":" + std::to_string(number) + ": expected key=value");
    }
    out[trim(t.substr(0, sep))] = trim(t.substr(sep + 1));
  }
  return out;
}

absl::StatusOr<StreamsConfig> StreamsConfig::from_args(int argc, const char* const* argv,
                                                       std::vector<std::string>* rest) {
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> overrides;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--config" || arg == "--set") && i + 1 >= argc) {
      return absl::InvalidArgumentError(arg + " needs a value");
    }
    if (arg == "--config") {
      KSTREAMS_ASSIGN_OR_RETURN(auto file, load_properties(argv[++i]));
      for (auto& [k, v] : file) values[k] = v;
    } else if (arg == "--set") {
      const std::string kv = argv[++i];
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return absl::InvalidArgumentError("--set expects key=value, got '" + kv + "'");
      overrides[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (rest != nullptr) {
      rest->push_back(arg);
    } else {
      return absl::InvalidArgumentError("unknown argument '" + arg + "' (expected --config FILE or --set key=value)");
    }
  }
  for (auto& [k, v] : overrides) values[k] = v;
  return from_map(values);
}

const std::string& StreamsConfig::get_string(const std::string& name) const {
  auto it = values_.find(name);
  KSTREAMS_CHECK(it != values_.end(), "StreamsConfig::get_string of a setting that has no value");
  return it->second;
}

int64_t StreamsConfig::get_long(const std::string& name) const { return std::stoll(get_string(name)); }
bool StreamsConfig::get_bool(const std::string& name) const { return get_string(name) == "true"; }
double StreamsConfig::get_double(const std::string& name) const { return std::stod(get_string(name)); }

std::string StreamsConfig::get_string_or(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int64_t StreamsConfig::get_long_or(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  int64_t n = 0;
  auto r = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return r.ec == std::errc() ? n : fallback;
}

std::string StreamsConfig::dead_letter_topic() const {
  const std::string& t = get_string(kDeadLetterTopic);
  return t.empty() ? application_id() + "-dead-letters" : t;
}

std::map<std::string, std::string> StreamsConfig::client_settings(const std::string& prefix) const {
  std::map<std::string, std::string> out{{"bootstrap.servers", get_string(kBootstrapServers)}};
  for (const auto& [k, v] : values_) {
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  }
  return out;
}

std::map<std::string, std::string> StreamsConfig::client_settings_with_defaults(const std::string& prefix) const {
  auto out = client_settings(prefix);
  const std::string client = prefix.substr(0, prefix.size() - (!prefix.empty() && prefix.back() == '.' ? 1 : 0));
  for (const auto& d : client_defaults()) {
    if (d.client == client) out.emplace(d.key, d.value);
  }
  return out;
}

const std::vector<StreamsConfig::ClientDefault>& StreamsConfig::client_defaults() {
  static const std::vector<ClientDefault> defaults = {
      {"consumer", "partition.assignment.strategy", "range", "keeps co-partitioned partitions in one task"},
      {"consumer", "auto.offset.reset", "earliest", "as Kafka Streams"},
      {"consumer", "isolation.level", "read_committed", "as Kafka Streams (reads only committed transactions)"},
      {"consumer", "max.poll.interval.ms", "300000", "as Kafka Streams"},
      {"consumer", "fetch.wait.max.ms", "10", "new records are fetched within 10 ms of being written (latency)"},
      {"consumer", "queued.min.messages", "30000",
       "prefetch bound in records (librdkafka: 100000); the stream thread wakes the fetcher when a full queue is "
       "half drained, so a smaller queue costs no throughput and ~30 MB less memory"},
      {"consumer", "queued.max.messages.kbytes", "32768", "prefetch bound in KiB (librdkafka: 65536)"},
      {"restore.consumer", "fetch.wait.max.ms", "10", "the end of a caught-up changelog is seen at once"},
      {"restore.consumer", "auto.offset.reset", "earliest", "restoration reads from the start"},
      {"restore.consumer", "fetch.message.max.bytes", "8388608", "larger fetches per partition (librdkafka: 1 MiB)"},
      {"restore.consumer", "fetch.max.bytes", "67108864", "larger fetch responses (librdkafka: 50 MiB)"},
      {"restore.consumer", "queued.min.messages", "300000",
       "deeper prefetch (librdkafka: 100000): 1M records restore ~10% faster than with 1M / 256 MiB, at 0.7x the "
       "peak memory"},
      {"restore.consumer", "queued.max.messages.kbytes", "131072", "prefetch bound in KiB (librdkafka: 65536)"},
      {"producer", "partitioner", "murmur2_random", "Java's default partitioner: same partitions as Kafka Streams"},
      {"producer", "enable.idempotence", "true", "no duplicates from producer retries"},
      {"producer", "acks", "all", "required by idempotence"},
  };
  return defaults;
}

std::string StreamsConfig::to_markdown() {
  std::ostringstream md;
  md << "# Configuration reference\n\n"
     << "Generated from the table in `runtime/src/streams_config.cc` (`kstreams_config_doc`); do not edit by hand.\n\n"
     << "Settings come from `--config FILE` (Java properties) and `--set key=value` overrides. librdkafka settings "
        "pass through with the prefixes `consumer.`, `producer.`, `admin.` and `restore.consumer.` "
        "(for example `producer.linger.ms=5`). Other keys are kept for the application.\n\n"
     << "| name | type | default | description |\n|---|---|---|---|\n";
  for (const auto& d : streams_config_defs()) {
    const char* type = "string";
    switch (d.type) {
      case ConfigType::kInt:
        type = "int";
        break;
      case ConfigType::kLong:
        type = "long";
        break;
      case ConfigType::kBool:
        type = "boolean";
        break;
      case ConfigType::kDouble:
        type = "double";
        break;
      case ConfigType::kList:
        type = "list";
        break;
      case ConfigType::kString:
        break;
    }
    std::string def = d.default_value ? "`" + *d.default_value + "`" : "(required)";
    if (d.name == kCommitIntervalMs) def = "`30000` / `100` (EOS)";
    if (d.default_value && d.default_value->empty()) def = "(empty)";
    std::string doc = d.doc;
    if (!d.allowed.empty()) {
      doc += " One of:";
      for (const auto& a : d.allowed) doc += " `" + a + "`";
      doc += ".";
    }
    md << "| `" << d.name << "` | " << type << " | " << def << " | " << doc << " |\n";
  }
  md << "\n## librdkafka settings kstreams changes\n\n"
     << "Each client starts from librdkafka's defaults with these changes; set the key with the client's prefix "
        "(e.g. `consumer.queued.min.messages=100000`) to override one. Settings the runtime owns "
        "(`group.id`, `enable.auto.commit`, `enable.auto.offset.store`, `enable.partition.eof`, "
        "`transactional.id`, `client.id`) cannot be overridden. `consumer.group.instance.id` turns on static "
        "membership: each stream thread joins as the static member `<value>-<thread number>` (docs/operations.md).\n\n"
     << "| client | key | value | why |\n|---|---|---|---|\n";
  for (const auto& c : client_defaults()) {
    md << "| `" << c.client << ".` | `" << c.key << "` | `" << c.value << "` | " << c.why << " |\n";
  }
  return md.str();
}

}  // namespace kstreams::runtime
