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
// Events (stdout, one JSON object per line):
//   {"event":"ready","t_ms":..}                    positioned
//   {"event":"first","t_ms":..,"count":1}          the first counted record
//   {"event":"done","t_ms":..,"count":n}           n >= --done-after (once)
//   {"event":"summary","records":n}                at exit: SIGTERM/SIGINT, --duration-ms elapsed
//                                                  after ready, or after done with --exit-on-done
// Exit codes: 0, 1 Kafka error, 2 bad command line.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
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
  int64_t duration_ms = 0;  // 0: until a signal
};

int usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_observe: %s\nusage: bench_observe --bootstrap B --topics T1[,T2] --csv FILE [--from "
               "end|beginning] [--since-ms T] [--match S]... [--done-after N] [--exit-on-done] [--duration-ms D]\n",
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
absl::StatusOr<std::vector<TopicPartitionOffset>> positions(const Options& o, ConsumerClient& consumer) {
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, AdminClient::create({{"bootstrap.servers", o.bootstrap}}));
  KSTREAMS_ASSIGN_OR_RETURN(auto counts, admin->partition_counts(o.topics, milliseconds(30000)));
  std::vector<TopicPartitionOffset> parts;
  for (const auto& t : o.topics) {
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
  auto consumer = ConsumerClient::create({{"bootstrap.servers", o.bootstrap},
                                          {"isolation.level", "read_committed"},
                                          {"enable.auto.commit", "false"},
                                          {"fetch.wait.max.ms", "10"}});
  absl::StatusOr<std::vector<TopicPartitionOffset>> parts =
      consumer.ok() ? positions(o, **consumer) : absl::StatusOr<std::vector<TopicPartitionOffset>>(consumer.status());
  if (parts.ok()) {
    if (auto st = (*consumer)->assign(*parts); !st.ok()) parts = st;
  }
  if (!parts.ok()) {
    std::fprintf(stderr, "bench_observe: %s\n", parts.status().ToString().c_str());
    return 1;
  }
  kbench::emit_ready();
  const auto ready = std::chrono::steady_clock::now();
  auto last_flush = ready;
  int64_t count = 0;
  bool done = false;
  int rc = 0;
  while (!kbench::stop_requested()) {
    if (o.duration_ms > 0 && std::chrono::steady_clock::now() - ready >= milliseconds(o.duration_ms)) break;
    auto batch = (*consumer)->poll(milliseconds(50), 1000);
    const int64_t arrival = kbench::now_ms();
    if (!batch.ok()) {
      std::fprintf(stderr, "bench_observe: %s\n", batch.status().ToString().c_str());
      rc = 1;
      break;
    }
    for (const auto& r : *batch) {
      if (r.timestamp < o.since_ms || !matches(o, r.value)) continue;
      std::fprintf(csv.get(), "%lld,%d,%lld\n", static_cast<long long>(arrival), r.partition.value(),
                   static_cast<long long>(r.timestamp));
      if (++count == 1) kbench::emit(R"({"event":"first","t_ms":)" + std::to_string(arrival) + R"(,"count":1})");
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
  (*consumer)->close();
  kbench::emit(R"({"event":"summary","records":)" + std::to_string(count) + "}");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (auto why = parse(argc, argv, &o); !why.empty()) return usage(why);
  kbench::install_stop_signals();
  return run(o);
}
