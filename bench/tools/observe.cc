// bench_observe: records when output records arrive, for the harness's latency and fail-over
// measurements (bench/harness/PROTOCOL.md, "What the harness measures").
//
//   bench_observe --bootstrap B --topics T1[,T2...] --csv FILE [--from end|beginning] [--since-ms T]
//                 [--match S]... [--done-after N] [--exit-on-done] [--duration-ms D]
//                 [--key-column] [--timestamp-header H]
//
// A read_committed consumer without a group, assigned to every partition of the topics: at their
// end offsets (--from end, the default: the last stable offsets, queried before `ready`, so every
// record committed after `ready` is seen) or at the beginning. For each record whose timestamp is
// >= --since-ms (default 0) and, when --match is given, whose value contains one of the match
// strings, it appends `arrival_ms,partition,timestamp_ms` to FILE (header line first), arrival_ms
// being the wall clock when the consumer returned the record. Counted records only.
//
// --key-column: a 4th column, `key`, the record's key percent-encoded (empty for a null key).
// --timestamp-header H: a record is timed from header H (decimal epoch ms) instead of its own
// timestamp: timestamp_ms in FILE is that value and --since-ms applies to it; records without it
// are not counted (the summary says how many). With both, the saga's end-to-end latency is a join
// of two observers' files by key (the orders' send times, the statuses' arrivals): the harness does
// it (bench/harness/PROTOCOL.md). One process reading both topics held the statuses back now and
// then (docs/benchmarks.md, 2026-12-04 evening and 2026-12-07), so each observer reads one.
//
// Events (stdout, one JSON object per line):
//   {"event":"ready","t_ms":..}                    positioned
//   {"event":"first","t_ms":..,"count":1}          the first counted record
//   {"event":"done","t_ms":..,"count":n}           n >= --done-after (once)
//   {"event":"summary","records":n[,"without_header":w]} at exit: SIGTERM/SIGINT, --duration-ms elapsed
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
#include "kstreams/runtime/http.h"

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
  int64_t duration_ms = 0;       // 0: until a signal
  std::string timestamp_header;  // --timestamp-header H: a record's reference time is header H's value
  bool key_column = false;       // --key-column: a 4th CSV column, the record's key (percent-encoded)
};

int usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_observe: %s\nusage: bench_observe --bootstrap B --topics T1[,T2] --csv FILE [--from "
               "end|beginning] [--since-ms T] [--match S]... [--done-after N] [--exit-on-done] [--duration-ms D] "
               "[--key-column] [--timestamp-header H]\n",
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
    if (flag == "--key-column") {
      o->key_column = true;
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
    } else if (flag == "--timestamp-header") {
      if (v.empty()) return "--timestamp-header needs a header name";
      o->timestamp_header = v;
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
  // Rows are kept in memory and written at exit: a write() in the polling loop can block for
  // hundreds of milliseconds when the file system is busy (the broker's and the stores' writes on
  // the same disk), and every record counted after such a stall would carry it as latency
  // (docs/benchmarks.md, 2026-12-07). The harness reads the file only after the observer exited.
  std::string rows = o.key_column ? "arrival_ms,partition,timestamp_ms,key\n" : "arrival_ms,partition,timestamp_ms\n";
  rows.reserve(1 << 22);
  auto consumer = ConsumerClient::create({{"bootstrap.servers", o.bootstrap},
                                          {"isolation.level", "read_committed"},
                                          {"enable.auto.commit", "false"},
                                          {"fetch.wait.max.ms", "10"}});
  absl::StatusOr<std::vector<TopicPartitionOffset>> parts =
      consumer.ok() ? positions(o, o.topics, **consumer)
                    : absl::StatusOr<std::vector<TopicPartitionOffset>>(consumer.status());
  if (parts.ok()) {
    if (auto st = (*consumer)->assign(*parts); !st.ok()) parts = st;
  }
  if (!parts.ok()) {
    std::fprintf(stderr, "bench_observe: %s\n", parts.status().ToString().c_str());
    return 1;
  }
  kbench::emit_ready();
  const auto ready = std::chrono::steady_clock::now();
  int64_t count = 0;
  int64_t without_header = 0;  // --timestamp-header: records that lacked it (or held no number)
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
      if (!matches(o, r.value)) continue;
      int64_t reference = r.timestamp;
      if (!o.timestamp_header.empty()) {
        const auto header = r.headers.last(o.timestamp_header);
        if (!header || !parse_long(std::string(*header), &reference)) {
          ++without_header;
          continue;
        }
      }
      if (reference < o.since_ms) continue;
      rows.append(std::to_string(arrival)).append(",").append(std::to_string(r.partition.value())).append(",");
      rows.append(std::to_string(reference));
      if (o.key_column) rows.append(",").append(kstreams::runtime::http::url_encode(r.key.value_or("")));
      rows.append("\n");
      if (++count == 1) kbench::emit(R"({"event":"first","t_ms":)" + std::to_string(arrival) + R"(,"count":1})");
    }
    if (!done && o.done_after > 0 && count >= o.done_after) {
      done = true;
      kbench::emit(R"({"event":"done","t_ms":)" + std::to_string(arrival) + R"(,"count":)" + std::to_string(count) +
                   "}");
      if (o.exit_on_done) break;
    }
  }
  if (std::fwrite(rows.data(), 1, rows.size(), csv.get()) != rows.size() || std::fflush(csv.get()) != 0) {
    std::fprintf(stderr, "bench_observe: cannot write %s\n", o.csv.c_str());
    rc = 1;
  }
  kbench::emit(R"({"event":"summary","records":)" + std::to_string(count) +
               (o.timestamp_header.empty() ? "" : R"(,"without_header":)" + std::to_string(without_header)) + "}");
  // Last, after everything is written: librdkafka 2.0's consumer close can hang for good once its
  // topics were deleted (librdkafka issues #4362, #3182); the harness stops observers before it
  // deletes a run's topics, and kills one that does not exit.
  (*consumer)->close();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (auto why = parse(argc, argv, &o); !why.empty()) return usage(why);
  kbench::install_stop_signals();
  return run(o);
}
