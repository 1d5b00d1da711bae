// Every path of the order saga through the TopologyTestDriver, which runs the same task code as
// the Kafka runtime: happy path, out of stock with compensation, invalid, duplicate, malformed,
// a multi-line order where one line fails, two orders racing for the last units, notification
// retries and dead letters, and the analytics windows.
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "kstreams/kstreams.h"
#include "kstreams/runtime/http.h"
#include "topology/ecommerce_topology.h"

namespace ecommerce {
namespace {

using kstreams::TopologyTestDriver;
using nlohmann::json;
namespace http = kstreams::runtime::http;

// A webhook for the tests: answers `status` to every POST and counts them.
class TestWebhook {
 public:
  explicit TestWebhook(int status) : status_(status) {
    EXPECT_TRUE(server_
                    .handle("POST", "/notifications",
                            [this](const http::HttpRequest& r) {
                              std::lock_guard lock(mu_);
                              const std::string key =
                                  r.headers.count("Idempotency-Key") ? r.headers.at("Idempotency-Key") : "";
                              keys_.push_back(key);
                              for (const auto& [name, value] : r.headers) header_names_.insert(name);
                              http::HttpResponse resp;
                              auto it = status_by_key_.find(key);
                              resp.status = it != status_by_key_.end() ? it->second : status_.load();
                              resp.body = "{}";
                              return resp;
                            })
                    .ok());
    EXPECT_TRUE(server_.start().ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/notifications"; }
  void set_status(int s) { status_ = s; }
  // Answers `status` to the calls with this Idempotency-Key, whatever set_status says.
  void set_status_for(const std::string& key, int status) {
    std::lock_guard lock(mu_);
    status_by_key_[key] = status;
  }
  std::vector<std::string> keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }
  size_t calls_for(const std::string& key) {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count(keys_.begin(), keys_.end(), key));
  }
  bool saw_header(const std::string& name) {
    std::lock_guard lock(mu_);
    return header_names_.count(name) > 0;
  }

 private:
  std::atomic<int> status_;
  http::HttpServer server_;
  std::mutex mu_;
  std::vector<std::string> keys_;
  std::map<std::string, int> status_by_key_;
  std::set<std::string, http::CaseInsensitiveLess> header_names_;  // every header name received
};

class SagaTest : public ::testing::Test {
 protected:
  void SetUp() override { start(200); }

  void start(int webhook_status, int64_t grace_ms = kDefaultAnalyticsGraceMs, int32_t failure_threshold = 100,
             int64_t open_ms = 5000, int32_t max_attempts = 3, int64_t backoff_ms = 10) {
    driver_.reset();
    wall_ms_ = 1'000'000;
    webhook_ = std::make_unique<TestWebhook>(webhook_status);
    TopologyOptions options;
    options.application_id = "ecommerce";
    options.grace_ms = grace_ms;
    options.notifier.backoff_ms = backoff_ms;
    options.notifier.max_attempts = max_attempts;
    WebhookDispatcher::Options d;
    d.webhook_url = webhook_->url();
    d.workers = 2;
    d.failure_threshold = failure_threshold;  // high by default: the breaker has its own tests
    d.open_ms = open_ms;
    options.dispatcher = std::make_shared<WebhookDispatcher>(d);
    dispatcher_ = options.dispatcher;
    topology_ = std::make_unique<kstreams::Topology>(build_topology(options));
    driver_ = std::make_unique<TopologyTestDriver>(
        *topology_,
        std::map<std::string, std::string>{{"application.id", "ecommerce"},
                                           {"errors.deadletterqueue.topic.name", kDeadLettersTopic}},
        1'000'000);
  }

