// The e-commerce application on the real broker, as a user runs it: two instances under load, one
// SIGKILLed mid-run and restarted, and a webhook outage; ecommerce_verify must then find every
// invariant of the contract intact (read_committed). Each test uses its own topic prefix and
// application.id, so it can share the broker with the rest of the integration tier.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "kstreams/common/clock.h"
#include "kstreams/common/partitioner.h"
#include "kstreams/runtime/clients.h"
#include "loadgen/load_runner.h"
#include "model.h"
#include "support/broker_env.h"
#include "support/child_process.h"

namespace kstreams {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

class EcommerceAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    id_ = testing::unique_name("shop");
    prefix_ = id_ + ".";
    dir_ = std::filesystem::temp_directory_path() / id_;
    std::filesystem::create_directories(dir_);
    webhook_port_ = testing::free_tcp_port();
  }
  void TearDown() override {
    processes_.clear();
    if (!HasFailure() && std::getenv("KSTREAMS_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir_);
  }
  std::string log(const std::string& name) const { return (dir_ / (name + ".log")).string(); }

  void start_webhook(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {KSTREAMS_ECOMMERCE_WEBHOOK, "--listen",
                                     "127.0.0.1:" + std::to_string(webhook_port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    processes_.push_back(std::make_unique<ChildProcess>(argv, log("webhook")));
  }

  std::unique_ptr<ChildProcess> start_instance(int i, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {
        KSTREAMS_ECOMMERCE_TOPOLOGY,
        "--config",
        KSTREAMS_ECOMMERCE_CONFIG,
        "--set",
        "application.id=" + id_,
        "--set",
        "bootstrap.servers=" + testing::bootstrap(),
        "--set",
        "ecommerce.topic.prefix=" + prefix_,
        "--set",
        "errors.deadletterqueue.topic.name=" + prefix_ + "dead-letters",
        "--set",
        "state.dir=" + (dir_ / ("state-" + std::to_string(i))).string(),
        "--set",
        "application.server=",
        "--set",
        "session.timeout.ms=6000",
        "--set",
        "transaction.timeout.ms=5000",
        "--set",
        "notifications.webhook.url=http://127.0.0.1:" + std::to_string(webhook_port_) + "/notifications",
        "--set",
        "notifications.circuit.open.ms=1000"};
    for (const auto& setting : extra) {
      argv.push_back("--set");
      argv.push_back(setting);
    }
    return std::make_unique<ChildProcess>(argv, log("instance-" + std::to_string(i)));
  }

  // Runs a tool to completion; returns its exit code.
  int run_tool(const std::vector<std::string>& argv, const std::string& name, std::chrono::seconds timeout) {
    ChildProcess tool(argv, log(name));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (tool.running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    if (tool.running()) return tool.terminate(5s) == 0 ? -2 : -1;
    return tool.terminate(1s);
  }

  // `time_step_ms`: how far created_at advances per order (event time runs that much faster).
  std::vector<std::string> loadgen(int orders, int rate, int time_step_ms = 1) {
    return {KSTREAMS_ECOMMERCE_LOADGEN,
            "--bootstrap",
            testing::bootstrap(),
            "--topic-prefix",
            prefix_,
            "--orders",
            std::to_string(orders),
            "--rate",
            std::to_string(rate),
            "--time-step-ms",
            std::to_string(time_step_ms),
            "--summary-json",
            (dir_ / "load.json").string()};
  }

  int expected_terminal_statuses() {
    std::ifstream in(dir_ / "load.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const auto pos = text.find("\"terminal_statuses\":");
    return pos == std::string::npos ? -1 : std::stoi(text.substr(pos + 20));
  }

  int verify(int expected, int64_t grace_ms = 30000) {
    return run_tool(
        {KSTREAMS_ECOMMERCE_VERIFY, "--bootstrap", testing::bootstrap(), "--topic-prefix", prefix_, "--wait-for-orders",
         std::to_string(expected), "--timeout-ms", "150000", "--grace-ms", std::to_string(grace_ms)},
        "verify", 200s);
  }

  // Prints the verifier's notification latency lines (first webhook call, settled) to the test log.
  void print_notification_latency() const {
    std::ifstream in(log("verify"));
    for (std::string line; std::getline(in, line);) {
      if (line.find("webhook call") != std::string::npos || line.find("receipt / dead letter") != std::string::npos) {
        std::printf("%s: %s\n", ::testing::UnitTest::GetInstance()->current_test_info()->name(), line.c_str());
      }
    }
  }

  std::string diagnostics() const {
    std::string out;
    for (const char* name : {"verify", "instance-0", "instance-1", "loadgen", "webhook"}) {
      out += std::string("--- ") + name + "\n" + testing::tail_file(log(name), 40);
    }
    return out;
  }

  std::string id_, prefix_;
  std::filesystem::path dir_;
  int webhook_port_ = 0;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
};

TEST_F(EcommerceAppTest, TwoInstancesUnderLoadSurviveASigkillAndPassTheVerifier) {
  // Event time runs 50x faster than the wall clock (created_at advances 50 ms per order at 1,000
  // orders/s), so analytics windows close during the run. The grace is 15 minutes of event time
  // (18 s of wall clock): more than the survivor needs to take the killed instance's tasks over and
  // the restarted one to rejoin (a record later than the grace is dropped, as the contract allows,
  // and the verifier, which cannot know processing order, would count it missing). The first
  // revenue_1m and sku_sales_5m windows close ~19 s into the load, before the kill at ~22 s. The
  // verifier then catches any window emitted twice (by the restarted instance or the survivor) or
  // never emitted, and checks every closed window's content.
  constexpr int64_t kGraceMs = 900000;
  const std::vector<std::string> settings = {"analytics.grace.ms=" + std::to_string(kGraceMs)};
  start_webhook({"--fail-share", "0.05"});
  auto a = start_instance(0, settings);
  auto b = start_instance(1, settings);
  std::this_thread::sleep_for(4s);  // both join the group
  std::thread killer([&] {
    std::this_thread::sleep_for(22s);
    a->kill_hard();  // mid-run: open transactions, uncommitted store writes, in-flight webhooks
    std::this_thread::sleep_for(2s);
    a = start_instance(0, settings);  // restarts on its state directory (no wipe) and rejoins
  });
  ASSERT_EQ(run_tool(loadgen(40000, 1000, 50), "loadgen", 180s), 0) << diagnostics();
  killer.join();
  const int expected = expected_terminal_statuses();
  ASSERT_GT(expected, 0);
  EXPECT_EQ(verify(expected, kGraceMs), 0) << diagnostics();
  print_notification_latency();
  EXPECT_EQ(a->terminate(30s), 0) << diagnostics();
  EXPECT_EQ(b->terminate(30s), 0) << diagnostics();
}

TEST_F(EcommerceAppTest, WebhookOutageLosesAndDuplicatesNothingInKafka) {
  // The webhook is down for the first 6 s of the run: retries, backoff and the circuit breaker
  // hold the notifications in the outbox; each still ends in exactly one of notifications or
  // notifications-dlq, and the saga itself is never held back.
  start_webhook({"--outage-ms-from", "0", "--outage-ms-to", "6000"});
  auto a = start_instance(0);
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(run_tool(loadgen(2000, 1000), "loadgen", 120s), 0) << diagnostics();
  const int expected = expected_terminal_statuses();
  ASSERT_GT(expected, 0);
  EXPECT_EQ(verify(expected), 0) << diagnostics();
  print_notification_latency();
  EXPECT_EQ(a->terminate(30s), 0) << diagnostics();
}

// A hostile webhook on 127.0.0.1:port: reads a request, answers 200 without a length and then
// sends filler until the client goes away (at most 256 MiB or 3 s per connection).
class FloodingWebhook {
 public:
  explicit FloodingWebhook(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    acceptor_ = std::thread([this] {
      while (!stop_) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++connections_;
        std::lock_guard lock(mu_);
        workers_.emplace_back([this, c] { flood(c); });
      }
    });
  }
  ~FloodingWebhook() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (auto& w : workers_) w.join();
  }
  int connections() const { return connections_.load(); }

 private:
  void flood(int c) {
    char buf[4096];
    (void)!::recv(c, buf, sizeof(buf), 0);
    const std::string head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
    const std::string filler(64 * 1024, 'x');
    (void)!::send(c, head.data(), head.size(), MSG_NOSIGNAL);
    const auto until = std::chrono::steady_clock::now() + 3s;
    size_t sent = 0;
    while (!stop_ && sent < (size_t{256} << 20) && std::chrono::steady_clock::now() < until) {
      const ssize_t n = ::send(c, filler.data(), filler.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::close(c);
  }
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

int64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

// Issue 24: a webhook answering an endless body must not grow the instance's memory. Every call
// fails at the client's response cap ("response larger than"), is retried and dead-lettered; the
// verifier finds one dead letter per terminal status and nothing else.
TEST_F(EcommerceAppTest, HostileWebhookKeepsMemoryBoundedAndNotificationsDeadLetter) {
  FloodingWebhook hostile(webhook_port_);
  auto a = start_instance(0, {"notifications.circuit.failure.threshold=1000000", "notifications.retry.backoff.ms=50"});
  std::this_thread::sleep_for(4s);
  const int64_t baseline = rss_bytes(a->pid());
  std::atomic<int64_t> peak{baseline};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      peak = std::max(peak.load(), rss_bytes(a->pid()));
      std::this_thread::sleep_for(50ms);
    }
  });
  ASSERT_EQ(run_tool(loadgen(200, 200), "loadgen", 120s), 0) << diagnostics();
  const int expected = expected_terminal_statuses();
  ASSERT_GT(expected, 0);
  EXPECT_EQ(verify(expected), 0) << diagnostics();
  sampling = false;
  sampler.join();
  std::ifstream in(log("verify"));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("notifications delivered: 0, dead-lettered: " + std::to_string(expected)),
            std::string::npos)
      << text.str();
  std::printf("hostile webhook: %d connections, instance RSS %lld MiB before, peak %lld MiB\n", hostile.connections(),
              static_cast<long long>(baseline >> 20), static_cast<long long>(peak.load() >> 20));
  EXPECT_GE(hostile.connections(), 1);
  EXPECT_LT(peak.load() - baseline, int64_t{128} << 20);
  EXPECT_EQ(a->terminate(30s), 0) << diagnostics();
}

TEST_F(EcommerceAppTest, APoisonOrderDoesNotStallThePartitionAndAKeyMismatchIsADeadLetter) {
  // A created_at within ~120 s of INT64_MAX once spun the stream thread forever in the window
  // loop; the orders after it on the partition were never decided.
  using kstreams::runtime::ProducerClient;
  start_webhook({});
  auto a = start_instance(0);
  std::this_thread::sleep_for(4s);  // it creates the topics and joins
  auto admin = runtime::AdminClient::create(testing::client_props());
  ASSERT_TRUE(admin.ok()) << admin.status();
  auto counts = (*admin)->partition_counts({prefix_ + ecommerce::kOrdersTopic}, 10s);
  ASSERT_TRUE(counts.ok() && counts->count(prefix_ + ecommerce::kOrdersTopic)) << diagnostics();
  const int32_t partitions = counts->at(prefix_ + ecommerce::kOrdersTopic);
  // The normal order behind the poison one in the same partition (the same task's queue).
  std::string next = "o-next";
  for (int i = 0; partition_for_key(next, partitions) != partition_for_key("o-poison", partitions); ++i) {
    next = "o-next-" + std::to_string(i);
  }
  auto producer = ProducerClient::create(ecommerce::loadgen::producer_properties(testing::bootstrap()));
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto send = [&](const std::string& topic, const std::string& key, const std::string& value) {
    RawRecord r;
    r.topic = prefix_ + topic;
    r.partition = Partition(-1);
    r.key = key;
    r.value = value;
    r.timestamp = SystemClock::instance().now_ms();
    ASSERT_TRUE((*producer)->send(r).ok());
  };
  const int64_t now = SystemClock::instance().now_ms();
  const std::string line = R"("items":[{"sku":"sku-1","qty":1,"unit_price_cents":100}]})";
  send(ecommerce::kRestocksTopic, "sku-1", R"({"restock_id":"r-1","sku":"sku-1","qty":10})");
  send(ecommerce::kOrdersTopic, "o-poison",
       R"({"order_id":"o-poison","customer_id":"c","created_at":9223372036854775000,)" + line);
  send(ecommerce::kOrdersTopic, "k-other",
       R"({"order_id":"o-keyed","customer_id":"c","created_at":)" + std::to_string(now) + "," + line);
  send(ecommerce::kOrdersTopic, next,
       R"({"order_id":")" + next + R"(","customer_id":"c","created_at":)" + std::to_string(now) + "," + line);
  ASSERT_TRUE((*producer)->flush(std::chrono::seconds(10)).ok());

  std::map<std::string, std::string> last_status;
  std::vector<std::string> dead;
  const auto deadline = std::chrono::steady_clock::now() + 60s;  // includes the instance's start
  while (std::chrono::steady_clock::now() < deadline &&
         (last_status[next] != "CONFIRMED" || last_status["o-poison"].empty() || dead.empty())) {
    std::this_thread::sleep_for(500ms);
    auto records =
        runtime::read_all(testing::client_props({{"isolation.level", "read_committed"}}),
                          {prefix_ + ecommerce::kOrderStatusTopic, prefix_ + ecommerce::kDeadLettersTopic}, 10s);
    if (!records.ok()) continue;
    dead.clear();
    for (const auto& r : *records) {
      if (r.topic == prefix_ + ecommerce::kDeadLettersTopic) {
        dead.emplace_back(r.headers.last(ecommerce::kDlqErrorHeader).value_or(""));
        continue;
      }
      const auto j = nlohmann::json::parse(r.value.value_or(""), nullptr, false);
      if (!j.is_object() || !j.contains("order_id") || !j["order_id"].is_string()) continue;
      const bool has_reason = j.contains("reason") && j["reason"].is_string();
      last_status[j["order_id"].get<std::string>()] =
          j.value("status", "") + (has_reason ? "/" + j["reason"].get<std::string>() : "");
    }
  }
  EXPECT_EQ(last_status[next], "CONFIRMED") << diagnostics();
  EXPECT_EQ(last_status["o-poison"], "CANCELLED/INVALID") << diagnostics();
  EXPECT_EQ(last_status.count("o-keyed"), 0u);
  EXPECT_EQ(dead, (std::vector<std::string>{ecommerce::kDlqKeyMismatch})) << diagnostics();
  EXPECT_EQ(a->terminate(30s), 0) << diagnostics();
}

}  // namespace
}  // namespace kstreams
