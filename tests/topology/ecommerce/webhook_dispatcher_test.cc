// WebhookDispatcher outside a topology: outcomes of both transports (the one-thread connection pool
// for http://, worker threads for anything else) and closed mailboxes. The saga tests drive it
// through the topology.
#include "topology/webhook_dispatcher.h"

#include <chrono>
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
  EXPECT_TRUE(by_id["o-1:CONFIRMED"].success);
  EXPECT_FALSE(by_id["o-2:CANCELLED"].success);
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

TEST(WebhookDispatcherTest, UnreachableHttpWebhookIsAFailedOutcome) {
  const DeliveryOutcome outcome = one_outcome("http://127.0.0.1:1/n");
  EXPECT_FALSE(outcome.success);
  EXPECT_NE(outcome.error.find("127.0.0.1:1"), std::string::npos) << outcome.error;
}

TEST(WebhookDispatcherTest, HttpsWebhookGoesThroughTheWorkerThreads) {
  // Nothing speaks TLS on port 1: the worker's HttpClient fails (or the build has no TLS); either
  // way the call ends as a failed outcome with a reason, never silently.
  const DeliveryOutcome outcome = one_outcome("https://127.0.0.1:1/n");
  EXPECT_FALSE(outcome.success);
  EXPECT_FALSE(outcome.error.empty());
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
