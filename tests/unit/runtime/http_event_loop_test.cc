// HttpServer's event-loop engine on the wire, driven by raw sockets: pipelining, byte-by-byte and
// chunked requests, 100-continue, refusals and closes, timeouts, half-closed clients, many
// connections, a client that does not read, and stop() with connections open. The behaviour both
// engines share (routing, errors, keep-alive reuse) is in http_test.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http_response_parser.h"
#include "kstreams/runtime/http.h"
#include "support/raw_connection.h"

namespace kstreams::runtime::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One response as the client read it.
struct Answer {
  int status = 0;
  std::string head;  // status line and header fields
  std::string body;
};

// A client socket that writes raw bytes and reads responses with a deadline.
class RawClient {
 public:
  explicit RawClient(int port) : conn_(port) {}

  [[nodiscard]] bool connected() const { return conn_.connected(); }
  void send(std::string_view bytes) { (void)conn_.send_all(bytes); }
  void shut_write() { conn_.shut_write(); }
  // Sends what the socket takes without waiting.
  void send_nowait(const std::string& bytes) { (void)conn_.send(bytes); }

  // Reads until `count` whole responses are parsed, the server closes, or `timeout` passes.
  std::vector<Answer> read(size_t count, std::chrono::milliseconds timeout = 3000ms) {
    std::vector<Answer> out;
    const auto deadline = Clock::now() + timeout;
    while (out.size() < count) {
      if (take(&out)) continue;
      if (conn_.closed() || !fill(deadline)) break;
    }
    return out;
  }

  // Reads bytes until `marker` arrives (consuming through it); false on timeout or close.
  bool read_until(std::string_view marker, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const size_t at = in_.find(marker);
      if (at != std::string::npos) {
        in_.erase(0, at + marker.size());
        return true;
      }
      if (conn_.closed() || !fill(deadline)) return false;
    }
  }

  // Whether the server closed the connection within `timeout` (bytes before the close are kept).
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!conn_.closed() && fill(deadline)) {
    }
    return conn_.closed();
  }

 private:
  bool take(std::vector<Answer>* out) {
    const internal::ParsedResponse p = internal::parse_response(in_, conn_.closed());
    if (p.result != internal::ParsedResponse::Result::kComplete) return false;
    Answer a;
    a.status = p.status;
    const size_t head_end = in_.find("\r\n\r\n");
    a.head = in_.substr(0, head_end);
    a.body = in_.substr(head_end + 4, p.consumed - head_end - 4);
    in_.erase(0, p.consumed);
    out->push_back(std::move(a));
    return true;
  }

  // Waits for bytes until the deadline; false on timeout.
  bool fill(Clock::time_point deadline) { return conn_.read_some(deadline, &in_); }

  kstreams::testing::RawConnection conn_;
  std::string in_;
};

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

class HttpEventLoopTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions o = {}) {
    o.engine = HttpServerEngine::kEventLoop;
    server_ = std::make_unique<HttpServer>(o);
    ASSERT_TRUE(server_
                    ->handle("POST", "/echo",
                             [this](const HttpRequest& r) {
                               ++served_;
                               HttpResponse res;
                               res.body = r.body;
                               res.content_type = "text/plain";
                               return res;
                             })
                    .ok());
    ASSERT_TRUE(server_
                    ->handle("GET", "/big",
                             [](const HttpRequest&) {
                               HttpResponse res;
                               res.body = std::string(4096, 'z');
                               return res;
                             })
                    .ok());
    ASSERT_TRUE(server_->handle("GET", "/small", [](const HttpRequest&) { return HttpResponse{200, "{}"}; }).ok());
    ASSERT_TRUE(server_
                    ->handle("GET", "/throw",
                             [](const HttpRequest&) -> HttpResponse {
                               throw std::runtime_error("secret detail of the failure");
                             })
                    .ok());
    ASSERT_TRUE(server_->handle("DELETE", "/nothing",
                                [](const HttpRequest&) {
                                  return HttpResponse{204, "ignored"};
                                })
                    .ok());
    ASSERT_TRUE(server_->start().ok());
  }
  int port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> served_{0};  // counted on the loop thread
};

TEST_F(HttpEventLoopTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  std::string batch;
  for (int i = 0; i < 50; ++i) batch += post("/echo", "body-" + std::to_string(i));
  c.send(batch);  // one write: the server reads many requests at once
  const auto answers = c.read(50);
  ASSERT_EQ(answers.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(answers[static_cast<size_t>(i)].status, 200);
    EXPECT_EQ(answers[static_cast<size_t>(i)].body, "body-" + std::to_string(i));
  }
  EXPECT_NE(answers[0].head.find("Content-Type: text/plain"), std::string::npos) << answers[0].head;
  EXPECT_FALSE(c.closed_within(100ms));  // kept alive
}

TEST_F(HttpEventLoopTest, ARequestArrivingByteByByteIsServed) {
  start();
  RawClient c(port());
  const std::string req = post("/echo", "{\"slow\":true}");
  for (char ch : req) {
    c.send(std::string(1, ch));
    std::this_thread::sleep_for(1ms);
  }
  const auto answers = c.read(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].body, "{\"slow\":true}");
}

