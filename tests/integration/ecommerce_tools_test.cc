// The e-commerce tools against a real broker: the load generator's topics and records as they land
// in Kafka, and the verifier reading every topic with read_committed (reference outputs written in
// a committed transaction pass; an aborted transaction of corrupt outputs stays invisible).
#include <chrono>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "kstreams/common/partitioner.h"
#include "kstreams/runtime/clients.h"
#include "loadgen/load_plan.h"
#include "loadgen/load_runner.h"
#include "model.h"
#include "support/broker_env.h"
#include "verify/checker.h"
#include "verify/reference_topology.h"

namespace ecommerce {
namespace {

using namespace std::chrono_literals;
using kstreams::RawRecord;
using kstreams::runtime::ProducerClient;

constexpr int kPartitions = 3;

std::vector<RawRecord> read_topics(const std::string& prefix, const std::vector<std::string>& names) {
  std::vector<std::string> topics;
  for (const auto& n : names) topics.push_back(prefix + n);
  auto records = kstreams::runtime::read_all(kstreams::testing::client_props({{"isolation.level", "read_committed"}}),
                                             topics, 60s);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? std::move(*records) : std::vector<RawRecord>{};
}

void send_all(ProducerClient& producer, const std::vector<RawRecord>& records) {
  for (const auto& r : records) {
    absl::Status st;
    while ((st = producer.send(r)).code() == absl::StatusCode::kUnavailable) producer.poll(10ms);
    ASSERT_TRUE(st.ok()) << st;
  }
}

class EcommerceToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = kstreams::testing::unique_name("ecom") + "-";
    auto admin = kstreams::runtime::AdminClient::create(kstreams::testing::client_props());
    ASSERT_TRUE(admin.ok()) << admin.status();
    std::vector<std::string> warnings;
    ASSERT_TRUE(loadgen::ensure_topics(**admin, prefix_, kPartitions, &warnings).ok());
    EXPECT_TRUE(warnings.empty());

    loadgen::LoadOptions o;
    o.orders = 400;
    o.seed = 11;
    o.skus = 15;
    o.restock_qty = 1000;
    o.out_of_stock_share = 0.1;
    o.invalid_share = 0.05;
    o.duplicate_share = 0.05;
    o.malformed_share = 0.05;
    o.created_at_start = 1764288000000;
    o.time_step_ms = 1000;
    o.topic_prefix = prefix_;
    auto plan = loadgen::make_plan(o, 0);
    ASSERT_TRUE(plan.ok()) << plan.status();
    plan_ = std::move(*plan);

    auto producer = ProducerClient::create(loadgen::producer_properties(kstreams::testing::bootstrap()));
    ASSERT_TRUE(producer.ok()) << producer.status();
    loadgen::SendOptions send;
    send.rate = 0;
    send.on_progress = [this](const loadgen::SendProgress& p) { last_progress_ = p; };
    auto result = loadgen::send_plan(plan_, **producer, send);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->errors, 0) << result->first_error;
    ASSERT_EQ(result->acked, static_cast<int64_t>(plan_.orders.size() + plan_.restocks.size()));
  }

  std::string prefix_;
  loadgen::LoadPlan plan_;
  loadgen::SendProgress last_progress_;
};

TEST_F(EcommerceToolsTest, LoadGeneratorRecordsLandKeyedAndPartitionedAsTheContractSays) {
  EXPECT_TRUE(last_progress_.final);
  EXPECT_EQ(last_progress_.sent, last_progress_.total);
  for (const auto& [name, planned] :
       {std::pair{std::string(kOrdersTopic), &plan_.orders}, std::pair{std::string(kRestocksTopic), &plan_.restocks}}) {
    std::vector<RawRecord> got = read_topics(prefix_, {name});
    ASSERT_EQ(got.size(), planned->size()) << name;
    std::multiset<std::tuple<std::string, std::string, int64_t>> want;
    for (const auto& r : *planned) want.emplace(*r.key, *r.value, r.timestamp);
    std::map<int32_t, int64_t> last_offset;
    for (const auto& r : got) {
      ASSERT_TRUE(r.key.has_value());
      EXPECT_EQ(r.partition.value(), kstreams::partition_for_key(*r.key, kPartitions)) << *r.key;
      EXPECT_TRUE(r.headers.last(verify::kSentAtHeader).has_value());
      auto it = want.find({*r.key, r.value.value_or(""), r.timestamp});
      ASSERT_NE(it, want.end()) << name << " unexpected record " << *r.key;
      want.erase(it);
    }
    EXPECT_TRUE(want.empty());
  }
  // Every output topic exists (empty: no topology ran).
  for (const auto& name : output_topics()) EXPECT_TRUE(read_topics(prefix_, {name}).empty()) << name;
}

TEST_F(EcommerceToolsTest, VerifierReadsCommittedOutputsOnly) {
  // Inputs as Kafka placed them; the reference outputs for them, written in one committed transaction.
  verify::RecordSet inputs;
  inputs.add(read_topics(prefix_, input_topics()), prefix_);
  ASSERT_EQ(inputs.orders.size(), plan_.orders.size());
  verify::ReferenceOptions ref;
  ref.partitions = kPartitions;
  ref.topic_prefix = prefix_;
  ref.notification_fails = [](const std::string& id) { return id.find("5:") != std::string::npos; };
  verify::RecordSet outputs = verify::reference_outputs(inputs.orders, inputs.restocks, ref);

  auto producer = ProducerClient::create(kstreams::testing::client_props(
      {{"transactional.id", kstreams::testing::unique_name("ecom-txn")}, {"enable.idempotence", "true"}}));
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->init_transactions(30s).ok());
  ASSERT_TRUE((*producer)->begin_transaction().ok());
  for (auto* topic : {&outputs.order_status, &outputs.reservations, &outputs.notifications, &outputs.notifications_dlq,
                      &outputs.analytics, &outputs.dead_letters}) {
    send_all(**producer, *topic);
  }
  ASSERT_TRUE((*producer)->commit_transaction(30s).ok());
  // A second, aborted transaction repeats every terminal status: read_committed never sees it.
  ASSERT_TRUE((*producer)->begin_transaction().ok());
  send_all(**producer, outputs.order_status);
  ASSERT_TRUE((*producer)->flush(30s).ok());
  ASSERT_TRUE((*producer)->abort_transaction(30s).ok());

  std::vector<std::string> all = input_topics();
  for (const auto& t : output_topics()) all.push_back(t);
  verify::RecordSet read;
  read.add(read_topics(prefix_, all), prefix_);
  EXPECT_EQ(read.order_status.size(), outputs.order_status.size());
  const verify::Report report = verify::check(read);
  EXPECT_TRUE(report.ok()) << report.to_text();
  EXPECT_EQ(report.stats.terminal_statuses, plan_.expected.terminal_statuses);
  EXPECT_EQ(report.stats.confirmed, plan_.expected.confirmed);
  EXPECT_EQ(report.stats.dead_letters_by_error, plan_.expected.dead_letters_by_error);
  EXPECT_GT(report.stats.latency_updated_at.count, 0);
  EXPECT_EQ(verify::count_terminal_statuses(read.order_status), plan_.expected.terminal_statuses);
}

}  // namespace
}  // namespace ecommerce
