// bench_observe: records when output records arrive, for the harness's latency and fail-over
// measurements (bench/harness/PROTOCOL.md, "What the harness measures").
//
//   bench_observe --bootstrap B --topics T1[,T2...] --csv FILE [--from end|beginning] [--since-ms T]
//                 [--match S]... [--done-after N] [--exit-on-done] [--duration-ms D]
//
// A read_committed consumer without a group, assigned to every partition of the topics: at their
// end offsets (--from end, the default: the last stable offsets, queried before `ready`, so every
// record committed after `ready` is seen) or at the beginning. For each record whose timestamp is
// >= --since-ms (default 0) and, when --match is given, whose value contains one of the match
// strings, it appends `arrival_ms,partition,timestamp_ms` to FILE (header line first), arrival_ms
// being the wall clock when the consumer returned the record. Counted records only.
//
// --sent-at TOPIC:HEADER (the saga's end-to-end latency): TOPIC (the orders) is read too, from the
// same position, by a consumer of its own (one consumer for the idempotent input topic and the
// transactional output held the output's records back for many seconds under load with librdkafka
// 2.0: docs/benchmarks.md, 2026-12-04 evening). Each of its records gives its key's send time
// (HEADER, decimal epoch ms, as ecommerce_loadgen's loadgen.sent_at). A counted record is then timed
// from its key's send time instead of its own timestamp: timestamp_ms in FILE is that send time,
// --since-ms applies to it, and a counted record whose key was not seen yet waits until it is
// (records of TOPIC and of the outputs may arrive in either order). Counted records whose key never
// shows are reported in the summary as "unmatched" and are not in FILE.
//
// Events (stdout, one JSON object per line):
//   {"event":"ready","t_ms":..}                    positioned
//   {"event":"first","t_ms":..,"count":1}          the first counted record
//   {"event":"done","t_ms":..,"count":n}           n >= --done-after (once)
//   {"event":"summary","records":n[,"unmatched":u]} at exit: SIGTERM/SIGINT, --duration-ms elapsed
//                                                  after ready, or after done with --exit-on-done
// Exit codes: 0, 1 Kafka error, 2 bad command line.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "contenders/contender.h"
#include "kstreams/runtime/clients.h"

namespace {

using kstreams::runtime::AdminClient;
using kstreams::runtime::ConsumerClient;
using kstreams::runtime::TopicPartitionOffset;
using std::chrono::milliseconds;

struct Options {
  std::string bootstrap;
  std::vector<std::string> topics;
  std::string csv;
  bool from_end = true;
  int64_t since_ms = 0;
  std::vector<std::string> matches;
  int64_t done_after = 0;  // 0: no done event
  bool exit_on_done = false;
  int64_t duration_ms = 0;    // 0: until a signal
  std::string sent_at_topic;  // --sent-at TOPIC:HEADER; empty: time records from their own timestamp
  std::string sent_at_header;
};

int usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_observe: %s\nusage: bench_observe --bootstrap B --topics T1[,T2] --csv FILE [--from "
               "end|beginning] [--since-ms T] [--match S]... [--done-after N] [--exit-on-done] [--duration-ms D] "
               "[--sent-at TOPIC:HEADER]\n",
               why.c_str());
  return 2;
}

bool parse_long(const std::string& s, int64_t* out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size() && *out >= 0;
}

