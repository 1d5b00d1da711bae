// Joins through the TopologyTestDriver.
#include <gtest/gtest.h>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using KV = std::pair<std::string, std::string>;

TEST(StreamTableJoinTest, InnerJoinEmitsOnlyWhenTheTableHasTheKeyAndTableUpdatesDoNotTrigger) {
  // Kafka Streams' KStream-KTable join: a stream record looks up the table's current value; an
  // update of the table alone never produces output.
  StreamsBuilder b;
  auto users = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  b.stream<std::string, std::string>("clicks")
      .join(users, [](const std::string& click, const std::string& user) { return user + "/" + click; })
      .to("out");
  TopologyTestDriver d(b.build());
  auto u = d.create_input_topic<std::string, std::string>("users");
  auto c = d.create_input_topic<std::string, std::string>("clicks");
  c.pipe_input("u1", "home", 1);  // no user yet: dropped
  u.pipe_input("u1", "alice", 2);
  c.pipe_input("u1", "cart", 3);
  u.pipe_input("u1", "alicia", 4);
  c.pipe_input("u1", "pay", 5);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_key_values()),
            (std::vector<KV>{{"u1", "alice/cart"}, {"u1", "alicia/pay"}}));
}

TEST(StreamTableJoinTest, LeftJoinPassesNulloptWhenTheTableHasNoValue) {
  StreamsBuilder b;
  auto users = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  b.stream<std::string, std::string>("clicks")
      .left_join(users, [](const std::string& click,
                           const std::optional<std::string>& user) { return user.value_or("anonymous") + "/" + click; })
      .to("out");
  TopologyTestDriver d(b.build());
  auto u = d.create_input_topic<std::string, std::string>("users");
  auto c = d.create_input_topic<std::string, std::string>("clicks");
  c.pipe_input("u1", "home", 1);
  u.pipe_input("u1", "alice", 2);
  c.pipe_input("u1", "cart", 3);
  u.pipe_tombstone("u1", 4);
  c.pipe_input("u1", "pay", 5);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()),
            (std::vector<std::string>{"anonymous/home", "alice/cart", "anonymous/pay"}));
}

TEST(StreamTableJoinTest, JoinAfterAKeyChangeRepartitionsTheStreamThroughTheJoinName) {
  StreamsBuilder b;
  auto users = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  b.stream<std::string, std::string>("orders")
      .select_key([](const std::string&, const std::string& v) { return v.substr(0, 2); })
      .join(
          users, [](const std::string& o, const std::string& u) { return u + ":" + o; }, Joined::as("order-user"))
      .to("out");
  TopologyTestDriver d(b.build(), {{"application.id", "shop"}});
  d.create_input_topic<std::string, std::string>("users").pipe_input("u1", "alice", 1);
  d.create_input_topic<std::string, std::string>("orders").pipe_input("o9", "u1-book", 2);
  EXPECT_EQ(d.read_raw("shop-order-user-repartition").size(), 1u);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()),
            (std::vector<std::string>{"alice:u1-book"}));
}

TEST(StreamTableJoinTest, JoiningAnUnmaterializedTableFailsTheBuild) {
  StreamsBuilder b;
  auto t = b.table<std::string, std::string>("t", Materialized::as("t-store")).map_values([](const std::string& v) {
    return v + "!";
  });
  b.stream<std::string, std::string>("s")
      .join(t, [](const std::string& a, const std::string& c) { return a + c; })
      .to("o");
  EXPECT_THROW(b.build(), TopologyException);
}

TEST(StreamTableJoinTest, CoPartitionGroupsNameBothInputs) {
  StreamsBuilder b;
  auto users = b.table<std::string, std::string>("users", Materialized::as("users-store"));
  b.stream<std::string, std::string>("clicks")
      .join(users, [](const std::string& c, const std::string& u) { return u + c; })
      .to("out");
  Topology t = b.build();
  ASSERT_EQ(t.copartition_groups().size(), 1u);
  EXPECT_EQ(t.copartition_groups()[0], (std::vector<TopicName>{{"clicks", false}, {"users", false}}));
  auto ok = t.resolve_partitions("app", {{"clicks", 4}, {"users", 4}});
  EXPECT_TRUE(ok.ok());
  auto bad = t.resolve_partitions("app", {{"clicks", 4}, {"users", 3}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(GlobalTableJoinTest, StreamLooksUpTheGlobalTableByASelectedKeyFromAnyPartition) {
  StreamsBuilder b;
  auto products = b.global_table<std::string, std::string>("products", Materialized::as("products-store"));
  b.stream<std::string, std::string>("orders")
      .join(
          products, [](const std::string&, const std::string& product_id) { return product_id; },
          [](const std::string& pid, const std::string& name) { return pid + "=" + name; })
      .to("out");
  b.stream<std::string, std::string>("orders2")
      .left_join(
          products, [](const std::string&, const std::string& product_id) { return product_id; },
          [](const std::string& pid, const std::optional<std::string>& name) { return pid + "=" + name.value_or("?"); })
      .to("out2");
  // The orders topic has 4 partitions, the products topic 3: a global table needs no co-partitioning.
  TopologyTestDriver d(b.build(), {{"topic.partitions.orders", "4"}, {"topic.partitions.products", "3"}});
  auto p = d.create_input_topic<std::string, std::string>("products");
  for (std::string id : {"p1", "p2", "p3", "p4"}) p.pipe_input(id, "name-" + id, 1);
  auto o = d.create_input_topic<std::string, std::string>("orders");
  o.pipe_input("o1", "p3", 2);
  o.pipe_input("o2", "p9", 3);
  o.pipe_input("o3", "p1", 4);
  auto out = d.create_output_topic<std::string, std::string>("out").read_values();
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<std::string>{"p1=name-p1", "p3=name-p3"}));
  d.create_input_topic<std::string, std::string>("orders2").pipe_input("o4", "p9", 5);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out2").read_values()),
            (std::vector<std::string>{"p9=?"}));
}

}  // namespace
}  // namespace kstreams