  void restock(const std::string& id, const std::string& sku, int64_t qty) {
    driver_->pipe_raw(kRestocksTopic, sku, json{{"restock_id", id}, {"sku", sku}, {"qty", qty}}.dump(), 1000);
  }
  void order(const std::string& id, const std::vector<OrderItem>& items, int64_t created_at = 60'000) {
    Order o{id, "c-1", created_at, items};
    driver_->pipe_raw(kOrdersTopic, id, json(o).dump(), created_at);
  }
  std::vector<json> values(const std::string& topic) {
    std::vector<json> out;
    for (const auto& r : driver_->read_raw(topic)) out.push_back(json::parse(*r.value));
    return out;
  }
  std::vector<std::string> statuses(const std::string& order_id) {
    std::vector<std::string> out;
    for (const auto& v : values(kOrderStatusTopic)) {
      if (v["order_id"] == order_id)
        out.push_back(v["status"].get<std::string>() +
                      (v["reason"].is_null() ? "" : "/" + v["reason"].get<std::string>()));
    }
    return out;
  }
  std::vector<std::string> ledger(const std::string& sku) {
    std::vector<std::string> out;
    for (const auto& v : values(kReservationsTopic)) {
      if (v["sku"] == sku)
        out.push_back(v["type"].get<std::string>() + ":" + std::to_string(v["qty"].get<int64_t>()) + "->" +
                      std::to_string(v["available_after"].get<int64_t>()));
    }
    return out;
  }
  // Lets the notifier's punctuator dispatch and collect outcomes until `n` receipts/dead letters exist.
  void settle_notifications(size_t n) {
    for (int i = 0; i < 400; ++i) {
      if (driver_->read_raw(kNotificationsTopic).size() + driver_->read_raw(kNotificationsDlqTopic).size() >= n) return;
      driver_->advance_wall_clock_time(std::chrono::milliseconds(50));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Advances the wall clock in `step`s (letting the webhook answer in between) until `n` receipts
  // and dead letters exist or `limit` has passed; returns the wall-clock time it took.
  std::chrono::milliseconds advance_until_settled(size_t n, std::chrono::milliseconds limit,
                                                  std::chrono::milliseconds step = std::chrono::milliseconds(50),
                                                  std::chrono::milliseconds real_pause = std::chrono::milliseconds(3)) {
    std::chrono::milliseconds elapsed{0};
    while (elapsed < limit) {
      if (driver_->read_raw(kNotificationsTopic).size() + driver_->read_raw(kNotificationsDlqTopic).size() >= n) break;
      tick(step);
      elapsed += step;
      std::this_thread::sleep_for(real_pause);
    }
    return elapsed;
  }
  size_t receipts() { return driver_->read_raw(kNotificationsTopic).size(); }
  void tick(std::chrono::milliseconds d) {
    driver_->advance_wall_clock_time(d);
    wall_ms_ += d.count();
  }
  int64_t wall_ms_ = 1'000'000;  // the driver's wall clock, as far as tick() moved it

  std::unique_ptr<TestWebhook> webhook_;
  std::shared_ptr<WebhookDispatcher> dispatcher_;
  std::unique_ptr<kstreams::Topology> topology_;
  std::unique_ptr<TopologyTestDriver> driver_;
};

TEST_F(SagaTest, HappyPathConfirmsReservesStockAndDeliversOneNotification) {
  restock("r-1", "sku-1", 10);
  order("o-1", {{"sku-1", 2, 1299}});
  EXPECT_EQ(statuses("o-1"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
  EXPECT_EQ(ledger("sku-1"), (std::vector<std::string>{"RESTOCKED:10->10", "RESERVED:2->8"}));
  const auto stock = driver_->get<std::string, StockLevel>(kStockStore, "sku-1");
  ASSERT_TRUE(stock.has_value());
  EXPECT_EQ(stock->available, 8);
  EXPECT_EQ(stock->reserved, 2);
  const auto stored = driver_->get<std::string, OrderStatus>(kOrdersStore, "o-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, OrderState::kConfirmed);
  EXPECT_EQ(stored->total_cents, 2598);

  settle_notifications(1);
  const auto receipts = values(kNotificationsTopic);
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_EQ(receipts[0]["notification_id"], "o-1:CONFIRMED");
  EXPECT_EQ(receipts[0]["event"], "ORDER_CONFIRMED");
  EXPECT_EQ(receipts[0]["status"], "DELIVERED");
  EXPECT_EQ(receipts[0]["attempts"], 1);
  EXPECT_EQ(webhook_->keys(), (std::vector<std::string>{"o-1:CONFIRMED"}));  // Idempotency-Key
  EXPECT_TRUE(driver_->read_raw(kNotificationsDlqTopic).empty());
}

TEST_F(SagaTest, OutOfStockLineCancelsTheOrderAndReleasesTheReservedLines) {
  restock("r-a", "sku-a", 5);
  restock("r-c", "sku-c", 5);
  // Three lines: a and c can be reserved, b was never restocked (zero stock).
  order("o-2", {{"sku-a", 2, 100}, {"sku-b", 1, 100}, {"sku-c", 3, 100}});
  EXPECT_EQ(statuses("o-2"), (std::vector<std::string>{"PENDING", "CANCELLED/OUT_OF_STOCK"}));
  EXPECT_EQ(ledger("sku-a"), (std::vector<std::string>{"RESTOCKED:5->5", "RESERVED:2->3", "RELEASED:2->5"}));
  EXPECT_EQ(ledger("sku-b"), (std::vector<std::string>{"REJECTED:1->0"}));
  EXPECT_EQ(ledger("sku-c"), (std::vector<std::string>{"RESTOCKED:5->5", "RESERVED:3->2", "RELEASED:3->5"}));
  const auto stock_a = driver_->get<std::string, StockLevel>(kStockStore, "sku-a");
  EXPECT_EQ(stock_a->reserved, 0);
  const auto saga = driver_->get<std::string, SagaState>(kSagasStore, "o-2");
  EXPECT_FALSE(saga.has_value());  // saga finished
}

TEST_F(SagaTest, InvalidOrderIsCancelledWithoutPendingOrReservation) {
  restock("r-1", "sku-1", 10);
  order("o-3", {{"sku-1", 0, 100}});  // qty <= 0
  EXPECT_EQ(statuses("o-3"), (std::vector<std::string>{"CANCELLED/INVALID"}));
  EXPECT_EQ(ledger("sku-1"), (std::vector<std::string>{"RESTOCKED:10->10"}));
  settle_notifications(1);
  EXPECT_EQ(values(kNotificationsTopic).at(0)["notification_id"], "o-3:CANCELLED");
}

TEST_F(SagaTest, ResubmittedOrderProducesNothingNew) {
  restock("r-1", "sku-1", 10);
  order("o-4", {{"sku-1", 1, 100}});
  order("o-4", {{"sku-1", 5, 100}});  // same order_id again (even with other content)
  EXPECT_EQ(statuses("o-4"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
  EXPECT_EQ(ledger("sku-1"), (std::vector<std::string>{"RESTOCKED:10->10", "RESERVED:1->9"}));
}

TEST_F(SagaTest, RepeatedRestockIdIsIgnored) {
  restock("r-1", "sku-1", 10);
  restock("r-1", "sku-1", 10);
  EXPECT_EQ(ledger("sku-1"), (std::vector<std::string>{"RESTOCKED:10->10"}));
}

TEST_F(SagaTest, MalformedRecordsGoToDeadLettersWithTheirHeadersAndNothingElse) {
  driver_->pipe_raw(kOrdersTopic, "k-1", std::string("{not json"), 1000);
  driver_->pipe_raw(kOrdersTopic, "k-2", std::string("[1,2]"), 1000);
  driver_->pipe_raw(kOrdersTopic, "k-3", std::string(R"({"customer_id":"c"})"), 1000);
  driver_->pipe_raw(kRestocksTopic, "sku-1", std::string(R"({"restock_id":"r","sku":"sku-1","qty":-4})"), 1000);
  const auto dead = driver_->read_raw(kDeadLettersTopic);
  ASSERT_EQ(dead.size(), 4u);
  EXPECT_EQ(*dead[0].key, "k-1");
  EXPECT_EQ(*dead[0].value, "{not json");  // the original bytes, unchanged
  EXPECT_EQ(*dead[0].headers.last("dlq.error"), kDlqMalformedJson);
  EXPECT_EQ(*dead[1].headers.last("dlq.error"), kDlqNotAnObject);
  EXPECT_EQ(*dead[2].headers.last("dlq.error"), kDlqMissingOrderId);
  EXPECT_EQ(*dead[3].headers.last("dlq.error"), kDlqInvalidRestock);
  for (const auto& d : dead) {
    EXPECT_TRUE(d.headers.last("dlq.message").has_value());
    EXPECT_TRUE(d.headers.last("dlq.source.topic").has_value());
    EXPECT_TRUE(d.headers.last("dlq.source.partition").has_value());
    EXPECT_TRUE(d.headers.last("dlq.source.offset").has_value());
  }
  EXPECT_EQ(*dead[3].headers.last("dlq.source.topic"), kRestocksTopic);
  EXPECT_TRUE(driver_->read_raw(kOrderStatusTopic).empty());
  EXPECT_TRUE(driver_->read_raw(kReservationsTopic).empty());
}

// The internal topics carry the binary encoding of saga_records.h. A record that does not decode
// (e.g. the JSON an earlier build wrote, when an upgrade skipped the reset) is dead-lettered with
// its bytes, never misread.
TEST_F(SagaTest, UndecodableInternalRecordsAreDeadLetteredNotMisread) {
  const std::string old_result = R"({"order_id":"o-1","line":0,"sku":"sku-1","qty":1,"reserved":true})";
  const std::string old_command = R"({"type":"RESERVE","order_id":"o-1","sku":"sku-1","qty":1,"line":0})";
  driver_->pipe_raw(reservation_results_topic("ecommerce"), "o-1", old_result, 1000);
  driver_->pipe_raw(stock_commands_topic("ecommerce"), "sku-1", old_command, 1000);
  const auto dead = driver_->read_raw(kDeadLettersTopic);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(*dead[0].value, old_result);
  EXPECT_EQ(*dead[0].headers.last("dlq.error"), "BAD_LINE_RESULT");
  EXPECT_EQ(*dead[1].value, old_command);
  EXPECT_EQ(*dead[1].headers.last("dlq.error"), "BAD_STOCK_COMMAND");
  EXPECT_TRUE(driver_->read_raw(kOrderStatusTopic).empty());
  EXPECT_TRUE(driver_->read_raw(kReservationsTopic).empty());
  EXPECT_EQ(driver_->read_raw(reservation_results_topic("ecommerce")).size(), 1u)
      << "only the record piped in: the bad command produced no line result";
}

TEST_F(SagaTest, TwoOrdersRacingForTheLastUnitsNeverOversell) {
  restock("r-1", "sku-1", 3);
  order("o-5", {{"sku-1", 2, 100}});
  order("o-6", {{"sku-1", 2, 100}});
  EXPECT_EQ(statuses("o-5"), (std::vector<std::string>{"PENDING", "CONFIRMED"}));
  EXPECT_EQ(statuses("o-6"), (std::vector<std::string>{"PENDING", "CANCELLED/OUT_OF_STOCK"}));
  EXPECT_EQ(ledger("sku-1"), (std::vector<std::string>{"RESTOCKED:3->3", "RESERVED:2->1", "REJECTED:2->1"}));
}

TEST_F(SagaTest, FailingWebhookIsRetriedWithBackoffThenDeadLetteredExactlyOnce) {
  start(503);
  restock("r-1", "sku-1", 10);
  order("o-7", {{"sku-1", 1, 100}});
  settle_notifications(1);
  EXPECT_TRUE(driver_->read_raw(kNotificationsTopic).empty());
  const auto dlq = values(kNotificationsDlqTopic);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["notification_id"], "o-7:CONFIRMED");
  EXPECT_EQ(dlq[0]["attempts"], 3);
  EXPECT_EQ(dlq[0]["last_error"], "HTTP 503");
  EXPECT_EQ(webhook_->keys().size(), 3u);  // three attempts, same Idempotency-Key
  const auto pending = driver_->get<std::string, OutboxEntry>(kOutboxStore, "o-7:CONFIRMED");
  EXPECT_FALSE(pending.has_value());
}

TEST_F(SagaTest, WebhookThatRecoversDeliversWithTheAttemptCount) {
  start(503);
  restock("r-1", "sku-1", 10);
  order("o-8", {{"sku-1", 1, 100}});
  for (int i = 0; i < 100 && webhook_->keys().empty(); ++i) {
    driver_->advance_wall_clock_time(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  webhook_->set_status(200);
  settle_notifications(1);
  const auto receipts = values(kNotificationsTopic);
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_GE(receipts[0]["attempts"].get<int>(), 2);
  EXPECT_TRUE(driver_->read_raw(kNotificationsDlqTopic).empty());
}

TEST_F(SagaTest, OpenCircuitSkipsCallsWithoutCountingThemAsAttempts) {
  start(503, kDefaultAnalyticsGraceMs, /*failure_threshold=*/2, /*open_ms=*/60'000);
  restock("r-1", "sku-1", 10);
  order("o-12", {{"sku-1", 1, 100}});
  order("o-13", {{"sku-1", 1, 100}});
  order("o-14", {{"sku-1", 1, 100}});
  // Two failures trip the breaker; then, for the open period, nothing is called.
  for (int i = 0; i < 100 && webhook_->keys().size() < 2; ++i) {
    driver_->advance_wall_clock_time(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Calls already in flight when it tripped still complete (all three were due at once).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  driver_->advance_wall_clock_time(std::chrono::milliseconds(5));
  const size_t calls_when_open = webhook_->keys().size();
  EXPECT_LE(calls_when_open, 3u);
  for (int i = 0; i < 40; ++i) {
    driver_->advance_wall_clock_time(std::chrono::milliseconds(100));  // 4 s of the 60 s open period
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(webhook_->keys().size(), calls_when_open);
  EXPECT_TRUE(driver_->read_raw(kNotificationsDlqTopic).empty());  // skipped calls are not attempts
  // The endpoint recovers; after the open period a probe succeeds and everything is delivered.
  webhook_->set_status(200);
  driver_->advance_wall_clock_time(std::chrono::milliseconds(60'000));
  settle_notifications(3);
  EXPECT_EQ(values(kNotificationsTopic).size(), 3u);
  EXPECT_TRUE(driver_->read_raw(kNotificationsDlqTopic).empty());
}

// A 4xx other than 408/429 is the request's fault: one call, then straight to notifications-dlq,
// and it does not count toward the breaker (threshold 2 here: were it counted, the breaker would
// stay closed only by luck and every retry would count again).
TEST_F(SagaTest, RejectedNotificationIsDeadLetteredAtOnceAndOthersFlow) {
  start(200, kDefaultAnalyticsGraceMs, /*failure_threshold=*/2, /*open_ms=*/60'000);
  webhook_->set_status_for("o-bad:CONFIRMED", 400);
  restock("r-1", "sku-1", 100);
  order("o-bad", {{"sku-1", 1, 100}});
  for (int i = 1; i <= 5; ++i) order("o-" + std::to_string(i), {{"sku-1", 1, 100}});
  const auto took = advance_until_settled(6, std::chrono::milliseconds(120'000));
  EXPECT_LE(took, std::chrono::milliseconds(2'000));
  EXPECT_EQ(receipts(), 5u);
  const auto dlq = values(kNotificationsDlqTopic);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["notification_id"], "o-bad:CONFIRMED");
  EXPECT_EQ(dlq[0]["attempts"], 1);
  EXPECT_EQ(dlq[0]["last_error"], "HTTP 400");
  EXPECT_EQ(webhook_->calls_for("o-bad:CONFIRMED"), 1u);
  EXPECT_EQ(dispatcher_->breaker().state(wall_ms_), CircuitBreaker::State::kClosed);
  EXPECT_EQ(dispatcher_->breaker().consecutive_failures(), 0);
}

// One key the webhook always fails with 503 (a breaker failure) opens the breaker (threshold 1).
// The probe after the open period is the oldest notification that has not failed yet, not the
// retry of the one that keeps failing: the deliverable ones flow after one open period, and the
// bad one ends in the dead-letter topic once, after its attempts.
TEST_F(SagaTest, OneNotificationThatKeepsFailingDoesNotHoldBackTheOthers) {
  start(200, kDefaultAnalyticsGraceMs, /*failure_threshold=*/1, /*open_ms=*/5'000, /*max_attempts=*/3,
        /*backoff_ms=*/0);
  webhook_->set_status_for("o-bad:CONFIRMED", 503);
  restock("r-1", "sku-1", 100);
  order("o-bad", {{"sku-1", 1, 100}});
  for (int i = 0; i < 100 && webhook_->calls_for("o-bad:CONFIRMED") == 0; ++i) {
    tick(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(webhook_->calls_for("o-bad:CONFIRMED"), 1u);
  // The failure is collected: the retry is scheduled and the breaker is open.
  auto bad_attempts = [this] {
    const auto entry = driver_->get<std::string, OutboxEntry>(kOutboxStore, std::string("o-bad:CONFIRMED"));
    return entry ? entry->attempts : -1;
  };
  for (int i = 0; i < 200 && bad_attempts() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    tick(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(bad_attempts(), 1);
  EXPECT_EQ(dispatcher_->breaker().state(wall_ms_), CircuitBreaker::State::kOpen);
  tick(std::chrono::milliseconds(100));  // the bad one's retry is due before the new ones exist
  for (int i = 1; i <= 5; ++i) order("o-" + std::to_string(i), {{"sku-1", 1, 100}});
  // Deliverable within one open period (5 s) and a little: not after the bad one's next failure
  // re-opened the breaker (another 5 s: 10 s when the probe was the bad one's retry). 10 ms of real
  // time per 50 ms step leaves the webhook time to answer on a loaded machine.
  const auto took = advance_until_settled(5, std::chrono::milliseconds(60'000), std::chrono::milliseconds(50),
                                          std::chrono::milliseconds(10));
  EXPECT_LE(took, std::chrono::milliseconds(8'000)) << "calls " << webhook_->keys().size();
  std::printf("deliverables settled after %ld ms of wall clock\n", static_cast<long>(took.count()));
  EXPECT_EQ(receipts(), 5u);
  EXPECT_TRUE(driver_->read_raw(kNotificationsDlqTopic).empty());
  advance_until_settled(6, std::chrono::milliseconds(120'000), std::chrono::milliseconds(100));
  const auto dlq = values(kNotificationsDlqTopic);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["notification_id"], "o-bad:CONFIRMED");
  EXPECT_EQ(dlq[0]["attempts"], 3);
  EXPECT_EQ(dlq[0]["last_error"], "HTTP 503");
  EXPECT_EQ(webhook_->calls_for("o-bad:CONFIRMED"), 3u);
  EXPECT_EQ(receipts(), 5u);
}

// Item 2 of issue 24: an order_id with CR/LF must not add header lines to the webhook request. The
// notification cannot be sent as a valid request: it is a dead letter saying why, never sent.
TEST_F(SagaTest, NotificationIdWithCrLfIsDeadLetteredNotInjectedIntoHeaders) {
  restock("r-1", "sku-1", 10);
  const std::string evil = "o-x\r\nX-Injected: yes";
  Order o{evil, "c-1", 60'000, {{"sku-1", 1, 100}}};
  driver_->pipe_raw(kOrdersTopic, evil, json(o).dump(), 60'000);
  order("o-ok", {{"sku-1", 1, 100}});
  settle_notifications(2);
  EXPECT_FALSE(webhook_->saw_header("X-Injected"));
  const auto dlq = values(kNotificationsDlqTopic);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["notification_id"], evil + ":CONFIRMED");
  EXPECT_EQ(dlq[0]["attempts"], 0);
  EXPECT_NE(dlq[0]["last_error"].get<std::string>().find("Idempotency-Key"), std::string::npos) << dlq[0]["last_error"];
  EXPECT_EQ(webhook_->keys(), (std::vector<std::string>{"o-ok:CONFIRMED"}));
  EXPECT_EQ(receipts(), 1u);
}

TEST_F(SagaTest, RevenueWindowIsEmittedOnceWhenStreamTimePassesEndPlusGrace) {
  start(200, /*grace_ms=*/10'000);
  restock("r-1", "sku-1", 100);
  order("o-9", {{"sku-1", 2, 500}}, 61'000);                // window [60000, 120000)
  order("o-10", {{"sku-1", 0, 500}}, 62'000);               // invalid: counted as cancelled
  EXPECT_TRUE(driver_->read_raw(kAnalyticsTopic).empty());  // nothing before the window closes
  order("o-11", {{"sku-1", 1, 500}}, 130'001);              // stream time > 120000 + 10000: the window closes
  std::vector<json> revenue;
  for (const auto& v : values(kAnalyticsTopic)) {
    if (v["type"] == kRevenueWindowType) revenue.push_back(v);
  }
  ASSERT_EQ(revenue.size(), 1u);
  EXPECT_EQ(revenue[0]["window_start"], 60'000);
  EXPECT_EQ(revenue[0]["window_end"], 120'000);
  EXPECT_EQ(revenue[0]["orders_confirmed"], 1);
  EXPECT_EQ(revenue[0]["orders_cancelled"], 1);
  EXPECT_EQ(revenue[0]["revenue_cents"], 1000);
}

}  // namespace
}  // namespace ecommerce
