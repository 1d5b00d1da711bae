// Hostile and careless inputs through the TopologyTestDriver (issue 24): a created_at near INT64_MAX
// (once an endless window loop), the same order under several keys, quantities whose product
// overflows int64, restocks that would overflow the stock, and restocks keyed by another sku. The
// driver processes synchronously, so an input that hangs the topology would hang the test: a
// watchdog ends the process with a message instead.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "kstreams/kstreams.h"
#include "topology/ecommerce_topology.h"

namespace ecommerce {
namespace {

using kstreams::TopologyTestDriver;
using nlohmann::json;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kNow = 1'000'000'000;  // the instance's (manual) wall clock

// Ends the process (test failure) if it is still armed after `timeout`: a hanging topology cannot
// be interrupted from inside, and a hung suite says nothing.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds timeout) {
    thread_ = std::thread(
        [this, timeout, name = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, timeout, [this] { return disarmed_; })) {
            std::fprintf(stderr, "FAILED: %s still running after %lld s: the topology hangs\n", name.c_str(),
                         static_cast<long long>(timeout.count()));
            std::_Exit(1);
          }
        });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      disarmed_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

class PoisonPillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TopologyOptions options;
    options.application_id = "ecommerce";
    options.grace_ms = 10'000;
    options.clock = &clock_;
    WebhookDispatcher::Options d;
    d.webhook_url = "http://127.0.0.1:9/notifications";  // never reached: the tests do not advance wall time
    d.workers = 1;
    options.dispatcher = std::make_shared<WebhookDispatcher>(d);
    topology_ = std::make_unique<kstreams::Topology>(build_topology(options));
    driver_ = std::make_unique<TopologyTestDriver>(
        *topology_,
        std::map<std::string, std::string>{{"application.id", "ecommerce"},
                                           {"errors.deadletterqueue.topic.name", kDeadLettersTopic}},
        kNow);
  }

  void restock(const std::string& key, const std::string& id, const std::string& sku, json qty) {
    driver_->pipe_raw(kRestocksTopic, key, json{{"restock_id", id}, {"sku", sku}, {"qty", qty}}.dump(), 1000);
  }
  void order(const std::string& key, const std::string& id, json created_at, json qty = 1, json price = 500,
             int64_t record_ts = 61'000) {
    const json value = {{"order_id", id},
                        {"customer_id", "c-1"},
                        {"created_at", created_at},
                        {"items", json::array({{{"sku", "sku-1"}, {"qty", qty}, {"unit_price_cents", price}}})}};
    driver_->pipe_raw(kOrdersTopic, key, value.dump(), record_ts);
  }
  std::vector<json> values(const std::string& topic) {
    std::vector<json> out;
    for (const auto& r : driver_->read_raw(topic)) out.push_back(json::parse(*r.value));
    return out;
  }
  std::vector<std::string> statuses(const std::string& order_id) {
    std::vector<std::string> out;
    for (const auto& v : values(kOrderStatusTopic)) {
      if (v["order_id"] == order_id) {
        out.push_back(v["status"].get<std::string>() +
                      (v["reason"].is_null() ? "" : "/" + v["reason"].get<std::string>()));
      }
    }
    return out;
  }
  std::vector<std::string> ledger() {
    std::vector<std::string> out;
    for (const auto& v : values(kReservationsTopic)) {
      out.push_back(v["type"].get<std::string>() + ":" + std::to_string(v["qty"].get<int64_t>()) + "->" +
                    std::to_string(v["available_after"].get<int64_t>()));
    }
    return out;
  }
  std::vector<std::string> dead_letter_classes() {
    std::vector<std::string> out;
    for (const auto& r : driver_->read_raw(kDeadLettersTopic)) out.emplace_back(*r.headers.last(kDlqErrorHeader));
    return out;
  }
  std::vector<json> revenue_windows() {
    std::vector<json> out;
    for (const auto& v : values(kAnalyticsTopic)) {
      if (v["type"] == kRevenueWindowType) out.push_back(v);
    }
    return out;
  }

  kstreams::ManualClock clock_{kNow};
  std::unique_ptr<kstreams::Topology> topology_;
  std::unique_ptr<TopologyTestDriver> driver_;
};