TEST_F(HttpEventLoopTest, AChunkedBodyIsDecodedForTheHandler) {
  start();
  RawClient c(port());
  c.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  std::this_thread::sleep_for(20ms);
  c.send("2\r\nde\r\n0\r\n\r\n");
  const auto answers = c.read(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].body, "abcde");
}

TEST_F(HttpEventLoopTest, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  start();
  RawClient c(port());
  c.send("POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(c.read_until("HTTP/1.1 100 Continue\r\n\r\n"));
  c.send("data");
  const auto answers = c.read(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 200);
  EXPECT_EQ(answers[0].body, "data");
}

TEST_F(HttpEventLoopTest, GarbageIsAnswered400AndTheConnectionClosed) {
  start();
  RawClient c(port());
  c.send(std::string("\x16\x03\x01\x00\xa5\x01\x00\x00", 8));  // a TLS ClientHello's first bytes
  const auto answers = c.read(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 400);
  EXPECT_NE(answers[0].body.find("not an HTTP request"), std::string::npos) << answers[0].body;
  EXPECT_NE(answers[0].head.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(c.closed_within(3000ms));
}

TEST_F(HttpEventLoopTest, AnOversizedBodyIs413AndTheClientReadsItWhileStillSending) {
  HttpServerOptions o;
  o.max_body_bytes = 1000;
  start(o);
  RawClient c(port());
  // The head announces too much, and part of the body is already on its way: the server's close
  // must not reset the connection before the client reads the answer.
  c.send("POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + std::string(3000, 'x'));
  const auto answers = c.read(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 413);
  c.send(std::string(2000, 'x'));  // the rest, drained and dropped
  EXPECT_TRUE(c.closed_within(3000ms));
  EXPECT_EQ(served_, 0);
}

TEST_F(HttpEventLoopTest, AMalformedQueryEscapeIs400AndTheConnectionStaysUsable) {
  start();
  RawClient c(port());
  c.send("POST /echo?x=%zz HTTP/1.1\r\nContent-Length: 0\r\n\r\n" + post("/echo", "after"));
  const auto answers = c.read(2);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 400);
  EXPECT_EQ(answers[1].body, "after");
}

TEST_F(HttpEventLoopTest, ConnectionCloseAndHttp10AreHonoured) {
  start();
  {
    RawClient c(port());
    c.send(post("/echo", "a", "Connection: close\r\n") + post("/echo", "never"));
    const auto answers = c.read(2);
    ASSERT_EQ(answers.size(), 1u);  // the second request came after "close"
    EXPECT_NE(answers[0].head.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(c.closed_within(3000ms));
  }
  {
    RawClient c(port());
    c.send("POST /echo HTTP/1.0\r\nContent-Length: 1\r\n\r\nb");
    ASSERT_EQ(c.read(1).size(), 1u);
    EXPECT_TRUE(c.closed_within(3000ms));
  }
  {
    RawClient c(port());
    c.send("POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nc");
    const auto answers = c.read(1);
    ASSERT_EQ(answers.size(), 1u);
    EXPECT_NE(answers[0].head.find("Connection: keep-alive"), std::string::npos) << answers[0].head;
    EXPECT_FALSE(c.closed_within(100ms));
  }
}

TEST_F(HttpEventLoopTest, NoContentHasNoBody) {
  start();
  RawClient c(port());
  c.send("DELETE /nothing HTTP/1.1\r\n\r\n" + post("/echo", "next"));
  const auto answers = c.read(2);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 204);
  EXPECT_EQ(answers[0].body, "");
  EXPECT_EQ(answers[0].head.find("Content-Length"), std::string::npos);
  EXPECT_EQ(answers[1].body, "next");
}

TEST_F(HttpEventLoopTest, ARequestNotWholeInTimeGets408) {
  HttpServerOptions o;
  o.read_timeout = 300ms;
  start(o);
  RawClient c(port());
  c.send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  const auto started = Clock::now();
  const auto answers = c.read(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 408);
  EXPECT_GE(Clock::now() - started, 250ms);
  EXPECT_TRUE(c.closed_within(3000ms));
}

TEST_F(HttpEventLoopTest, AnIdleConnectionIsClosedAfterTheKeepAliveTimeout) {
  start();
  RawClient c(port());
  c.send(post("/echo", "once"));
  ASSERT_EQ(c.read(1).size(), 1u);
  EXPECT_FALSE(c.closed_within(1500ms));
  EXPECT_TRUE(c.closed_within(1500ms));  // 2 s after the last activity (+ one sweep)
}

TEST_F(HttpEventLoopTest, AClientThatShutsItsSideStillGetsEveryAnswer) {
  start();
  RawClient c(port());
  c.send(post("/echo", "1") + post("/echo", "2") + post("/echo", "3"));
  c.shut_write();
  const auto answers = c.read(3);
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[2].body, "3");
  EXPECT_TRUE(c.closed_within(3000ms));
}

TEST_F(HttpEventLoopTest, ManyConnectionsAreServedAtOnce) {
  start();
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 300; ++i) {
    clients.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(clients.back()->connected());
    clients.back()->send(post("/echo", std::to_string(i)));
  }
  for (int i = 0; i < 300; ++i) {
    const auto answers = clients[static_cast<size_t>(i)]->read(1);
    ASSERT_EQ(answers.size(), 1u) << i;
    EXPECT_EQ(answers[0].body, std::to_string(i));
  }
}

