// bench_topics: creates or deletes the benchmark's topics (bench/harness/PROTOCOL.md, "Topics").
//
//   bench_topics --bootstrap B create T:PARTITIONS[:compact] ...
//   bench_topics --bootstrap B delete T ...
//   bench_topics --bootstrap B delete-prefix P ...
//
// create is idempotent: a topic that exists with the same partition count is fine; one with another
// count is an error (exit 1, nothing else is created). `:compact` sets cleanup.policy=compact.
// Returns once every created topic is visible in the cluster metadata. Replication factor: the
// broker default. delete: deleting a topic that does not exist is fine. delete-prefix: deletes every
// topic whose name starts with one of the prefixes (a finished run's inputs, outputs and internal
// topics); a prefix must not be empty.
// Exit codes: 0 done, 1 the cluster refused or did not answer, 2 bad command line.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "kstreams/runtime/clients.h"

namespace {

using kstreams::runtime::AdminClient;
using kstreams::runtime::TopicSpec;
using std::chrono::seconds;

int usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_topics: %s\nusage: bench_topics --bootstrap B create T:PARTITIONS[:compact] ...\n"
               "       bench_topics --bootstrap B delete T ...\n"
               "       bench_topics --bootstrap B delete-prefix P ...\n",
               why.c_str());
  return 2;
}

// "name:partitions[:compact]".
bool parse_spec(const std::string& arg, TopicSpec* spec) {
  const auto c1 = arg.find(':');
  if (c1 == std::string::npos || c1 == 0) return false;
  const auto c2 = arg.find(':', c1 + 1);
  const std::string count = arg.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
  int32_t n = 0;
  const auto r = std::from_chars(count.data(), count.data() + count.size(), n);
  if (count.empty() || r.ec != std::errc() || r.ptr != count.data() + count.size() || n < 1) return false;
  spec->name = arg.substr(0, c1);
  spec->partitions = n;
  spec->replication_factor = -1;
  if (c2 != std::string::npos) {
    if (arg.substr(c2 + 1) != "compact") return false;
    spec->configs["cleanup.policy"] = "compact";
  }
  return true;
}

int create(AdminClient& admin, const std::vector<std::string>& args) {
  std::vector<TopicSpec> specs;
  std::vector<std::string> names;
  for (const auto& a : args) {
    TopicSpec spec;
    if (!parse_spec(a, &spec)) return usage("bad topic '" + a + "' (want NAME:PARTITIONS or NAME:PARTITIONS:compact)");
    names.push_back(spec.name);
    specs.push_back(std::move(spec));
  }
  // Create (existing topics are left alone), then compare the partition counts.
  if (auto st = admin.create_topics(specs, /*ignore_existing=*/true, seconds(30)); !st.ok()) {
    std::fprintf(stderr, "bench_topics: %s\n", st.ToString().c_str());
    return 1;
  }
  // Wait until every topic is in the metadata (a producer or consumer started right after sees it),
  // then check the partition counts (an existing topic keeps its count).
  for (int attempt = 0; attempt < 60; ++attempt) {
    auto counts = admin.partition_counts(names, seconds(30));
    if (counts.ok() && counts->size() == names.size()) {
      for (const auto& spec : specs) {
        if (counts->at(spec.name) != spec.partitions) {
          std::fprintf(stderr, "bench_topics: topic '%s' has %d partitions, not %d\n", spec.name.c_str(),
                       counts->at(spec.name), spec.partitions);
          return 1;
        }
      }
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::fprintf(stderr, "bench_topics: the created topics did not appear in the metadata within 15 s\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--bootstrap") {
      if (i + 1 >= argc) return usage("--bootstrap needs a value");
      bootstrap = argv[++i];
    } else {
      rest.push_back(a);
    }
  }
  if (bootstrap.empty()) return usage("--bootstrap is required");
  if (rest.size() < 2 || (rest[0] != "create" && rest[0] != "delete" && rest[0] != "delete-prefix")) {
    return usage("want 'create', 'delete' or 'delete-prefix' and at least one topic or prefix");
  }
  const std::string command = rest[0];
  rest.erase(rest.begin());
  auto admin = AdminClient::create({{"bootstrap.servers", bootstrap}});
  if (!admin.ok()) {
    std::fprintf(stderr, "bench_topics: %s\n", admin.status().ToString().c_str());
    return 1;
  }
  if (command == "create") return create(**admin, rest);
  if (command == "delete-prefix") {
    std::vector<std::string> prefixes = std::move(rest);
    rest.clear();
    for (const auto& p : prefixes) {
      if (p.empty()) return usage("an empty prefix would delete every topic");
    }
    auto names = (*admin)->topic_names(seconds(30));
    if (!names.ok()) {
      std::fprintf(stderr, "bench_topics: %s\n", names.status().ToString().c_str());
      return 1;
    }
    for (const auto& n : *names) {
      for (const auto& p : prefixes) {
        if (n.rfind(p, 0) == 0) {
          rest.push_back(n);
          break;
        }
      }
    }
    if (rest.empty()) return 0;
  }
  if (auto st = (*admin)->delete_topics(rest, seconds(30)); !st.ok()) {
    std::fprintf(stderr, "bench_topics: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