// Empty string on success, else the error.
std::string parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--exit-on-done") {
      o->exit_on_done = true;
      continue;
    }
    if (i + 1 >= argc) return "flag " + flag + " needs a value";
    const std::string v = argv[++i];
    if (flag == "--bootstrap") {
      o->bootstrap = v;
    } else if (flag == "--topics") {
      std::stringstream ss(v);
      for (std::string t; std::getline(ss, t, ',');) {
        if (!t.empty()) o->topics.push_back(t);
      }
    } else if (flag == "--csv") {
      o->csv = v;
    } else if (flag == "--from") {
      if (v != "end" && v != "beginning") return "--from must be end or beginning";
      o->from_end = v == "end";
    } else if (flag == "--since-ms") {
      if (!parse_long(v, &o->since_ms)) return "--since-ms needs a non-negative integer";
    } else if (flag == "--match") {
      o->matches.push_back(v);
    } else if (flag == "--done-after") {
      if (!parse_long(v, &o->done_after) || o->done_after < 1) return "--done-after needs a positive integer";
    } else if (flag == "--sent-at") {
      const auto colon = v.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) return "--sent-at needs TOPIC:HEADER";
      o->sent_at_topic = v.substr(0, colon);
      o->sent_at_header = v.substr(colon + 1);
    } else if (flag == "--duration-ms") {
      if (!parse_long(v, &o->duration_ms) || o->duration_ms < 1) return "--duration-ms needs a positive integer";
    } else {
      return "unknown flag " + flag;
    }
  }
  if (o->bootstrap.empty()) return "--bootstrap is required";
  if (o->topics.empty()) return "--topics is required";
  if (o->csv.empty()) return "--csv is required";
  if (o->exit_on_done && o->done_after == 0) return "--exit-on-done needs --done-after";
  return "";
}

// Every partition of the topics, at the last stable offset (from_end) or the beginning.
absl::StatusOr<std::vector<TopicPartitionOffset>> positions(const Options& o, const std::vector<std::string>& topics,
                                                            ConsumerClient& consumer) {
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, AdminClient::create({{"bootstrap.servers", o.bootstrap}}));
  KSTREAMS_ASSIGN_OR_RETURN(auto counts, admin->partition_counts(topics, milliseconds(30000)));
  std::vector<TopicPartitionOffset> parts;
  for (const auto& t : topics) {
    auto it = counts.find(t);
    if (it == counts.end()) return absl::NotFoundError("topic '" + t + "' does not exist");
    for (int32_t p = 0; p < it->second; ++p) {
      int64_t offset = -2;  // beginning
      if (o.from_end) {
        KSTREAMS_ASSIGN_OR_RETURN(auto wm, consumer.watermarks(t, p, milliseconds(30000)));
        offset = wm.second;
      }
      parts.push_back({t, p, offset});
    }
  }
  return parts;
}

bool matches(const Options& o, const std::optional<std::string>& value) {
  if (o.matches.empty()) return true;
  if (!value) return false;
  for (const auto& m : o.matches) {
    if (value->find(m) != std::string::npos) return true;
  }
  return false;
}

