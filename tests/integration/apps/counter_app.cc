// A small stateful kstreams application for the runtime's integration tests, run as a separate
// process so that tests can SIGKILL it mid-stream and start it again.
//
//   counter_app --input T --ids-out T --counts-out T [--config F] [--set key=value ...]
//
// Topology: every input record (key: id, value: group) is copied to --ids-out, and counted per
// group through a repartition topic ("by-group") into the store "group-counts"; every count update
// goes to --counts-out as (group, "<count>"). Under exactly-once, the updates of a group read with
// read_committed are exactly 1, 2, ..., n in order: no duplicates, no gaps.
#include <cstdio>
#include <string>
#include <vector>

#include "kstreams/kstreams.h"

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  auto config = kstreams::runtime::StreamsConfig::from_args(argc, argv, &rest);
  if (!config.ok()) {
    std::fprintf(stderr, "counter_app: %s\n", config.status().ToString().c_str());
    return 2;
  }
  std::string input, ids_out, counts_out;
  for (size_t i = 0; i + 1 < rest.size(); i += 2) {
    if (rest[i] == "--input") input = rest[i + 1];
    if (rest[i] == "--ids-out") ids_out = rest[i + 1];
    if (rest[i] == "--counts-out") counts_out = rest[i + 1];
  }
  if (input.empty() || ids_out.empty() || counts_out.empty()) {
    std::fprintf(stderr, "usage: counter_app --input T --ids-out T --counts-out T [--config F] [--set k=v]\n");
    return 2;
  }
  kstreams::StreamsBuilder builder;
  auto records = builder.stream<std::string, std::string>(input);
  records.to(ids_out);
  records
      .group_by([](const std::string&, const std::string& group) { return group; }, kstreams::Grouped::as("by-group"))
      .count(kstreams::Materialized::as("group-counts"))
      .to_stream()
      .map_values([](int64_t count) { return std::to_string(count); })
      .to(counts_out);
  kstreams::Topology topology = builder.build();
  kstreams::runtime::KafkaStreams streams(topology, *config);
  if (auto st = streams.start(); !st.ok()) {
    std::fprintf(stderr, "counter_app: %s\n", st.ToString().c_str());
    return 1;
  }
  return streams.run_until_signal();
}