TEST_F(HttpEventLoopTest, AClientThatDoesNotReadHoldsBackOnlyItsOwnConnection) {
  start();
  RawClient hog(port());
  std::string batch;
  for (int i = 0; i < 2000; ++i) batch += "GET /big HTTP/1.1\r\n\r\n";  // ~8 MiB of answers
  hog.send(batch);
  std::this_thread::sleep_for(200ms);  // the hog's answers pile up; it reads none yet
  RawClient other(port());
  other.send(post("/echo", "still served"));
  const auto others = other.read(1);
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].body, "still served");
  const auto answers = hog.read(2000, 10000ms);
  ASSERT_EQ(answers.size(), 2000u);  // served as it reads, none lost
  EXPECT_EQ(answers.back().body.size(), 4096u);
}

TEST_F(HttpEventLoopTest, StopClosesOpenConnections) {
  start();
  RawClient c(port());
  c.send(post("/echo", "x"));
  ASSERT_EQ(c.read(1).size(), 1u);
  server_->stop();
  EXPECT_TRUE(c.closed_within(1000ms));
  server_->stop();  // idempotent
}

// Issue 24: a non-UTF-8 byte in the path went into the 404's JSON body and nlohmann's dump() threw
// on the loop thread (std::terminate).
TEST_F(HttpEventLoopTest, AnyByteInThePathIsA404NeverACrash) {
  start();
  for (const std::string path : {"/\xff", "/\xc3\x28", "/%ff%fe", "/small/\x80\x81", "/%00", "/\xed\xa0\x80"}) {
    RawClient c(port());
    c.send("GET " + path + " HTTP/1.1\r\n\r\n");
    const auto answers = c.read(1);
    ASSERT_EQ(answers.size(), 1u) << path;
    EXPECT_TRUE(answers[0].status == 404 || answers[0].status == 400) << path << ": " << answers[0].status;
  }
  RawClient after(port());
  after.send("GET /small HTTP/1.1\r\n\r\n");
  const auto answers = after.read(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 200);
}

TEST_F(HttpEventLoopTest, AThrowingHandlerIsA500WithAGenericBody) {
  start();
  RawClient c(port());
  c.send("GET /throw HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n");
  const auto answers = c.read(2);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 500);
  EXPECT_EQ(answers[0].body.find("secret detail"), std::string::npos) << answers[0].body;
  EXPECT_EQ(answers[1].status, 200);
}

// Issue 24: 200 clients pipelining requests without ever reading the answers kept the loop busy
// serving them for ~17 s; another client must be answered within a fraction of a second.
TEST_F(HttpEventLoopTest, PipeliningClientsThatNeverReadDoNotStallTheLoop) {
  start();
  std::string batch;
  for (int i = 0; i < 20000; ++i) batch += "GET /small HTTP/1.1\r\n\r\n";
  std::vector<std::unique_ptr<RawClient>> hogs;
  for (int i = 0; i < 200; ++i) {
    hogs.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(hogs.back()->connected());
    (void)hogs.back()->send_nowait(batch);
  }
  std::this_thread::sleep_for(100ms);
  RawClient probe(port());
  ASSERT_TRUE(probe.connected());
  const auto sent = Clock::now();
  probe.send("GET /small HTTP/1.1\r\n\r\n");
  const auto answers = probe.read(1, 3000ms);
  const auto took = Clock::now() - sent;
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_LT(took, 500ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST_F(HttpEventLoopTest, ConnectionsBeyondTheCapAre503AndClosed) {
  HttpServerOptions o;
  o.max_connections = 4;
  start(o);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<RawClient>(port()));
    idle.back()->send("GET /small HTTP/1.1\r\n\r\n");
    ASSERT_EQ(idle.back()->read(1).size(), 1u);
  }
  RawClient extra(port());
  ASSERT_TRUE(extra.connected());
  extra.send("GET /small HTTP/1.1\r\n\r\n");
  const auto refused = extra.read(1, 2000ms);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].status, 503);
  EXPECT_TRUE(extra.closed_within(2000ms));
  idle.pop_back();  // one closes: a new client is served
  std::this_thread::sleep_for(50ms);
  RawClient next(port());
  next.send("GET /small HTTP/1.1\r\n\r\n");
  const auto served = next.read(1);
  ASSERT_EQ(served.size(), 1u);
  EXPECT_EQ(served[0].status, 200);
}

}  // namespace
}  // namespace kstreams::runtime::http