int run(const Options& o) {
  std::unique_ptr<FILE, int (*)(FILE*)> csv(std::fopen(o.csv.c_str(), "w"), std::fclose);
  if (!csv) {
    std::fprintf(stderr, "bench_observe: cannot write %s\n", o.csv.c_str());
    return 1;
  }
  std::fputs("arrival_ms,partition,timestamp_ms\n", csv.get());
  // A consumer assigned to every partition of `topics` at its start position (null: failed, printed).
  auto open = [&o](const std::vector<std::string>& topics) -> std::unique_ptr<ConsumerClient> {
    auto consumer = ConsumerClient::create({{"bootstrap.servers", o.bootstrap},
                                            {"isolation.level", "read_committed"},
                                            {"enable.auto.commit", "false"},
                                            {"fetch.wait.max.ms", "10"}});
    absl::StatusOr<std::vector<TopicPartitionOffset>> parts =
        consumer.ok() ? positions(o, topics, **consumer)
                      : absl::StatusOr<std::vector<TopicPartitionOffset>>(consumer.status());
    if (parts.ok()) {
      if (auto st = (*consumer)->assign(*parts); !st.ok()) parts = st;
    }
    if (!parts.ok()) {
      std::fprintf(stderr, "bench_observe: %s\n", parts.status().ToString().c_str());
      return nullptr;
    }
    return std::move(*consumer);
  };
  std::unique_ptr<ConsumerClient> consumer = open(o.topics);
  if (!consumer) return 1;
  std::unique_ptr<ConsumerClient> sent_consumer;
  if (!o.sent_at_topic.empty()) {
    sent_consumer = open({o.sent_at_topic});
    if (!sent_consumer) return 1;
  }
  kbench::emit_ready();
  const auto ready = std::chrono::steady_clock::now();
  auto last_flush = ready;
  int64_t count = 0;
  bool done = false;
  int rc = 0;
  // --sent-at: send time per key, and counted records waiting for theirs (arrival, partition).
  std::unordered_map<std::string, int64_t> sent_at;
  std::unordered_multimap<std::string, std::pair<int64_t, int32_t>> waiting;
  auto count_one = [&](int64_t arrival, int32_t partition, int64_t reference) {
    if (reference < o.since_ms) return;
    std::fprintf(csv.get(), "%lld,%d,%lld\n", static_cast<long long>(arrival), partition,
                 static_cast<long long>(reference));
    if (++count == 1) kbench::emit(R"({"event":"first","t_ms":)" + std::to_string(arrival) + R"(,"count":1})");
  };
  while (!kbench::stop_requested()) {
    if (o.duration_ms > 0 && std::chrono::steady_clock::now() - ready >= milliseconds(o.duration_ms)) break;
    if (sent_consumer) {
      // The send times first (without waiting): a status read below then usually finds its key.
      auto sent = sent_consumer->poll(milliseconds(0), 5000);
      if (!sent.ok()) {
        std::fprintf(stderr, "bench_observe: %s\n", sent.status().ToString().c_str());
        rc = 1;
        break;
      }
      for (const auto& r : *sent) {
        const auto header = r.headers.last(o.sent_at_header);
        int64_t t = 0;
        if (!r.key || !header || !parse_long(std::string(*header), &t)) continue;
        sent_at[*r.key] = t;
        auto [first, last] = waiting.equal_range(*r.key);
        for (auto it = first; it != last; ++it) count_one(it->second.first, it->second.second, t);
        waiting.erase(first, last);
      }
    }
    auto batch = consumer->poll(milliseconds(sent_consumer ? 20 : 50), 1000);
    const int64_t arrival = kbench::now_ms();
    if (!batch.ok()) {
      std::fprintf(stderr, "bench_observe: %s\n", batch.status().ToString().c_str());
      rc = 1;
      break;
    }
    for (const auto& r : *batch) {
      if (!matches(o, r.value)) continue;
      if (o.sent_at_topic.empty()) {
        count_one(arrival, r.partition.value(), r.timestamp);
        continue;
      }
      const std::string key = r.key.value_or("");
      if (auto it = sent_at.find(key); it != sent_at.end()) {
        count_one(arrival, r.partition.value(), it->second);
      } else {
        waiting.emplace(key, std::make_pair(arrival, r.partition.value()));
      }
    }
    if (!done && o.done_after > 0 && count >= o.done_after) {
      done = true;
      kbench::emit(R"({"event":"done","t_ms":)" + std::to_string(arrival) + R"(,"count":)" + std::to_string(count) +
                   "}");
      if (o.exit_on_done) break;
    }
    if (std::chrono::steady_clock::now() - last_flush >= std::chrono::seconds(1)) {
      std::fflush(csv.get());
      last_flush = std::chrono::steady_clock::now();
    }
  }
  std::fflush(csv.get());
  consumer->close();
  if (sent_consumer) sent_consumer->close();
  kbench::emit(R"({"event":"summary","records":)" + std::to_string(count) +
               (o.sent_at_topic.empty() ? "" : R"(,"unmatched":)" + std::to_string(waiting.size())) + "}");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (auto why = parse(argc, argv, &o); !why.empty()) return usage(why);
  kbench::install_stop_signals();
  return run(o);
}
