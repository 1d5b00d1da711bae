// The instance directory's table (runtime/src/instance_directory.h) on records alone, without a
// broker: which records of `<app>-instances` are believed, who is live, who owns a partition.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "instance_directory.h"

namespace kstreams::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int64_t kNow = 1'750'000'000'000;

InstanceTable::Limits limits() {
  InstanceTable::Limits l;
  l.ttl = 45s;
  l.max_clock_skew = 30s;
  return l;
}

std::string record(const std::string& server, int64_t assigned_at, int64_t updated_at,
                   const std::vector<std::string>& partitions = {"orders-0"}) {
  return json({{"application_server", server},
               {"tasks", {"0_0"}},
               {"partitions", partitions},
               {"assigned_at", assigned_at},
               {"updated_at", updated_at}})
      .dump();
}

TEST(InstanceTableTest, AValidRecordMakesALiveOwner) {
  InstanceTable table("10.0.0.1:8080", limits());
  ASSERT_TRUE(table.apply("10.0.0.2:8080", record("10.0.0.2:8080", kNow - 1000, kNow - 500), kNow).ok());
  EXPECT_EQ(table.owner_of("orders", 0, kNow), "10.0.0.2:8080");
  ASSERT_EQ(table.instances(kNow).size(), 1u);
  ASSERT_TRUE(table.apply("[::1]:9000", record("[::1]:9000", kNow, kNow, {"orders-1"}), kNow).ok());
  ASSERT_TRUE(
      table.apply("app-2.svc.cluster.local:80", record("app-2.svc.cluster.local:80", kNow, kNow, {"orders-2"}), kNow)
          .ok());
  EXPECT_EQ(table.owner_of("orders", 2, kNow), "app-2.svc.cluster.local:80");
}

TEST(InstanceTableTest, RecordsWithAMalformedApplicationServerAreIgnored) {
  InstanceTable table("10.0.0.1:8080", limits());
  for (const std::string key : {"evil", "host:0", "host:99999", "a b:80", "http://x:80", ":80", "host:", "x:80/path",
                                "host:8o", "evil\r\nX: y:80", "[zz]:80"}) {
    EXPECT_FALSE(table.apply(key, record(key, kNow, kNow), kNow).ok()) << key;
  }
  // The value must name the same server as the key.
  EXPECT_FALSE(table.apply("10.0.0.2:8080", record("10.6.6.6:80", kNow, kNow), kNow).ok());
  EXPECT_TRUE(table.instances(kNow).empty());
  EXPECT_EQ(table.owner_of("orders", 0, kNow), "");
}

TEST(InstanceTableTest, AHugeAssignedAtDoesNotTakeOwnership) {
  InstanceTable table("10.0.0.1:8080", limits());
  ASSERT_TRUE(table.apply("10.0.0.2:8080", record("10.0.0.2:8080", kNow - 1000, kNow), kNow).ok());
  const int64_t huge = std::numeric_limits<int64_t>::max();
  EXPECT_FALSE(table.apply("10.0.0.3:8080", record("10.0.0.3:8080", huge, kNow), kNow).ok());
  EXPECT_FALSE(table.apply("10.0.0.3:8080", record("10.0.0.3:8080", huge, huge), kNow).ok());
  EXPECT_FALSE(table.apply("10.0.0.3:8080", record("10.0.0.3:8080", kNow + 3'600'000, kNow + 3'600'000), kNow).ok());
  EXPECT_FALSE(table.apply("10.0.0.3:8080", record("10.0.0.3:8080", -5, kNow), kNow).ok());
  EXPECT_EQ(table.owner_of("orders", 0, kNow), "10.0.0.2:8080");
  // Within the skew bound a clock slightly ahead is believed.
  EXPECT_TRUE(table.apply("10.0.0.4:8080", record("10.0.0.4:8080", kNow + 5000, kNow + 5000), kNow).ok());
  EXPECT_EQ(table.owner_of("orders", 0, kNow), "10.0.0.4:8080");
}

TEST(InstanceTableTest, AnInstanceThatStopsHeartbeatingStopsOwningAfterTheTtl) {
  InstanceTable table("10.0.0.1:8080", limits());
  ASSERT_TRUE(table.apply("10.0.0.2:8080", record("10.0.0.2:8080", kNow + 20'000, kNow + 20'000), kNow).ok());
  EXPECT_EQ(table.owner_of("orders", 0, kNow + 1000), "10.0.0.2:8080");
  // 45 s of TTL after its last heartbeat (20 s ahead of us), it is gone, whatever its assigned_at.
  EXPECT_EQ(table.owner_of("orders", 0, kNow + 66'000), "");
  EXPECT_TRUE(table.instances(kNow + 66'000).empty());
}

TEST(InstanceTableTest, OwnRecordsReadBackAreIgnoredAndTombstonesRemove) {
  InstanceTable table("10.0.0.1:8080", limits());
  EXPECT_TRUE(table.apply("10.0.0.1:8080", record("10.0.0.1:8080", kNow, kNow), kNow).ok());
  EXPECT_TRUE(table.instances(kNow).empty());
  ASSERT_TRUE(table.apply("10.0.0.2:8080", record("10.0.0.2:8080", kNow, kNow), kNow).ok());
  ASSERT_TRUE(table.apply("10.0.0.2:8080", std::nullopt, kNow).ok());
  EXPECT_TRUE(table.instances(kNow).empty());
}

TEST(InstanceTableTest, ServerAddressSyntax) {
  EXPECT_TRUE(is_valid_server_address("127.0.0.1:8080"));
  EXPECT_TRUE(is_valid_server_address("[fe80::1]:1"));
  EXPECT_TRUE(is_valid_server_address("orders-app-0.orders:65535"));
  EXPECT_FALSE(is_valid_server_address("127.0.0.1"));
  EXPECT_FALSE(is_valid_server_address("127.0.0.1:65536"));
  EXPECT_FALSE(is_valid_server_address("-bad.host:80"));
  EXPECT_FALSE(is_valid_server_address(std::string(300, 'a') + ":80"));
  EXPECT_FALSE(is_valid_server_address(std::string("a\0b:80", 6)));
}

}  // namespace
}  // namespace kstreams::runtime
