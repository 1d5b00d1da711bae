// A small stateful kstreams application for the runtime's integration tests, run as a separate
// process so that tests can SIGKILL it mid-stream and start it again.
//
//   counter_app --input T --ids-out T --counts-out T [--table T --joined-out T] [--windowed-out T]
//               [--closed-windows-out T] [--id-table T --id-joined-out T] [--fault POINT:SKIP:TIMES ...]
//               [--global-table T --global-joined-out T] [--hang-on GROUP] [--config F] [--set key=value ...]
//
// --fault arms a kstreams fault point (kstreams/common/fault_points.h) to return an aborted
// transaction error TIMES times after letting SKIP hits pass: the runtime's failure paths under load.
// --hang-on makes the processing of every record whose group is GROUP never return (a poison pill
// that hangs the stream thread: processing.record.budget.ms).
//
// Topology: every input record (key: id, value: group) is copied to --ids-out, and counted per
// group through a repartition topic ("by-group") into the store "group-counts"; every count update
// goes to --counts-out as (group, "<count>"). Under exactly-once, the updates of a group read with
// read_committed are exactly 1, 2, ..., n in order: no duplicates, no gaps.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "kstreams/common/fault_points.h"
#include "kstreams/kstreams.h"

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  auto config = kstreams::runtime::StreamsConfig::from_args(argc, argv, &rest);
  if (!config.ok()) {
    std::fprintf(stderr, "counter_app: %s\n", config.status().ToString().c_str());
    return 2;
  }
  std::string input, ids_out, counts_out, table, joined_out, windowed_out, closed_windows_out, id_table, id_joined_out,
      hang_on, global_table, global_joined_out;
  for (size_t i = 0; i + 1 < rest.size(); i += 2) {
    if (rest[i] == "--input") input = rest[i + 1];
    if (rest[i] == "--ids-out") ids_out = rest[i + 1];
    if (rest[i] == "--counts-out") counts_out = rest[i + 1];
    if (rest[i] == "--table") table = rest[i + 1];
    if (rest[i] == "--joined-out") joined_out = rest[i + 1];
    if (rest[i] == "--windowed-out") windowed_out = rest[i + 1];
    if (rest[i] == "--closed-windows-out") closed_windows_out = rest[i + 1];
    if (rest[i] == "--id-table") id_table = rest[i + 1];
    if (rest[i] == "--id-joined-out") id_joined_out = rest[i + 1];
    if (rest[i] == "--hang-on") hang_on = rest[i + 1];
    if (rest[i] == "--global-table") global_table = rest[i + 1];
    if (rest[i] == "--global-joined-out") global_joined_out = rest[i + 1];
    if (rest[i] == "--fault") {
      const std::string& f = rest[i + 1];
      const size_t a = f.find(':');
      const size_t b = a == std::string::npos ? a : f.find(':', a + 1);
      kstreams::fault::FaultSpec spec;
      const auto number = [&f](size_t from, size_t to, int* out) {
        return std::from_chars(f.data() + from, f.data() + to, *out).ptr == f.data() + to;
      };
      if (b == std::string::npos || !number(a + 1, b, &spec.skip) || !number(b + 1, f.size(), &spec.times)) {
        std::fprintf(stderr, "counter_app: --fault wants POINT:SKIP:TIMES, got '%s'\n", f.c_str());
        return 2;
      }
      spec.error = absl::AbortedError("injected fault at " + f.substr(0, a));
      kstreams::fault::arm(f.substr(0, a), spec);
    }
  }
  if (input.empty() || ids_out.empty() || counts_out.empty()) {
    std::fprintf(stderr, "usage: counter_app --input T --ids-out T --counts-out T [--config F] [--set k=v]\n");
    return 2;
  }
  kstreams::StreamsBuilder builder;
  auto records = builder.stream<std::string, std::string>(input);
  if (!hang_on.empty()) {
    records = records.map_values([hang_on](const std::string& group) {
      while (group == hang_on) std::this_thread::sleep_for(std::chrono::seconds(1));
      return group;
    });
  }
  records.to(ids_out);
  records
      .group_by([](const std::string&, const std::string& group) { return group; }, kstreams::Grouped::as("by-group"))
      .count(kstreams::Materialized::as("group-counts"))
      .to_stream()
      .map_values([](int64_t count) { return std::to_string(count); })
      .to(counts_out);
  if (!table.empty() && !joined_out.empty()) {
    // Stream-table join: each record, re-keyed by its group, joined with the group's label.
    auto labels = builder.table<std::string, std::string>(table, kstreams::Materialized::as("group-labels"));
    records.select_key([](const std::string&, const std::string& group) { return group; })
        .join(
            labels, [](const std::string& group, const std::string& label) { return group + "=" + label; },
            kstreams::Joined::as("by-group-join"))
        .to(joined_out);
  }
  if (!id_table.empty() && !id_joined_out.empty()) {
    // Stream-table join on the record's own key, without repartitioning: one task reads a partition
    // of --input and the same partition of --id-table (max.task.idle.ms decides their order).
    auto by_id = builder.table<std::string, std::string>(id_table, kstreams::Materialized::as("id-labels"));
    records.join(by_id, [](const std::string& group, const std::string& label) { return group + "|" + label; })
        .to(id_joined_out);
  }
  if (!global_table.empty() && !global_joined_out.empty()) {
    // Stream-GlobalKTable join on the record's key: every instance holds the whole table.
    auto labels =
        builder.global_table<std::string, std::string>(global_table, kstreams::Materialized::as("global-labels"));
    records
        .join(
            labels, [](const std::string& id, const std::string&) { return id; },
            [](const std::string& group, const std::string& label) { return group + "|" + label; })
        .to(global_joined_out);
  }
  if (!windowed_out.empty()) {
    // Windowed count: per group, tumbling 1 s windows on event time (generous grace: results must
    // not depend on how partitions interleave).
    records
        .group_by([](const std::string&, const std::string& group) { return group; },
                  kstreams::Grouped::as("by-group-window"))
        .windowed_by(kstreams::TimeWindows::of_size_and_grace(std::chrono::seconds(1), std::chrono::minutes(5)))
        .count(kstreams::Materialized::as("group-window-counts"))
        .to_stream()
        .map([](const kstreams::Windowed<std::string>& w, int64_t n) {
          return std::make_pair(w.key + "@" + std::to_string(w.start), std::to_string(n));
        })
        .to(windowed_out);
  }
  if (!closed_windows_out.empty()) {
    // Emit-on-close windowed count per record key (each id once), tumbling 1 s, no grace, and a
    // long retention: every closed window is forwarded exactly once, as ("<id>@<start>", "<count>"),
    // across restarts and task moves (the stores keep a minute of windows that a restart must not
    // emit again).
    records.group_by_key()
        .windowed_by(kstreams::TimeWindows::of_size_and_grace(std::chrono::seconds(1), std::chrono::seconds(0)))
        .emit_strategy(kstreams::EmitStrategy::kOnWindowClose)
        .count(kstreams::Materialized::as("closed-window-counts").with_retention(std::chrono::minutes(1)))
        .to_stream()
        .map([](const kstreams::Windowed<std::string>& w, int64_t n) {
          return std::make_pair(w.key + "@" + std::to_string(w.start), std::to_string(n));
        })
        .to(closed_windows_out);
  }
  kstreams::Topology topology = builder.build();
  kstreams::runtime::KafkaStreams streams(topology, *config);
  if (auto st = streams.start(); !st.ok()) {
    std::fprintf(stderr, "counter_app: %s\n", st.ToString().c_str());
    return 1;
  }
  return streams.run_until_signal();
}
