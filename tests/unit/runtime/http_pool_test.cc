// HttpPool on the loopback interface (against the runtime's HttpServer and against scripted raw
// sockets for the awkward cases), and its response parser on its own.
#include "kstreams/runtime/http_pool.h"

#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http_response_parser.h"
#include "kstreams/common/fault_points.h"
#include "kstreams/runtime/http.h"

namespace kstreams::runtime::http {
namespace {

using namespace std::chrono_literals;
using internal::parse_response;
using internal::ParsedResponse;
using Result = ParsedResponse::Result;

// ---- parser -------------------------------------------------------------------------------------

// Feeds `bytes` one at a time: incomplete prefixes must ask for more, the whole must complete.
ParsedResponse parse_incrementally(const std::string& bytes) {
  for (size_t n = 0; n < bytes.size(); ++n) {
    ParsedResponse p = parse_response(std::string_view(bytes).substr(0, n), false);
    if (p.result != Result::kNeedMore) {
      ADD_FAILURE() << "prefix of " << n << " bytes gave " << static_cast<int>(p.result) << " " << p.error;
      return p;
    }
  }
  return parse_response(bytes, false);
}

TEST(HttpResponseParserTest, ContentLengthKeepAlive) {
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
  ParsedResponse p = parse_incrementally(r);
  ASSERT_EQ(p.result, Result::kComplete) << p.error;
  EXPECT_EQ(p.status, 200);
  EXPECT_TRUE(p.keep_alive);
  EXPECT_EQ(p.consumed, r.size());
  // Bytes after the response are not consumed.
  EXPECT_EQ(parse_response(r + "HTTP/1.1", false).consumed, r.size());
}

TEST(HttpResponseParserTest, ChunkedWithExtensionsAndTrailers) {
  const std::string r =
      "HTTP/1.1 201 Created\r\ntransfer-encoding: Chunked\r\n\r\n"
      "4;ext=1\r\nWiki\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
  ParsedResponse p = parse_incrementally(r);
  ASSERT_EQ(p.result, Result::kComplete) << p.error;
  EXPECT_EQ(p.status, 201);
  EXPECT_EQ(p.consumed, r.size());
}

TEST(HttpResponseParserTest, InterimResponsesAreSkipped) {
  const std::string r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";
  ParsedResponse p = parse_incrementally(r);
  ASSERT_EQ(p.result, Result::kComplete) << p.error;
  EXPECT_EQ(p.status, 503);
}

TEST(HttpResponseParserTest, NoBodyStatusesAndConnectionHeaders) {
  ParsedResponse p = parse_response("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", false);
  ASSERT_EQ(p.result, Result::kComplete);
  EXPECT_EQ(p.status, 204);
  EXPECT_FALSE(p.keep_alive);
  // HTTP/1.0 closes unless it says keep-alive.
  EXPECT_FALSE(parse_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false).keep_alive);
  EXPECT_TRUE(
      parse_response("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", false).keep_alive);
}

TEST(HttpResponseParserTest, BodyWithoutLengthEndsWithTheConnection) {
  const std::string r = "HTTP/1.1 200 OK\r\n\r\nall of it";
  EXPECT_EQ(parse_response(r, false).result, Result::kNeedMore);
  ParsedResponse p = parse_response(r, true);
  ASSERT_EQ(p.result, Result::kComplete);
  EXPECT_FALSE(p.keep_alive);
  EXPECT_EQ(p.consumed, r.size());
}

TEST(HttpResponseParserTest, MalformedInput) {
  EXPECT_EQ(parse_response("SSH-2.0-OpenSSH\r\n", false).result, Result::kMalformed);
  EXPECT_EQ(parse_response("HTTP/1.1 2x0 OK\r\n\r\n", false).result, Result::kMalformed);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false).result, Result::kMalformed);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false).result, Result::kMalformed);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false).result,
            Result::kMalformed);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", false).result,
            Result::kMalformed);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\n" + std::string(internal::kMaxResponseHeaderBytes, 'a'), false).result,
            Result::kMalformed);
  // Truncated by the end of the connection.
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true).result, Result::kMalformed);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-", true).result, Result::kMalformed);
  EXPECT_EQ(parse_response("", true).result, Result::kMalformed);
}

