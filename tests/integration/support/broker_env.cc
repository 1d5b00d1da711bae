#include "support/broker_env.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>

#include <gtest/gtest.h>

namespace kstreams::testing {

namespace {
std::string& bootstrap_override() {
  static std::string address;
  return address;
}
}  // namespace

ScopedBootstrap::ScopedBootstrap(std::string address) : previous_(std::move(bootstrap_override())) {
  bootstrap_override() = std::move(address);
}

ScopedBootstrap::~ScopedBootstrap() { bootstrap_override() = std::move(previous_); }

std::string bootstrap() {
  if (!bootstrap_override().empty()) return bootstrap_override();
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

int free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace kstreams::testing
