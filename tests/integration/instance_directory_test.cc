// InstanceDirectory against a real broker: instances find each other through the compacted
// `<application.id>-instances` topic, owner_of() follows the announcements, a clean stop's tombstone
// removes an instance, and an instance whose heartbeats stop expires after the TTL.
// runtime/src is not on the include path of integration_tests: reach the internal header directly.
#include "../../runtime/src/instance_directory.h"

#include <chrono>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "kstreams/common/clock.h"
#include "kstreams/runtime/clients.h"
#include "support/broker_env.h"

namespace kstreams::runtime {
namespace {

using namespace std::chrono_literals;
using testing::client_props;
using testing::unique_name;

InstanceDirectoryOptions options_for(const std::string& app_id, const std::string& server,
                                     const Clock* clock = nullptr) {
  InstanceDirectoryOptions o;
  o.application_id = app_id;
  o.application_server = server;
  o.client_config = client_props();
  o.heartbeat_interval = 300ms;
  o.ttl = 10s;
  o.poll_interval = 100ms;
  o.clock = clock;
  return o;
}

// Polls `cond` until it holds or `within` passes.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds within = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

std::vector<std::string> servers(const InstanceDirectory& d) {
  std::vector<std::string> out;
  for (const auto& i : d.instances()) out.push_back(i.application_server);
  return out;
}

TEST(InstanceDirectoryTest, CreatesACompactedSinglePartitionTopic) {
  const std::string app = unique_name("dir-topic");
  InstanceDirectory d(options_for(app, "10.0.0.1:8080"));
  EXPECT_EQ(d.publish({}, {}).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(d.start().ok());
  auto admin = AdminClient::create(client_props());
  ASSERT_TRUE(admin.ok());
  auto counts = (*admin)->partition_counts({InstanceDirectory::topic_for(app)}, 30s);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->at(app + "-instances"), 1);
  d.stop();
  EXPECT_EQ(d.publish({}, {}).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*admin)->delete_topics({app + "-instances"}, 30s).ok());
}

TEST(InstanceDirectoryTest, TwoInstancesSeeEachOtherAndOwnerOfFollowsAnnouncements) {
  const std::string app = unique_name("dir-app");
  const std::string s1 = "10.0.0.1:8080";
  const std::string s2 = "10.0.0.2:8080";
  InstanceDirectory d1(options_for(app, s1));
  InstanceDirectory d2(options_for(app, s2));
  ASSERT_TRUE(d1.start().ok());
  ASSERT_TRUE(d2.start().ok());
  ASSERT_TRUE(d1.publish({"0_0", "0_2"}, {"orders-0", "orders-2"}).ok());
  ASSERT_TRUE(d2.publish({"0_1"}, {"orders-1"}).ok());

  // Own announcements are visible at once, the other's after a round trip through the topic.
  EXPECT_EQ(d1.owner_of("orders", 0), s1);
  ASSERT_TRUE(eventually([&] { return servers(d1) == std::vector<std::string>{s1, s2}; })) << servers(d1).size();
  ASSERT_TRUE(eventually([&] { return servers(d2) == std::vector<std::string>{s1, s2}; })) << servers(d2).size();
  EXPECT_EQ(d1.owner_of("orders", 1), s2);
  EXPECT_EQ(d2.owner_of("orders", 0), s1);
  EXPECT_EQ(d2.owner_of("orders", 2), s1);
  EXPECT_EQ(d2.owner_of("orders", 7), "");
  EXPECT_EQ(d2.owner_of("payments", 0), "");
  const auto seen_by_2 = d2.instances();
  EXPECT_FALSE(seen_by_2[0].self);
  EXPECT_TRUE(seen_by_2[1].self);
  EXPECT_EQ(seen_by_2[0].tasks, (std::vector<std::string>{"0_0", "0_2"}));
  EXPECT_GT(seen_by_2[0].updated_at_ms, 0);

  // A reassignment: the newer claim on orders-2 wins even while d1 keeps heartbeating its old one.
  ASSERT_TRUE(d2.publish({"0_1", "0_2"}, {"orders-1", "orders-2"}).ok());
  ASSERT_TRUE(eventually([&] { return d1.owner_of("orders", 2) == s2; }));
  std::this_thread::sleep_for(1s);  // several heartbeats of d1
  EXPECT_EQ(d1.owner_of("orders", 2), s2);
  EXPECT_EQ(d2.owner_of("orders", 2), s2);

  // A clean stop writes a tombstone: d2 disappears from d1's view long before the TTL (10 s).
  d2.stop();
  ASSERT_TRUE(eventually([&] { return servers(d1) == std::vector<std::string>{s1}; }, 5s));
  EXPECT_EQ(d1.owner_of("orders", 1), "");

  // A late joiner reads the compacted history: d1 only (d2's tombstone hides it).
  InstanceDirectory d3(options_for(app, "10.0.0.3:8080"));
  ASSERT_TRUE(d3.start().ok());
  ASSERT_TRUE(eventually([&] { return servers(d3) == std::vector<std::string>{s1}; })) << servers(d3).size();
  EXPECT_EQ(d3.owner_of("orders", 0), s1);
  d3.stop();
  d1.stop();
}

TEST(InstanceDirectoryTest, AnInstanceWithoutHeartbeatsExpiresAfterTheTtl) {
  const std::string app = unique_name("dir-ttl");
  ManualClock clock(SystemClock::instance().now_ms());
  InstanceDirectory watcher(options_for(app, "10.0.0.1:8080", &clock));
  InstanceDirectory other(options_for(app, "10.0.0.2:8080"));
  ASSERT_TRUE(watcher.start().ok());
  ASSERT_TRUE(other.start().ok());
  ASSERT_TRUE(other.publish({"0_0"}, {"orders-0"}).ok());
  ASSERT_TRUE(eventually([&] { return watcher.owner_of("orders", 0) == "10.0.0.2:8080"; }));
  // To the watcher, the other's heartbeats now look older than the TTL.
  clock.advance(60s);
  ASSERT_TRUE(eventually([&] { return watcher.instances().empty(); })) << watcher.instances().size();
  EXPECT_EQ(watcher.owner_of("orders", 0), "");
  other.stop();
  watcher.stop();
}

}  // namespace
}  // namespace kstreams::runtime