TEST_F(PoisonPillTest, CreatedAtNearInt64MaxIsCancelledInvalidAndTheNextOrderStillTerminates) {
  Watchdog watchdog(std::chrono::seconds(20));
  restock("sku-1", "r-1", "sku-1", 100);
  order("o-poison", "o-poison", kMax - 1000);  // within ~120 s of INT64_MAX: the window loop never ended
  order("o-next", "o-next", 61'000);
  EXPECT_EQ(statuses("o-poison"), (std::vector<std::string>{"CANCELLED/INVALID"}));
  EXPECT_EQ(statuses("o-next"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
  EXPECT_EQ(ledger(), (std::vector<std::string>{"RESTOCKED:100->100", "RESERVED:1->99"}));
  const auto poison = values(kOrderStatusTopic).at(0);
  EXPECT_EQ(poison["created_at"], kMax - 1000);  // reported as sent
  // The poison order advanced no stream time: o-next (61 s) was not late, and the minute window
  // [60 s, 120 s) closes only when a sane order passes 130 s. Only o-next is counted in it.
  EXPECT_TRUE(revenue_windows().empty());
  order("o-later", "o-later", 130'001);
  const auto windows = revenue_windows();
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0]["window_start"], 60'000);
  EXPECT_EQ(windows[0]["orders_confirmed"], 1);
  EXPECT_EQ(windows[0]["orders_cancelled"], 0) << "the poison order is in no analytics window";
  EXPECT_EQ(windows[0]["revenue_cents"], 500);
  EXPECT_EQ(driver_->metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 0);
}

TEST_F(PoisonPillTest, CreatedAtBeyondTheClockPlusADayOrNegativeIsInvalidAndUncounted) {
  Watchdog watchdog(std::chrono::seconds(20));
  restock("sku-1", "r-1", "sku-1", 100);
  const int64_t day = kMaxCreatedAtAheadMs;
  order("o-future", "o-future", kNow + day + 1);
  order("o-negative", "o-negative", -5);
  order("o-huge", "o-huge", json(uint64_t{18446744073709551615ULL}));
  order("o-edge", "o-edge", kNow + day, 1, 500, kNow + day);  // exactly at the bound: fine
  EXPECT_EQ(statuses("o-future"), (std::vector<std::string>{"CANCELLED/INVALID"}));
  EXPECT_EQ(statuses("o-negative"), (std::vector<std::string>{"CANCELLED/INVALID"}));
  EXPECT_EQ(statuses("o-huge"), (std::vector<std::string>{"CANCELLED/INVALID"}));
  EXPECT_EQ(statuses("o-edge"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
  // The clock moves on: the same created_at is fine a little later.
  clock_.advance(std::chrono::milliseconds(10));
  order("o-future-2", "o-future-2", kNow + day + 1, 1, 500, kNow + day + 1);
  EXPECT_EQ(statuses("o-future-2"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
}

TEST_F(PoisonPillTest, TheOrdersExtractorNeverUsesAnOutOfRangeTime) {
  kstreams::RawRecord r;
  r.timestamp = 5'000;
  auto with = [&r](const std::string& value) {
    r.value = value;
    return r;
  };
  EXPECT_EQ(order_event_time(with(R"({"created_at":7000})"), 3'000, kNow), 7'000);
  // Out of range: the partition time (stream time does not move), 0 before there is one.
  EXPECT_EQ(order_event_time(with(R"({"created_at":9223372036854775000})"), 3'000, kNow), 3'000);
  EXPECT_EQ(order_event_time(with(R"({"created_at":9223372036854775000})"), -1, kNow), 0);
  EXPECT_EQ(order_event_time(with(R"({"created_at":99999999999999999999999})"), 3'000, kNow), 3'000);
  EXPECT_EQ(order_event_time(with(R"({"created_at":-4})"), 3'000, kNow), 3'000);
  EXPECT_EQ(order_event_time(with(R"({"created_at": 1086400001})"), 3'000, kNow), 3'000);  // now + 24 h + 1
  // Missing or not a number: the record timestamp, when it is itself within range.
  EXPECT_EQ(order_event_time(with(R"({"order_id":"o"})"), 3'000, kNow), 5'000);
  EXPECT_EQ(order_event_time(with(R"({"created_at":"x"})"), 3'000, kNow), 5'000);
  EXPECT_EQ(order_event_time(with(R"({"created_at":1.5})"), 3'000, kNow), 5'000);
  r.timestamp = kMax;
  EXPECT_EQ(order_event_time(with(R"({"order_id":"o"})"), 3'000, kNow), 3'000);
  r.value.reset();
  EXPECT_EQ(order_event_time(r, -1, kNow), 0);
}

TEST_F(PoisonPillTest, TheSameOrderUnderThreeKeysIsProcessedOnceAndTheOthersAreKeyMismatches) {
  Watchdog watchdog(std::chrono::seconds(20));
  restock("sku-1", "r-1", "sku-1", 10);
  order("o-1", "o-1", 61'000, 2);
  order("k-2", "o-1", 61'000, 2);
  order("k-3", "o-1", 61'000, 2);
  EXPECT_EQ(statuses("o-1"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
  EXPECT_EQ(ledger(), (std::vector<std::string>{"RESTOCKED:10->10", "RESERVED:2->8"}));
  EXPECT_EQ(dead_letter_classes(), (std::vector<std::string>{kDlqKeyMismatch, kDlqKeyMismatch}));
  const auto dead = driver_->read_raw(kDeadLettersTopic);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(*dead[0].key, "k-2");  // the original key and bytes
  EXPECT_EQ(json::parse(*dead[0].value)["order_id"], "o-1");
  // A mismatched key first, the right one later: the right one is the order.
  order("k-9", "o-9", 61'000);
  order("o-9", "o-9", 61'000);
  EXPECT_EQ(statuses("o-9"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
}

TEST_F(PoisonPillTest, QuantitiesWhoseProductOverflowsAreInvalidNotWrapped) {
  restock("sku-1", "r-1", "sku-1", 1'000'000'000);
  order("o-big", "o-big", 61'000, json(int64_t{1} << 62), 4);  // once total_cents 0
  order("o-qty", "o-qty", 61'000, kMaxLineQty + 1, 1);
  order("o-price", "o-price", 61'000, 1, kMaxUnitPriceCents + 1);
  order("o-max", "o-max", 61'000, kMaxLineQty, kMaxUnitPriceCents);
  for (const char* id : {"o-big", "o-qty", "o-price"}) {
    EXPECT_EQ(statuses(id), (std::vector<std::string>{"CANCELLED/INVALID"})) << id;
  }
  EXPECT_EQ(statuses("o-max"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
  for (const auto& v : values(kOrderStatusTopic)) {
    const int64_t want = v["order_id"] == "o-max" ? kMaxLineQty * kMaxUnitPriceCents : 0;
    EXPECT_EQ(v["total_cents"], want) << v["order_id"];
  }
  EXPECT_EQ(ledger(), (std::vector<std::string>{"RESTOCKED:1000000000->1000000000", "RESERVED:1000000->999000000"}));
}

TEST_F(PoisonPillTest, RestocksBeyondTheBoundOrTheStockAreDeadLettersAndTheStockStaysRight) {
  restock("sku-1", "r-1", "sku-1", kMax);  // twice: once available_after -2
  restock("sku-1", "r-2", "sku-1", kMax);
  restock("sku-1", "r-3", "sku-1", kMaxRestockQty + 1);
  EXPECT_EQ(dead_letter_classes(),
            (std::vector<std::string>{kDlqInvalidRestock, kDlqInvalidRestock, kDlqInvalidRestock}));
  EXPECT_TRUE(ledger().empty());
  // A stock near int64 (restocks accumulate): the restock that would overflow it is a dead letter,
  // nothing of it is applied, and a later one that fits still is.
  driver_->put<std::string, StockLevel>(kStockStore, "sku-2", StockLevel{"sku-2", kMax - 100, 50});
  restock("sku-2", "r-4", "sku-2", 60);  // available + reserved + 60 > INT64_MAX
  restock("sku-2", "r-5", "sku-2", 50);  // available + reserved = INT64_MAX exactly: fits
  restock("sku-2", "r-4", "sku-2", 1);   // r-4 was not applied (its id is free), but the stock is full now
  const auto classes = dead_letter_classes();
  ASSERT_EQ(classes.size(), 5u);
  EXPECT_EQ(classes[3], kDlqStockOverflow);
  EXPECT_EQ(classes[4], kDlqStockOverflow);
  EXPECT_EQ(ledger(), (std::vector<std::string>{"RESTOCKED:50->" + std::to_string(kMax - 50)}));
  const auto stock = driver_->get<std::string, StockLevel>(kStockStore, "sku-2");
  ASSERT_TRUE(stock.has_value());
  EXPECT_EQ(stock->available, kMax - 50);
  EXPECT_EQ(stock->reserved, 50);
}

TEST_F(PoisonPillTest, ARestockKeyedByAnotherSkuIsAKeyMismatchDeadLetter) {
  restock("sku-2", "r-1", "sku-1", 10);
  restock("", "r-2", "sku-1", 10);
  EXPECT_EQ(dead_letter_classes(), (std::vector<std::string>{kDlqKeyMismatch, kDlqKeyMismatch}));
  EXPECT_TRUE(ledger().empty());
  EXPECT_FALSE((driver_->get<std::string, StockLevel>(kStockStore, "sku-1")).has_value());
  restock("sku-1", "r-1", "sku-1", 10);  // the same restock, keyed right: applied (its id was not taken)
  EXPECT_EQ(ledger(), (std::vector<std::string>{"RESTOCKED:10->10"}));
}

}  // namespace
}  // namespace ecommerce
