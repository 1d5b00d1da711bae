// WebhookDispatcher outside a topology: outcomes and how each HTTP status class counts for the
// circuit breaker, the breaker's states and its probe choice, one breaker shared by every mailbox
// (task), header values it refuses to send, closed mailboxes. The saga tests drive it through the
// topology.
#include "topology/webhook_dispatcher.h"

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "kstreams/runtime/http.h"
#include "model.h"

namespace ecommerce {
namespace {

using namespace std::chrono_literals;
namespace http = kstreams::runtime::http;

std::vector<DeliveryOutcome> collect(WebhookDispatcher::Mailbox& mailbox, size_t n) {
  std::vector<DeliveryOutcome> out;
  for (int i = 0; i < 500 && out.size() < n; ++i) {
    for (auto& o : mailbox.take()) out.push_back(std::move(o));
    if (out.size() < n) std::this_thread::sleep_for(10ms);
  }
  return out;
}

TEST(WebhookDispatcherTest, HttpWebhookGetsEveryCallWithItsKeyAndStatusesBecomeOutcomes) {
  std::mutex mu;
  std::vector<std::string> keys;
  http::HttpServer server;
  ASSERT_TRUE(server
                  .handle("POST", "/n",
                          [&](const http::HttpRequest& r) {
                            std::lock_guard lock(mu);
                            keys.push_back(r.headers.at(kIdempotencyKeyHeader));
                            http::HttpResponse resp;
                            resp.status = r.body == "fail" ? 503 : 204;
                            return resp;
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  WebhookDispatcher dispatcher(
      WebhookDispatcher::Options{"http://127.0.0.1:" + std::to_string(server.port()) + "/n", 2, 2000ms});
  auto mailbox = dispatcher.open_mailbox();
  dispatcher.submit(mailbox, "o-1:CONFIRMED", "{}");
  dispatcher.submit(mailbox, "o-2:CANCELLED", "fail");
  auto outcomes = collect(*mailbox, 2);
  ASSERT_EQ(outcomes.size(), 2u);
  std::map<std::string, DeliveryOutcome> by_id;
  for (auto& o : outcomes) by_id[o.notification_id] = o;
  EXPECT_TRUE(by_id["o-1:CONFIRMED"].success());
  EXPECT_FALSE(by_id["o-2:CANCELLED"].success());
  EXPECT_EQ(by_id["o-2:CANCELLED"].error, "HTTP 503");
  std::lock_guard lock(mu);
  EXPECT_EQ(keys.size(), 2u);
}

// The outcome of one call to `url` (a failed outcome with an empty error when none came).
DeliveryOutcome one_outcome(const std::string& url) {
  WebhookDispatcher dispatcher(WebhookDispatcher::Options{url, 1, 500ms});
  auto mailbox = dispatcher.open_mailbox();
  dispatcher.submit(mailbox, "o-1:CONFIRMED", "{}");
  auto outcomes = collect(*mailbox, 1);
  EXPECT_EQ(outcomes.size(), 1u);
  return outcomes.empty() ? DeliveryOutcome{} : outcomes[0];
}

TEST(WebhookDispatcherTest, UnreachableHttpWebhookIsAFailedOutcomeThatCountsForTheBreaker) {
  const DeliveryOutcome outcome = one_outcome("http://127.0.0.1:1/n");
  EXPECT_FALSE(outcome.success());
  EXPECT_EQ(outcome.result, DeliveryResult::kRetriable);
  EXPECT_TRUE(outcome.breaker_failure);
  EXPECT_NE(outcome.error.find("127.0.0.1:1"), std::string::npos) << outcome.error;
}

TEST(WebhookDispatcherTest, HttpsWebhookGoesThroughTheSamePool) {
  // Nothing speaks TLS on port 1: the call ends as a failed outcome with a reason, never silently.
  const DeliveryOutcome outcome = one_outcome("https://127.0.0.1:1/n");
  EXPECT_FALSE(outcome.success());
  EXPECT_TRUE(outcome.breaker_failure);
  EXPECT_FALSE(outcome.error.empty());
}

TEST(WebhookDispatcherTest, StatusClassesCountForTheBreakerOnlyWhenTheEndpointFailed) {
  for (int s : {200, 201, 204, 299}) {
    const DeliveryOutcome o = classify_http_status(s);
    EXPECT_EQ(o.result, DeliveryResult::kDelivered) << s;
    EXPECT_FALSE(o.breaker_failure) << s;
  }
  for (int s : {408, 429, 500, 502, 503, 504, 599}) {
    const DeliveryOutcome o = classify_http_status(s);
    EXPECT_EQ(o.result, DeliveryResult::kRetriable) << s;
    EXPECT_TRUE(o.breaker_failure) << s;
    EXPECT_EQ(o.error, "HTTP " + std::to_string(s));
  }
  for (int s : {400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 451, 499}) {
    const DeliveryOutcome o = classify_http_status(s);
    EXPECT_EQ(o.result, DeliveryResult::kPermanent) << s;
    EXPECT_FALSE(o.breaker_failure) << s;
  }
  for (int s : {301, 302, 304}) {  // redirects are not followed: retried, but the endpoint answered
    const DeliveryOutcome o = classify_http_status(s);
    EXPECT_EQ(o.result, DeliveryResult::kRetriable) << s;
    EXPECT_FALSE(o.breaker_failure) << s;
  }
}

DeliveryOutcome endpoint_failure() {
  DeliveryOutcome o;
  o.breaker_failure = true;
  return o;
}
DeliveryOutcome delivered() { return classify_http_status(200); }

TEST(CircuitBreakerTest, OpensAfterConsecutiveEndpointFailuresOnlyAndSkipsCallsWhileOpen) {
  CircuitBreaker b(/*failure_threshold=*/3, /*open_ms=*/1000);
  ASSERT_EQ(b.admit(0, true), CircuitBreaker::Admission::kAdmitted);
  b.record(endpoint_failure(), false);
  b.record(endpoint_failure(), false);
  b.record(classify_http_status(400), false);  // the request's fault: neither counts nor resets
  b.record(classify_http_status(302), false);
  EXPECT_EQ(b.consecutive_failures(), 2);
  EXPECT_EQ(b.state(0), CircuitBreaker::State::kClosed);
  b.record(delivered(), false);
  EXPECT_EQ(b.consecutive_failures(), 0);
  for (int i = 0; i < 3; ++i) b.record(endpoint_failure(), false);
  EXPECT_EQ(b.state(10), CircuitBreaker::State::kOpen);
  EXPECT_EQ(b.times_opened(), 1);
  EXPECT_EQ(b.admit(999, true), CircuitBreaker::Admission::kRefused);
  EXPECT_EQ(b.admit(999, false), CircuitBreaker::Admission::kRefused);
  EXPECT_EQ(b.state(1000), CircuitBreaker::State::kHalfOpen);
}

TEST(CircuitBreakerTest, HalfOpenSendsOneProbeAtATimeAndItsResultDecides) {
  CircuitBreaker b(1, 1000);
  ASSERT_EQ(b.admit(0, true), CircuitBreaker::Admission::kAdmitted);
  b.record(endpoint_failure(), false);  // open until 1000
  ASSERT_EQ(b.admit(1000, true), CircuitBreaker::Admission::kProbe);
  EXPECT_EQ(b.admit(1001, true), CircuitBreaker::Admission::kRefused);  // one probe at a time
  b.record(endpoint_failure(), true);                                   // the probe failed: open again
  EXPECT_EQ(b.state(1500), CircuitBreaker::State::kOpen);
  EXPECT_EQ(b.admit(2001, true), CircuitBreaker::Admission::kProbe);
  b.record(classify_http_status(404), true);  // no verdict: the slot is free for the next probe
  EXPECT_EQ(b.state(2002), CircuitBreaker::State::kHalfOpen);
  EXPECT_EQ(b.admit(2002, true), CircuitBreaker::Admission::kProbe);
  b.record(delivered(), true);
  EXPECT_EQ(b.state(2003), CircuitBreaker::State::kClosed);
  EXPECT_EQ(b.admit(2003, false), CircuitBreaker::Admission::kAdmitted);
}

TEST(CircuitBreakerTest, TheProbeIsANotificationThatHasNotFailedWhenOneIsWaiting) {
  CircuitBreaker b(1, 1000);
  ASSERT_EQ(b.admit(0, true), CircuitBreaker::Admission::kAdmitted);
  b.record(endpoint_failure(), false);
  EXPECT_EQ(b.admit(500, true), CircuitBreaker::Admission::kRefused);  // a fresh one waits while open
  // Half-open: a retry may not take the probe while fresh ones are waiting ...
  EXPECT_EQ(b.admit(1000, false), CircuitBreaker::Admission::kRefused);
  EXPECT_EQ(b.admit(1000, true), CircuitBreaker::Admission::kProbe);
  b.record(endpoint_failure(), true);  // open until 2000
  // ... but when no fresh one asked for kFreshDemandWindowMs, a retry probes (or nothing would).
  EXPECT_EQ(b.admit(2000 + CircuitBreaker::kFreshDemandWindowMs, false), CircuitBreaker::Admission::kProbe);
}

// One breaker for the endpoint, whichever task (mailbox) made the calls: failures of two tasks add
// up, and once it is open neither task's call goes out.
TEST(WebhookDispatcherTest, OneBreakerForEveryMailboxOfTheInstance) {
  std::atomic<int> calls{0};
  http::HttpServer server;
  ASSERT_TRUE(server
                  .handle("POST", "/n",
                          [&](const http::HttpRequest&) {
                            ++calls;
                            http::HttpResponse resp;
                            resp.status = 503;
                            return resp;
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  WebhookDispatcher::Options options{"http://127.0.0.1:" + std::to_string(server.port()) + "/n", 2, 2000ms};
  options.failure_threshold = 2;
  options.open_ms = 60'000;
  WebhookDispatcher dispatcher(options);
  auto task_a = dispatcher.open_mailbox();
  auto task_b = dispatcher.open_mailbox();
  ASSERT_TRUE(dispatcher.submit(task_a, "o-1:CONFIRMED", "{}", {1000, true}));
  ASSERT_EQ(collect(*task_a, 1).size(), 1u);
  ASSERT_TRUE(dispatcher.submit(task_b, "o-2:CONFIRMED", "{}", {1001, true}));
  const auto outcomes = collect(*task_b, 1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].error, "HTTP 503");
  EXPECT_EQ(dispatcher.breaker().state(1002), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(dispatcher.submit(task_a, "o-3:CONFIRMED", "{}", {1002, true}));
  EXPECT_FALSE(dispatcher.submit(task_b, "o-4:CONFIRMED", "{}", {1002, true}));
  EXPECT_EQ(calls.load(), 2);
}

// Header values are record data: CR/LF (or any control byte) in the id is never sent; the outcome
// is permanent, not an attempt, and says why; the breaker is not involved.
TEST(WebhookDispatcherTest, IdThatIsNotAValidHeaderValueIsAPermanentOutcomeWithoutACall) {
  std::atomic<int> calls{0};
  http::HttpServer server;
  ASSERT_TRUE(server
                  .handle("POST", "/n",
                          [&](const http::HttpRequest&) {
                            ++calls;
                            return http::HttpResponse{};
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  WebhookDispatcher dispatcher(
      WebhookDispatcher::Options{"http://127.0.0.1:" + std::to_string(server.port()) + "/n", 1, 2000ms});
  auto mailbox = dispatcher.open_mailbox();
  for (const std::string& id :
       std::vector<std::string>{"o-1\r\nX-Injected: yes:CONFIRMED", "o-2\n:CONFIRMED", std::string("o-3\0:X", 7)}) {
    ASSERT_TRUE(dispatcher.submit(mailbox, id, "{}"));
  }
  const auto outcomes = mailbox->take();  // there at once: nothing was sent
  ASSERT_EQ(outcomes.size(), 3u);
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.result, DeliveryResult::kPermanent);
    EXPECT_FALSE(o.attempted);
    EXPECT_FALSE(o.breaker_failure);
    EXPECT_NE(o.error.find("Idempotency-Key"), std::string::npos) << o.error;
  }
  EXPECT_NE(outcomes[0].error.find("CR"), std::string::npos) << outcomes[0].error;
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(dispatcher.breaker().consecutive_failures(), 0);
}

TEST(WebhookDispatcherTest, ClosedMailboxGetsNothing) {
  http::HttpServer server;
  ASSERT_TRUE(server.handle("POST", "/n", [](const http::HttpRequest&) { return http::HttpResponse{}; }).ok());
  ASSERT_TRUE(server.start().ok());
  WebhookDispatcher dispatcher(
      WebhookDispatcher::Options{"http://127.0.0.1:" + std::to_string(server.port()) + "/n", 1, 2000ms});
  auto open = dispatcher.open_mailbox();
  auto closed = dispatcher.open_mailbox();
  dispatcher.submit(closed, "o-1:CONFIRMED", "{}");
  closed->close();
  dispatcher.submit(closed, "o-2:CONFIRMED", "{}");
  dispatcher.submit(open, "o-3:CONFIRMED", "{}");
  ASSERT_EQ(collect(*open, 1).size(), 1u);
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(closed->take().empty());
}

}  // namespace
}  // namespace ecommerce