// ---- pool ---------------------------------------------------------------------------------------

// Collects callback results; wait() blocks until `n` arrived.
class Results {
 public:
  HttpPool::Callback callback() {
    return [this](absl::StatusOr<int> r) {
      std::lock_guard lock(mu_);
      results_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  std::vector<absl::StatusOr<int>> wait(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, timeout, [&] { return results_.size() >= n; }))
        << "only " << results_.size() << " of " << n << " results";
    return results_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<absl::StatusOr<int>> results_;
};

std::unique_ptr<HttpPool> make_pool(const std::string& url, int connections, std::chrono::milliseconds timeout = 2s) {
  auto pool = HttpPool::create(url, HttpPool::Options{connections, timeout, "test-pool"});
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? std::move(*pool) : nullptr;
}

TEST(HttpPoolTest, ManyPostsOverFewConnectionsReachTheServerWithTheirHeaders) {
  std::mutex mu;
  std::multiset<std::string> keys;
  std::multiset<std::string> bodies;
  HttpServer server(HttpServerOptions{"127.0.0.1", 0, 4});
  ASSERT_TRUE(server
                  .handle("POST", "/hooks/orders",
                          [&](const HttpRequest& req) {
                            std::lock_guard lock(mu);
                            auto key = req.headers.find("Idempotency-Key");
                            keys.insert(key == req.headers.end() ? "" : key->second);
                            bodies.insert(req.body);
                            HttpResponse r;
                            r.status = req.body == "{\"n\":7}" ? 503 : 200;
                            r.body = "ok";
                            return r;
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  Results results;  // outlives the pool, whose destructor may still call back
  auto pool = make_pool("http://127.0.0.1:" + std::to_string(server.port()) + "/hooks/orders", 3);
  ASSERT_NE(pool, nullptr);
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    pool->post("{\"n\":" + std::to_string(i) + "}", {{"Idempotency-Key", "k" + std::to_string(i)}}, results.callback());
  }
  auto got = results.wait(kRequests);
  int ok = 0;
  int unavailable = 0;
  for (const auto& r : got) {
    ASSERT_TRUE(r.ok()) << r.status();
    ok += *r == 200;
    unavailable += *r == 503;
  }
  EXPECT_EQ(ok, kRequests - 1);
  EXPECT_EQ(unavailable, 1);
  std::lock_guard lock(mu);
  EXPECT_EQ(keys.size(), static_cast<size_t>(kRequests));
  EXPECT_EQ(keys.count("k0"), 1u);
  EXPECT_EQ(keys.count("k199"), 1u);
  EXPECT_EQ(bodies.count("{\"n\":42}"), 1u);
  // Keep-alive: 3 connections, renewed when the server closes one after 100 requests.
  EXPECT_LE(pool->stats().connections_opened, 3 + kRequests / 100);
}

TEST(HttpPoolTest, RejectsOtherSchemesAndMalformedUrls) {
  EXPECT_TRUE(HttpPool::create("https://example.com/x", {}).ok());
  EXPECT_TRUE(HttpPool::create("127.0.0.1:8080/x", {}).ok());  // http
  EXPECT_EQ(HttpPool::create("ftp://example.com/x", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpPool::create("file:///etc/passwd", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpPool::create("http://bad host/", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpPool::create("http://h:70000/", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpPool::create("http://h:80/", HttpPool::Options{0}).status().code(), absl::StatusCode::kInvalidArgument);
}

// A listening socket on 127.0.0.1 whose connections a test scripts by hand.
class RawServer {
 public:
  explicit RawServer(int backlog = 16) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, backlog), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RawServer() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // Runs `serve(connection fd)` for each of the next `connections` accepted connections, in order.
  void serve(int connections, std::function<void(int fd)> serve) {
    thread_ = std::thread([this, connections, serve = std::move(serve)] {
      for (int i = 0; i < connections; ++i) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        serve(c);
        ::close(c);
      }
    });
  }

  // Reads one request (headers and Content-Length body); false when the peer closed first.
  static bool read_request(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      const size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t cl = in.find("Content-Length: ");
        const size_t len = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
        if (in.size() >= end + 4 + len) return true;
      }
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      in.append(buf, static_cast<size_t>(n));
    }
  }
  static void write_all(int fd, const std::string& s) { (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// https:// goes through TLS: a server answering plain HTTP fails the handshake (kUnavailable), it is
// never read as a response.
TEST(HttpPoolTest, HttpsSpeaksTlsAndAFailedHandshakeIsUnavailable) {
  RawServer server;
  server.serve(1, [](int fd) {
    char buf[512];
    (void)!::recv(fd, buf, sizeof(buf), 0);  // the ClientHello
    RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  Results results;
  auto pool = make_pool("https://127.0.0.1:" + std::to_string(server.port()) + "/hook", 1);
  pool->post("{}", {}, results.callback());
  auto got = results.wait(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status().code(), absl::StatusCode::kUnavailable) << got[0].status();
}

TEST(HttpPoolTest, ConnectionRefusedIsUnavailable) {
  int port = 0;
  {
    RawServer probe;  // a port that was just free, now closed
    port = probe.port();
  }
  Results results;
  auto pool = make_pool("http://127.0.0.1:" + std::to_string(port) + "/x", 1);
  pool->post("{}", {}, results.callback());
  auto got = results.wait(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status().code(), absl::StatusCode::kUnavailable) << got[0].status();
}

TEST(HttpPoolTest, AConnectThatNeverCompletesTimesOut) {
  // A listener that never accepts, with its accept queue filled: Linux drops further SYNs, so the
  // pool's connect stays in progress (the client would retransmit for minutes).
  RawServer listener(/*backlog=*/0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(listener.port()));
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  Results results;
  auto pool = make_pool(listener.url(), 1, 200ms);
  const auto started = std::chrono::steady_clock::now();
  pool->post("{}", {}, results.callback());
  auto got = results.wait(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status().code(), absl::StatusCode::kDeadlineExceeded) << got[0].status();
  EXPECT_NE(got[0].status().message().find("could not connect to 127.0.0.1:"), std::string::npos) << got[0].status();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 550ms);
  pool.reset();
  for (int fd : fillers) ::close(fd);
}

TEST(HttpPoolTest, AHostThatDoesNotResolveIsUnavailableAndNamed) {
  // ".invalid" never resolves (RFC 6761). A resolver that answers at once makes this fast; one that
  // cannot be reached fails with a temporary error after its own timeouts: unavailable either way.
  Results results;
  auto pool = make_pool("http://kstreams-webhook.invalid:8080/hook", 1, 200ms);
  pool->post("{}", {}, results.callback());
  auto got = results.wait(1, 60s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status().code(), absl::StatusCode::kUnavailable) << got[0].status();
  EXPECT_NE(got[0].status().message().find("resolving kstreams-webhook.invalid"), std::string::npos) << got[0].status();
  EXPECT_EQ(pool->stats().connections_opened, 0);
}

TEST(HttpPoolTest, SilentServerTimesOutAndTheNextRequestUsesANewConnection) {
  RawServer server;
  server.serve(2, [](int fd) {
    static int n = 0;
    if (!RawServer::read_request(fd)) return;
    if (n++ == 0) {
      char c;
      while (::recv(fd, &c, 1, 0) > 0) {
      }  // never answers; returns when the client gives up and closes
      return;
    }
    RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  Results results;
  auto pool = make_pool(server.url(), 1, 200ms);
  const auto started = std::chrono::steady_clock::now();
  pool->post("{}", {}, results.callback());
  auto got = results.wait(1);
  EXPECT_EQ(got[0].status().code(), absl::StatusCode::kDeadlineExceeded) << got[0].status();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 550ms);
  pool->post("{}", {}, results.callback());
  got = results.wait(2);
  ASSERT_TRUE(got[1].ok()) << got[1].status();
  EXPECT_EQ(*got[1], 200);
}

TEST(HttpPoolTest, StaleKeepAliveConnectionIsRetriedOnceOnANewOne) {
  // The server answers once per connection without saying it closes, then closes: the second
  // request finds the kept connection dead before any response byte and goes out again.
  RawServer server;
  server.serve(2, [](int fd) {
    if (!RawServer::read_request(fd)) return;
    RawServer::write_all(fd, "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok");
    std::this_thread::sleep_for(50ms);
  });
  Results results;
  auto pool = make_pool(server.url(), 1);
  pool->post("{}", {}, results.callback());
  results.wait(1);
  std::this_thread::sleep_for(150ms);  // the server has closed the first connection by now
  pool->post("{}", {}, results.callback());
  auto got = results.wait(2);
  ASSERT_TRUE(got[0].ok() && got[1].ok()) << got[0].status() << " " << got[1].status();
  EXPECT_EQ(*got[1], 202);
  EXPECT_EQ(pool->stats().connections_opened, 2);
}

TEST(HttpPoolTest, ChunkedAndCloseDelimitedResponsesAndGarbage) {
  RawServer server;
  server.serve(3, [](int fd) {
    static int n = 0;
    if (!RawServer::read_request(fd)) return;
    switch (n++) {
      case 0:  // chunked in pieces, then Connection: close
        RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nab");
        std::this_thread::sleep_for(20ms);
        RawServer::write_all(fd, "c\r\n0\r\n\r\n");
        break;
      case 1:  // no length: the body ends with the connection
        RawServer::write_all(fd, "HTTP/1.0 500 Oops\r\n\r\nsomething broke");
        break;
      default:
        RawServer::write_all(fd, "220 smtp.example.com ESMTP\r\n");
        std::this_thread::sleep_for(50ms);
        break;
    }
  });
  Results results;
  auto pool = make_pool(server.url(), 1);
  for (int i = 0; i < 3; ++i) pool->post("{}", {}, results.callback());
  auto got = results.wait(3);
  ASSERT_TRUE(got[0].ok()) << got[0].status();
  EXPECT_EQ(*got[0], 200);
  ASSERT_TRUE(got[1].ok()) << got[1].status();
  EXPECT_EQ(*got[1], 500);
  EXPECT_EQ(got[2].status().code(), absl::StatusCode::kInternal) << got[2].status();
  EXPECT_EQ(pool->stats().connections_opened, 3);
}

TEST(HttpPoolTest, DestructionCancelsWhatIsNotFinished) {
  RawServer server;
  server.serve(1, [](int fd) {
    RawServer::read_request(fd);
    std::this_thread::sleep_for(300ms);
  });
  Results results;
  {
    auto pool = make_pool(server.url(), 1, 5s);
    for (int i = 0; i < 3; ++i) pool->post("{}", {}, results.callback());
    std::this_thread::sleep_for(50ms);
  }
  auto got = results.wait(3, 1s);
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got) EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
}

TEST(HttpPoolTest, BatchSchedulingAppliesToTheIoThreadOnly) {
  RawServer server;
  server.serve(2, [](int fd) {  // one request on each pool's connection
    if (RawServer::read_request(fd)) RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  // Callbacks run on the I/O thread: each records the policy it runs under.
  std::mutex mu;
  std::vector<int> policies;
  auto record_policy = [&](absl::StatusOr<int> status) {
    EXPECT_TRUE(status.ok()) << status.status();
    std::lock_guard lock(mu);
    policies.push_back(sched_getscheduler(0));
  };
  Results results;  // outlives the pools
  auto plain = make_pool(server.url(), 1);
  EXPECT_FALSE(plain->stats().batch_scheduling);
  HttpPool::Options options{1, 2s, "test-batch"};
  options.batch_scheduling = true;
  auto batch = HttpPool::create(server.url(), options);
  ASSERT_TRUE(batch.ok()) << batch.status();
  // Lowering one's own policy needs no privilege, so Linux grants it.
  EXPECT_TRUE((*batch)->stats().batch_scheduling);
  plain->post("{}", {}, [&](absl::StatusOr<int> s) {
    record_policy(s);
    results.callback()(s);
  });
  results.wait(1);
  (*batch)->post("{}", {}, [&](absl::StatusOr<int> s) {
    record_policy(s);
    results.callback()(s);
  });
  results.wait(2);
  std::lock_guard lock(mu);
  ASSERT_EQ(policies.size(), 2u);
  EXPECT_EQ(policies[0], SCHED_OTHER);
  EXPECT_EQ(policies[1], SCHED_BATCH);
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);  // the creating thread is left alone
}

TEST(HttpPoolTest, RefusedBatchSchedulingLeavesAWorkingPoolUnderTheDefaultPolicy) {
  RawServer server;
  server.serve(1, [](int fd) {
    if (RawServer::read_request(fd)) RawServer::write_all(fd, "HTTP/1.1 204 No Content\r\n\r\n");
  });
  fault::ScopedFault refused("http_pool.sched_batch", fault::FaultSpec{});
  Results results;
  HttpPool::Options options{1, 2s, "test-refused"};
  options.batch_scheduling = true;
  auto pool = HttpPool::create(server.url(), options);
  ASSERT_TRUE(pool.ok()) << pool.status();  // not an error: the pool runs, just not under SCHED_BATCH
  EXPECT_EQ(fault::hits("http_pool.sched_batch"), 1);
  EXPECT_FALSE((*pool)->stats().batch_scheduling);
  std::atomic<int> policy{-1};
  (*pool)->post("{}", {}, [&](absl::StatusOr<int> s) {
    policy = sched_getscheduler(0);
    results.callback()(s);
  });
  auto got = results.wait(1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].ok()) << got[0].status();
  EXPECT_EQ(*got[0], 204);
  EXPECT_EQ(policy.load(), SCHED_OTHER);
}

// ---- hostile servers (issue 24) ------------------------------------------------------------------

// The test process's resident set (VmRSS, bytes), sampled every few ms while alive; max() is the
// largest sample.
class RssSampler {
 public:
  RssSampler() : before_(rss()), max_(before_) {
    thread_ = std::thread([this] {
      while (!stop_) {
        max_ = std::max(max_.load(), rss());
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  ~RssSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t growth() const { return max_.load() - before_; }
  static int64_t rss() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return 0;
    char line[256];
    int64_t kb = 0;
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    }
    std::fclose(f);
    return kb * 1024;
  }

 private:
  int64_t before_;
  std::atomic<int64_t> max_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Answers one request with `head`, then sends `filler` over and over for at most `limit` bytes or
// `duration`, or until the client goes away.
void flood(RawServer& server, std::string head, std::string filler, size_t limit,
           std::chrono::milliseconds duration = 3s) {
  server.serve(1, [head = std::move(head), filler = std::move(filler), limit, duration](int fd) {
    if (!RawServer::read_request(fd)) return;
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) < 0) return;
    const auto until = std::chrono::steady_clock::now() + duration;
    size_t sent = 0;
    while (sent < limit && std::chrono::steady_clock::now() < until) {
      const ssize_t n = ::send(fd, filler.data(), filler.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  });
}

struct HostileResult {
  absl::Status status;
  int64_t rss_growth = 0;
  std::chrono::milliseconds took{0};
};

HostileResult call_hostile(const std::string& url, std::chrono::milliseconds timeout) {
  Results results;
  RssSampler rss;
  auto pool = make_pool(url, 1, timeout);
  const auto started = std::chrono::steady_clock::now();
  pool->post("{}", {}, results.callback());
  auto got = results.wait(1, timeout + 5s);
  HostileResult r;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  pool.reset();
  rss.stop();
  r.rss_growth = rss.growth();
  r.status = got.empty() ? absl::UnknownError("no result") : got[0].status();
  return r;
}

// The server sends 256 MiB at most (a buffering client grows by that much), in 3 s at most.
constexpr size_t kFloodBytes = size_t{256} << 20;
constexpr int64_t kRssBound = int64_t{32} << 20;

TEST(HttpPoolHostileTest, HugeContentLengthFailsAtTheResponseCapWithBoundedMemory) {
  RawServer server;
  flood(server, "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n\r\n", std::string(64 * 1024, 'x'), kFloodBytes);
  const HostileResult r = call_hostile(server.url(), 5s);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  EXPECT_NE(r.status.message().find("response larger than"), std::string::npos) << r.status;
  EXPECT_LT(r.rss_growth, kRssBound);
  EXPECT_LT(r.took, 2s);
  std::printf("huge Content-Length: %s, RSS growth %ld KiB, %ld ms\n", r.status.ToString().c_str(), r.rss_growth / 1024,
              static_cast<long>(r.took.count()));
}

TEST(HttpPoolHostileTest, EndlessBodyWithoutLengthFailsAtTheResponseCapWithBoundedMemory) {
  RawServer server;
  flood(server, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", std::string(64 * 1024, 'x'), kFloodBytes);
  const HostileResult r = call_hostile(server.url(), 5s);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  EXPECT_NE(r.status.message().find("response larger than"), std::string::npos) << r.status;
  EXPECT_LT(r.rss_growth, kRssBound);
  EXPECT_LT(r.took, 2s);
  std::printf("endless body: %s, RSS growth %ld KiB, %ld ms\n", r.status.ToString().c_str(), r.rss_growth / 1024,
              static_cast<long>(r.took.count()));
}

TEST(HttpPoolHostileTest, EndlessInterimResponsesFailAtTheHeaderCapWithBoundedMemory) {
  RawServer server;
  std::string continues;
  for (int i = 0; i < 2000; ++i) continues += "HTTP/1.1 100 Continue\r\n\r\n";
  flood(server, "", continues, kFloodBytes);
  const HostileResult r = call_hostile(server.url(), 5s);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  EXPECT_NE(r.status.message().find("response headers larger than"), std::string::npos) << r.status;
  EXPECT_LT(r.rss_growth, kRssBound);
  EXPECT_LT(r.took, 2s);
  std::printf("endless 100 Continue: %s, RSS growth %ld KiB, %ld ms\n", r.status.ToString().c_str(),
              r.rss_growth / 1024, static_cast<long>(r.took.count()));
}

TEST(HttpPoolHostileTest, EndlessHeaderLinesFailAtTheHeaderCap) {
  RawServer server;
  std::string lines;
  for (int i = 0; i < 1000; ++i) lines += "X-Filler: " + std::string(50, 'y') + "\r\n";
  flood(server, "HTTP/1.1 200 OK\r\n", lines, kFloodBytes);
  const HostileResult r = call_hostile(server.url(), 5s);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  EXPECT_LT(r.rss_growth, kRssBound);
  EXPECT_LT(r.took, 2s);
}

// Header values come from record data (the Idempotency-Key is the notification id): CR, LF and
// other control bytes must never reach the wire, where they would start new header lines.
TEST(HttpPoolTest, HeaderValuesWithCrLfOrControlBytesAreRefusedAndNothingIsSent) {
  std::atomic<int> requests{0};
  std::atomic<bool> injected{false};
  HttpServer server(HttpServerOptions{"127.0.0.1", 0, 2});
  ASSERT_TRUE(server
                  .handle("POST", "/hook",
                          [&](const HttpRequest& req) {
                            ++requests;
                            if (req.headers.count("X-Injected")) injected = true;
                            return HttpResponse{};
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  Results results;
  auto pool = make_pool("http://127.0.0.1:" + std::to_string(server.port()) + "/hook", 1);
  const std::vector<std::pair<std::string, std::string>> bad[] = {
      {{"Idempotency-Key", "o-1\r\nX-Injected: yes"}},
      {{"Idempotency-Key", "o-1\nX-Injected: yes"}},
      {{"Idempotency-Key", "o-1\rX-Injected: yes"}},
      {{"Idempotency-Key", std::string("o-1\0x", 5)}},
      {{"Idempotency-Key", "o-1\x7f"}},
      {{"Bad Name", "v"}},
      {{"", "v"}},
      {{"X-Injected: yes\r\nIdempotency-Key", "v"}},
  };
  for (const auto& headers : bad) pool->post("{}", headers, results.callback());
  pool->post("{}", {{"Idempotency-Key", "o-2:CONFIRMED"}, {"X-Tab", "a\tb"}}, results.callback());
  auto got = results.wait(std::size(bad) + 1);
  ASSERT_EQ(got.size(), std::size(bad) + 1);
  int refused = 0;
  for (const auto& r : got) {
    if (r.ok()) {
      EXPECT_EQ(*r, 200);
      continue;
    }
    ++refused;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
  EXPECT_EQ(refused, static_cast<int>(std::size(bad)));
  EXPECT_EQ(requests.load(), 1);
  EXPECT_FALSE(injected.load());
  EXPECT_TRUE(check_header("Idempotency-Key", "o-2:CONFIRMED").ok());
  EXPECT_FALSE(check_header("Idempotency-Key", "a\r\nb").ok());
  EXPECT_NE(check_header("Idempotency-Key", "a\r\nb").message().find("CR"), std::string::npos);
}

}  // namespace
}  // namespace kstreams::runtime::http
