// stream_bench_app: the two topologies of the stream benchmarks (scripts/bench.sh).
//   stream_bench_app --mode stateless|windowed --input T --output T [--config F] [--set k=v ...]
// stateless: filter -> map_values -> to.  windowed: group_by_key -> 10 s tumbling count -> to.
#include <cstdio>
#include <string>
#include <vector>

#include "kstreams/kstreams.h"

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  auto config = kstreams::runtime::StreamsConfig::from_args(argc, argv, &rest);
  if (!config.ok()) {
    std::fprintf(stderr, "stream_bench_app: %s\n", config.status().ToString().c_str());
    return 2;
  }
  std::string mode, input, output;
  for (size_t i = 0; i + 1 < rest.size(); i += 2) {
    if (rest[i] == "--mode") mode = rest[i + 1];
    if (rest[i] == "--input") input = rest[i + 1];
    if (rest[i] == "--output") output = rest[i + 1];
  }
  if ((mode != "stateless" && mode != "windowed") || input.empty() || output.empty()) {
    std::fprintf(stderr, "usage: stream_bench_app --mode stateless|windowed --input T --output T [--set k=v]\n");
    return 2;
  }
  kstreams::StreamsBuilder builder;
  auto in = builder.stream<std::string, std::string>(input);
  if (mode == "stateless") {
    in.filter([](const std::string&, const std::string& v) { return !v.empty(); })
        .map_values([](const std::string& v) { return "x" + v.substr(1); })
        .to(output);
  } else {
    in.group_by_key(kstreams::Grouped::as("by-key"))
        .windowed_by(kstreams::TimeWindows::of_size_and_grace(std::chrono::seconds(10), std::chrono::minutes(1)))
        .count(kstreams::Materialized::as("window-counts"))
        .to_stream()
        .map([](const kstreams::Windowed<std::string>& w, int64_t n) {
          return std::make_pair(w.key + "@" + std::to_string(w.start), std::to_string(n));
        })
        .to(output);
  }
  kstreams::Topology topology = builder.build();
  kstreams::runtime::KafkaStreams streams(topology, *config);
  if (auto st = streams.start(); !st.ok()) {
    std::fprintf(stderr, "stream_bench_app: %s\n", st.ToString().c_str());
    return 1;
  }
  return streams.run_until_signal();
}
