// bench_produce: fills a topic with N keyed records of a given size, as fast as the idempotent
// producer goes (for restoration and throughput benchmarks).
//   bench_produce --bootstrap B --topic T --records N [--value-bytes 190] [--keys K] [--rate R]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "kstreams/runtime/clients.h"

int main(int argc, char** argv) {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic;
  long records = 0;
  long value_bytes = 190;
  long keys = 0;  // 0: every record its own key
  long rate = 0;  // records/s; 0: as fast as possible
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--bootstrap")
      bootstrap = argv[i + 1];
    else if (a == "--topic")
      topic = argv[i + 1];
    else if (a == "--records")
      records = std::atol(argv[i + 1]);
    else if (a == "--value-bytes")
      value_bytes = std::atol(argv[i + 1]);
    else if (a == "--keys")
      keys = std::atol(argv[i + 1]);
  }
  if (topic.empty() || records <= 0) {
    std::fprintf(stderr, "usage: bench_produce --bootstrap B --topic T --records N [--value-bytes 190] [--keys K]\n");
    return 2;
  }
  auto producer = kstreams::runtime::ProducerClient::create({{"bootstrap.servers", bootstrap},
                                                             {"enable.idempotence", "true"},
                                                             {"linger.ms", "20"},
                                                             {"batch.size", "1000000"}});
  if (!producer.ok()) return 1;
  const auto start = std::chrono::steady_clock::now();
  kstreams::RawRecord r;
  r.topic = topic;
  r.partition = kstreams::Partition(-1);
  r.value = std::string(static_cast<size_t>(value_bytes), 'v');
  for (long i = 0; i < records; ++i) {
    if (rate > 0 && i % 100 == 0) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000 / rate));
    }
    r.key = "key-" + std::to_string(keys > 0 ? i % keys : i);
    r.timestamp =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
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
