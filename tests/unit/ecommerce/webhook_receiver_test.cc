// The test webhook on the loopback interface: deduplication, failures on purpose, outages, stats.
#include "webhook/webhook_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "model.h"

namespace ecommerce::webhook {
namespace {

using namespace std::chrono_literals;
using kstreams::runtime::http::HttpClient;
using nlohmann::json;

// Param: WebhookOptions::worker_threads (0 = handlers on the event loop, the default; 4 = workers).
class WebhookReceiverTest : public ::testing::TestWithParam<int> {
 protected:
  void start(WebhookOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.worker_threads = GetParam();
    receiver_ = std::make_unique<WebhookReceiver>(o);
    ASSERT_TRUE(receiver_->start().ok());
    auto c = HttpClient::create("http://127.0.0.1:" + std::to_string(receiver_->port()));
    ASSERT_TRUE(c.ok());
    client_ = std::move(*c);
  }

  int post(const std::string& key, const std::string& body = R"({"notification_id":"x"})") {
    kstreams::runtime::http::HttpHeaders h;
    if (!key.empty()) h[kIdempotencyKeyHeader] = key;
    auto res = client_->post_json("/notifications", body, h);
    EXPECT_TRUE(res.ok()) << res.status();
    return res.ok() ? res->status : -1;
  }

  json stats_over_http() {
    auto res = client_->get("/stats");
    EXPECT_TRUE(res.ok());
    return json::parse(res->body);
  }

  std::unique_ptr<WebhookReceiver> receiver_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(WebhookReceiverTest, DeduplicatesByIdempotencyKeyAndAnswers200ForDuplicates) {
  start({});
  EXPECT_EQ(post("o-1:CONFIRMED"), 200);
  EXPECT_EQ(post("o-1:CONFIRMED"), 200);
  EXPECT_EQ(post("o-2:CANCELLED"), 200);
  EXPECT_TRUE(receiver_->accepted("o-1:CONFIRMED"));
  EXPECT_FALSE(receiver_->accepted("o-3:CONFIRMED"));
  const json s = stats_over_http();
  EXPECT_EQ(s["received"], 3);
  EXPECT_EQ(s["unique"], 2);
  EXPECT_EQ(s["duplicates"], 1);
  EXPECT_EQ(s["failed_on_purpose"], 0);
}

TEST_P(WebhookReceiverTest, RejectsMissingKeyAndNonObjectBodies) {
  start({});
  EXPECT_EQ(post(""), 400);
  EXPECT_EQ(post("k", "[1]"), 400);
  EXPECT_EQ(receiver_->stats().rejected, 2);
  EXPECT_EQ(receiver_->stats().unique, 0);
}

TEST_P(WebhookReceiverTest, FailShareOneFailsEverythingAndIsNotRecorded) {
  WebhookOptions o;
  o.fail_share = 1.0;
  start(o);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(post("k-" + std::to_string(i)), 503);
  EXPECT_EQ(receiver_->stats().failed_on_purpose, 5);
  EXPECT_EQ(receiver_->stats().unique, 0);
}

TEST_P(WebhookReceiverTest, FailShareIsSeededAndRoughlyRespected) {
  auto failures_with_seed = [this](uint64_t seed) {
    WebhookOptions o;
    o.fail_share = 0.3;
    o.seed = seed;
    start(o);
    std::vector<int> codes;
    for (int i = 0; i < 200; ++i) codes.push_back(post("k-" + std::to_string(i)));
    receiver_->stop();
    return codes;
  };
  const auto a = failures_with_seed(5);
  const auto b = failures_with_seed(5);
  EXPECT_EQ(a, b);
  const auto failed = std::count(a.begin(), a.end(), 503);
  EXPECT_GT(failed, 30);
  EXPECT_LT(failed, 90);
}

TEST_P(WebhookReceiverTest, ConfiguredOutageWindowFailsOnlyInside) {
  WebhookOptions o;
  o.outage_from_ms = 0;
  o.outage_to_ms = 1000;
  start(o);
  EXPECT_EQ(post("a"), 503);
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(post("a"), 200);
  EXPECT_EQ(receiver_->stats().unique, 1);
}

TEST_P(WebhookReceiverTest, AdminOutageStartsNow) {
  start({});
  EXPECT_EQ(post("a"), 200);
  auto res = client_->post_json("/admin/outage?ms=1000", "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(post("b"), 503);
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(post("b"), 200);
  auto bad = client_->post_json("/admin/outage?ms=soon", "");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
}

TEST_P(WebhookReceiverTest, BadOptionsAreRejected) {
  WebhookOptions o;
  o.fail_share = 2;
  WebhookReceiver r(o);
  EXPECT_EQ(r.start().code(), absl::StatusCode::kInvalidArgument);
  WebhookOptions window;
  window.outage_from_ms = 100;
  WebhookReceiver r2(window);
  EXPECT_EQ(r2.start().code(), absl::StatusCode::kInvalidArgument);
  WebhookOptions threads;
  threads.worker_threads = -1;
  WebhookReceiver r3(threads);
  EXPECT_EQ(r3.start().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WebhookReceiverEventLoopTest, ManyKeptAliveConnectionsAreServedAtOnce) {
  // As several instances' dispatchers keep their connections open: 40 clients each post in turn.
  // cpp-httplib's pool would hold a worker per kept-alive connection, so its 41st client would
  // wait for an earlier one to go idle for 2 s; the event loop serves them all at once.
  WebhookOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  WebhookReceiver receiver(o);
  ASSERT_TRUE(receiver.start().ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(receiver.port());
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 40; ++i) clients.push_back(std::move(*HttpClient::create(base, {1000ms, 1000ms})));
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < clients.size(); ++i) {
      kstreams::runtime::http::HttpHeaders h{{kIdempotencyKeyHeader, "k-" + std::to_string(round * 100 + i)}};
      auto res = clients[i]->post_json("/notifications", "{}", h);
      ASSERT_TRUE(res.ok()) << res.status();
      EXPECT_EQ(res->status, 200);
    }
  }
  EXPECT_EQ(receiver.stats().unique, 120);
}

// Issue 24: `GET /\xff` made the 404's JSON body throw on the loop thread (std::terminate).
TEST_P(WebhookReceiverTest, AnyByteInThePathIsAnsweredAndTheReceiverLives) {
  start({});
  for (const std::string path : {"/\xff", "/notifications/\xc3\x28", "/%ff%fe", "/stats\x80"}) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(receiver_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ::close(fd);
    ASSERT_GT(n, 12) << path;
    const std::string status(buf + 9, 3);
    EXPECT_TRUE(status == "404" || status == "400") << path << ": " << std::string(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(post("after-garbage"), 200);
}

INSTANTIATE_TEST_SUITE_P(Servers, WebhookReceiverTest, ::testing::Values(0, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0 ? std::string("EventLoop") : "Threads" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace ecommerce::webhook
