// ecommerce_topology: the e-commerce order system on kstreams.
//
//   ecommerce_topology --config config/ecommerce-local.properties [--set key=value ...]
//   ecommerce_topology ... --describe      print the topology (Kafka Streams' format) and exit
//   ecommerce_topology ... --reset         delete the application's internal topics and local state
//   ecommerce_topology ... --reset-all     also delete the contract's topics (a fresh start for demos)
//
// Application settings (besides StreamsConfig's): notifications.webhook.url,
// notifications.retry.max.attempts (3), notifications.retry.backoff.ms (200),
// notifications.circuit.failure.threshold (5), notifications.circuit.open.ms (5000),
// notifications.workers (4), analytics.grace.ms (30000), ecommerce.partitions (3: of topics it creates),
// ecommerce.topic.prefix ("": a prefix for every contract topic, for tests sharing a broker).
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
  ecommerce::TopologyOptions options;
  options.application_id = config->application_id();
  options.topic_prefix = config->get_string_or("ecommerce.topic.prefix", "");
  options.grace_ms = config->get_long_or("analytics.grace.ms", ecommerce::kDefaultAnalyticsGraceMs);
  options.notifier.max_attempts = static_cast<int32_t>(config->get_long_or("notifications.retry.max.attempts", 3));
  options.notifier.backoff_ms = config->get_long_or("notifications.retry.backoff.ms", 200);
  options.notifier.failure_threshold =
      static_cast<int32_t>(config->get_long_or("notifications.circuit.failure.threshold", 5));
  options.notifier.open_ms = config->get_long_or("notifications.circuit.open.ms", 5000);
  ecommerce::WebhookDispatcher::Options dopts;
  dopts.webhook_url = webhook.empty() ? "http://127.0.0.1:1" : webhook;
  dopts.workers = static_cast<int>(config->get_long_or("notifications.workers", 4));
  options.dispatcher = std::make_shared<ecommerce::WebhookDispatcher>(dopts);

  kstreams::Topology topology = ecommerce::build_topology(options);
  if (describe) {
    std::fputs(topology.describe().c_str(), stdout);
    return 0;
  }
  if (reset > 0) {
    auto st = ecommerce::reset_application(topology, *config, reset == 2, options.topic_prefix);
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
                                         options.topic_prefix);
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
