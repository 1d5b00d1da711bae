// bench_produce: writes N keyed records of a given size to a topic with an idempotent producer, as
// fast as it goes or at a steady rate (restoration, throughput and latency benchmarks).
//
//   bench_produce --bootstrap B --topic T --records N [--value-bytes 190] [--keys K] [--key-offset O]
//                 [--rate R] [--timestamp-ms TS]
//
// Record i (0-based) has key "key-<O + (i mod K)>" (K = 0, the default: "key-<O + i>", every record
// its own key), a value of B bytes of 'v', and timestamp TS, or the wall clock at send when
// --timestamp-ms is absent. Partitions: murmur2 of the key (Java's default partitioner).
// --rate R: R records/s, paced about every 5 ms (and linger.ms 1 instead of 20); 0 or absent: as fast
// as possible.
//
// stream_join: run it twice with the same --records M (and the same --keys / --key-offset), once
// to P-in and once to P-in2: both topics get key-<O>..key-<O+M-1>, so every left record finds its
// one right partner (--expect is then 2M). A later phase (e.g. latency) uses --key-offset to write
// keys that earlier records do not have.
// Prints one summary line on stdout. Exit codes: 0, 1 Kafka error, 2 bad command line.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "kstreams/runtime/clients.h"

namespace {

int usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_produce: %s\nusage: bench_produce --bootstrap B --topic T --records N [--value-bytes 190] "
               "[--keys K] [--key-offset O] [--rate R] [--timestamp-ms TS]\n",
               why.c_str());
  return 2;
}

bool parse_long(const char* s, long* out) {
  const char* end = s + std::strlen(s);
  const auto r = std::from_chars(s, end, *out);
  return r.ec == std::errc() && r.ptr == end && *out >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic;
  long records = 0;
  long value_bytes = 190;
  long keys = 0;  // 0: every record its own key
  long rate = 0;  // records/s; 0: as fast as possible
  long key_offset = 0;
  std::optional<long> fixed_timestamp;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage("flag " + a + " needs a value");
    const char* v = argv[i + 1];
    long n = 0;
    if (a == "--bootstrap") {
      bootstrap = v;
      continue;
    }
    if (a == "--topic") {
      topic = v;
      continue;
    }
    if (!parse_long(v, &n)) return usage("flag " + a + " needs a non-negative integer, got '" + v + "'");
    if (a == "--records") {
      records = n;
    } else if (a == "--value-bytes") {
      value_bytes = n;
    } else if (a == "--keys") {
      keys = n;
    } else if (a == "--key-offset") {
      key_offset = n;
    } else if (a == "--rate") {
      rate = n;
    } else if (a == "--timestamp-ms") {
      fixed_timestamp = n;
    } else {
      return usage("unknown flag " + a);
    }
  }
  if (topic.empty() || records <= 0) return usage("--topic and a positive --records are required");
  // A backlog batches for throughput; a paced run sends soon after each record's timestamp, so that
  // the producer's lingering adds little to the latencies measured from it.
  auto producer = kstreams::runtime::ProducerClient::create({{"bootstrap.servers", bootstrap},
                                                             {"enable.idempotence", "true"},
                                                             {"linger.ms", rate > 0 ? "1" : "20"},
                                                             {"batch.size", "1000000"}});
  if (!producer.ok()) {
    std::fprintf(stderr, "bench_produce: %s\n", producer.status().ToString().c_str());
    return 1;
  }
  // Metadata first: the first second of a paced run must not wait for librdkafka's once-a-second
  // lookup of a topic it has not seen (records stamped at send would show ~1 s of latency).
  if (auto st = (*producer)->warm_up({topic}, std::chrono::seconds(30)); !st.ok()) {
    std::fprintf(stderr, "bench_produce: %s\n", st.ToString().c_str());
    return 1;
  }
  const long pace_every = std::max(1L, rate / 200);  // about every 5 ms
  const auto start = std::chrono::steady_clock::now();
  kstreams::RawRecord r;
  r.topic = topic;
  r.partition = kstreams::Partition(-1);
  r.value = std::string(static_cast<size_t>(value_bytes), 'v');
  for (long i = 0; i < records; ++i) {
    if (rate > 0 && i % pace_every == 0) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000 / rate));
    }
    r.key = "key-" + std::to_string(key_offset + (keys > 0 ? i % keys : i));
    r.timestamp =
        fixed_timestamp
            ? *fixed_timestamp
            : std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    absl::Status st;
    while ((st = (*producer)->send(r)).code() == absl::StatusCode::kUnavailable)
      (*producer)->poll(std::chrono::milliseconds(5));
    if (!st.ok()) {
      std::fprintf(stderr, "bench_produce: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  if (!(*producer)->flush(std::chrono::minutes(2)).ok() || (*producer)->failed_count() > 0) return 1;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("produced %ld records of %ld bytes in %.2f s (%.0f records/s)\n", records, value_bytes, s, records / s);
  return 0;
}
