#include "support/broker_env.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>

#include <gtest/gtest.h>

namespace kstreams::testing {

std::string bootstrap() {
  const char* env = std::getenv("KSTREAMS_BOOTSTRAP");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:19092";
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(salt % 100000);
}

runtime::Properties client_props(const runtime::Properties& extra) {
  runtime::Properties p{{"bootstrap.servers", bootstrap()}};
  for (const auto& [k, v] : extra) p[k] = v;
  return p;
}

void create_topic(const std::string& topic, int partitions, const runtime::Properties& configs) {
  auto admin = runtime::AdminClient::create(client_props());
  ASSERT_TRUE(admin.ok()) << admin.status();
  runtime::TopicSpec spec{topic, partitions, 1, configs};
  auto st = (*admin)->create_topics({spec}, false, std::chrono::seconds(30));
  ASSERT_TRUE(st.ok()) << st;
}

}  // namespace kstreams::testing
