// kstreams_record: records real topics into the JSON-lines recording format (runtime/recording.h),
// for replaying through the TopologyTestDriver and comparing with a golden recording.
//
//   kstreams_record --bootstrap 127.0.0.1:9092 --topic orders [--topic T ...] --out orders.jsonl
//                   [--isolation read_committed|read_uncommitted] [--timeout-ms 60000]
//
// Reads every partition from the beginning to its current end (the last stable offset under
// read_committed). Exit 0 on success, 1 on a Kafka or file error, 2 on bad arguments.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kstreams/runtime/clients.h"
#include "kstreams/runtime/recording.h"

namespace {
int usage(const char* why) {
  std::fprintf(stderr,
               "kstreams_record: %s\nusage: kstreams_record --bootstrap HOST:PORT --topic T [--topic T ...] --out FILE "
               "[--isolation read_committed|read_uncommitted] [--timeout-ms N]\n",
               why);
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap = "127.0.0.1:9092";
  std::string out;
  std::string isolation = "read_committed";
  long timeout_ms = 60000;
  std::vector<std::string> topics;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + arg).c_str());
    const std::string value = argv[++i];
    if (arg == "--bootstrap") {
      bootstrap = value;
    } else if (arg == "--topic") {
      topics.push_back(value);
    } else if (arg == "--out") {
      out = value;
    } else if (arg == "--isolation") {
      if (value != "read_committed" && value != "read_uncommitted") return usage("bad --isolation");
      isolation = value;
    } else if (arg == "--timeout-ms") {
      timeout_ms = std::strtol(value.c_str(), nullptr, 10);
      if (timeout_ms <= 0) return usage("--timeout-ms must be > 0");
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }
  if (topics.empty() || out.empty()) return usage("--topic and --out are required");
  auto records = kstreams::runtime::read_all({{"bootstrap.servers", bootstrap}, {"isolation.level", isolation}}, topics,
                                             std::chrono::milliseconds(timeout_ms));
  if (!records.ok()) {
    std::fprintf(stderr, "kstreams_record: %s\n", records.status().ToString().c_str());
    return 1;
  }
  if (auto st = kstreams::recording::write_recording(out, *records); !st.ok()) {
    std::fprintf(stderr, "kstreams_record: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("recorded %zu records of %zu topic(s) into %s\n", records->size(), topics.size(), out.c_str());
  return 0;
}
