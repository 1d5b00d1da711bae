// ecommerce_topology: the e-commerce order system on kstreams.
//
//   ecommerce_topology --config config/ecommerce-local.properties [--set key=value ...]
//   ecommerce_topology ... --describe      print the topology (Kafka Streams' format) and exit
//   ecommerce_topology ... --reset         delete the application's internal topics and local state
//   ecommerce_topology ... --reset-all     also delete the contract's topics (a fresh start for demos)
//
// Application settings (besides StreamsConfig's): notifications.webhook.url (required to run), the
// notification, analytics and topic-prefix settings of ecommerce::topology_options()
// (topology/ecommerce_topology.h), and ecommerce.partitions (3: of the topics it creates).
#include <cstdio>
#include <filesystem>

#include "kstreams/kstreams.h"
#include "topology/ecommerce_topology.h"

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  auto config = kstreams::runtime::StreamsConfig::from_args(argc, argv, &rest);
  if (!config.ok()) {
    std::fprintf(stderr, "ecommerce_topology: %s\n", config.status().ToString().c_str());
    return 2;
  }
  bool describe = false;
  int reset = 0;  // 1: internal topics and state, 2: also the contract's topics
  for (const auto& arg : rest) {
    if (arg == "--describe") {
      describe = true;
    } else if (arg == "--reset" || arg == "--reset-all") {
      reset = arg == "--reset" ? 1 : 2;
    } else {
      std::fprintf(stderr,
                   "ecommerce_topology: unknown argument '%s'\nusage: ecommerce_topology --config FILE "
                   "[--set key=value ...] [--describe | --reset | --reset-all]\n",
                   arg.c_str());
      return 2;
    }
  }
  const std::string webhook = config->get_string_or("notifications.webhook.url", "");
  if (webhook.empty() && !describe && reset == 0) {
    std::fprintf(stderr, "ecommerce_topology: notifications.webhook.url is required\n");
    return 2;
  }
  // --describe and --reset need no webhook: a placeholder URL that is never called.
  auto options = ecommerce::topology_options(*config, "http://127.0.0.1:1");
  if (!options.ok()) {
    std::fprintf(stderr, "ecommerce_topology: %s\n", options.status().ToString().c_str());
    return 2;
  }

  kstreams::Topology topology = ecommerce::build_topology(*options);
  if (describe) {
    std::fputs(topology.describe().c_str(), stdout);
    return 0;
  }
  if (reset > 0) {
    auto st = ecommerce::reset_application(topology, *config, reset == 2, options->topic_prefix);
    if (!st.ok()) {
      std::fprintf(stderr, "ecommerce_topology: reset failed: %s\n", st.ToString().c_str());
      return 1;
    }
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(config->get_string("state.dir")) / config->application_id(), ec);
    std::printf("reset: internal topics%s and local state of '%s' deleted\n", reset == 2 ? ", contract topics" : "",
                config->application_id().c_str());
    return 0;
  }
  const auto partitions = static_cast<int32_t>(config->get_long_or("ecommerce.partitions", 3));
  if (auto st = ecommerce::ensure_topics(config->client_settings("admin."), config->application_id(), partitions,
                                         options->topic_prefix);
      !st.ok()) {
    std::fprintf(stderr, "ecommerce_topology: %s\n", st.ToString().c_str());
    return 1;
  }
  kstreams::runtime::KafkaStreams streams(topology, *config);
  ecommerce::add_routes(streams);
  if (auto st = streams.start(); !st.ok()) {
    std::fprintf(stderr, "ecommerce_topology: %s\n", st.ToString().c_str());
    return 1;
  }
  return streams.run_until_signal();
}
