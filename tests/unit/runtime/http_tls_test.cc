// HttpServer with TLS (HttpServerOptions::tls) against real clients: curl and openssl s_client with
// certificates made at test time. Keep-alive and large answers over TLS, pipelining, plain HTTP and
// garbage to the TLS port, handshakes that stall or trickle (bounded, and nobody else waits), the
// connection cap, mutual TLS, and start() errors naming the file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kstreams/runtime/http.h"
#include "support/raw_connection.h"
#include "tls_test_util.h"

namespace kstreams::runtime::http {
namespace {

using namespace std::chrono_literals;
using kstreams::testing::RawConnection;
using ::testing::HasSubstr;
using testing_tls::curl;
using testing_tls::make_cert;
using testing_tls::run;
using testing_tls::TestCert;
using Clock = std::chrono::steady_clock;

class HttpTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cert_ = new TestCert(make_cert("server")); }
  static void TearDownTestSuite() {
    delete cert_;
    cert_ = nullptr;
  }

  // Starts a TLS server with /healthz and /big (4 MiB) routes.
  void start(HttpServerOptions options = {}) {
    options.tls.cert_file = cert_->cert;
    options.tls.key_file = cert_->key;
    server_ = std::make_unique<HttpServer>(options);
    ASSERT_TRUE(server_->handle("GET", "/healthz",
                                [](const HttpRequest&) {
                                  return HttpResponse{200, "{\"ok\":1}"};
                                })
                    .ok());
    ASSERT_TRUE(server_
                    ->handle("GET", "/big",
                             [](const HttpRequest&) {
                               HttpResponse r;
                               r.body.assign(4 << 20, 'x');
                               r.content_type = "text/plain";
                               return r;
                             })
                    .ok());
    const absl::Status st = server_->start();
    ASSERT_TRUE(st.ok()) << st;
  }
  [[nodiscard]] std::string https(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  [[nodiscard]] std::string cacert() const { return "--cacert " + cert_->cert + " "; }

  static TestCert* cert_;
  std::unique_ptr<HttpServer> server_;
};
TestCert* HttpTlsTest::cert_ = nullptr;

TEST_F(HttpTlsTest, CurlVerifiesTheCertificateAndGetsAnswersOverOneKeptConnection) {
  start();
  EXPECT_EQ(curl(cacert() + https("/healthz")), "{\"ok\":1} 200");
  // 4 MiB twice on one connection: the answer is written in many partial TLS writes (256 KiB send
  // buffer) and the connection is reused for the second request.
  const std::string out = testing_tls::run("curl -s --max-time 10 " + cacert() + "-o /dev/null -o /dev/null " +
                                           "-w '%{http_code} %{size_download} %{num_connects}\\n' " + https("/big") +
                                           " " + https("/big") + " 2>/dev/null");
  EXPECT_EQ(out, "200 4194304 1\n200 4194304 0\n");
  // Without the CA, curl refuses the self-signed certificate: no answer.
  EXPECT_EQ(curl(https("/healthz")), " 000");
}

TEST_F(HttpTlsTest, PipelinedRequestsAreAnsweredInOrderOverTls) {
  start();
  const std::string requests =
      "GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /nope HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
      "GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n";
  const std::string out = run("printf '" + requests + "' | timeout 5 openssl s_client -quiet -connect 127.0.0.1:" +
                              std::to_string(server_->port()) + " -CAfile " + cert_->cert + " 2>/dev/null");
  const size_t first = out.find("HTTP/1.1 200");
  const size_t second = out.find("HTTP/1.1 404");
  const size_t third = out.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  ASSERT_NE(third, std::string::npos) << out;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

TEST_F(HttpTlsTest, PlainHttpToTheTlsPortIsA400AndGarbageIsClosed) {
  start();
  const std::string plain = curl("http://127.0.0.1:" + std::to_string(server_->port()) + "/healthz");
  EXPECT_THAT(plain, HasSubstr("use https"));
  EXPECT_THAT(plain, HasSubstr(" 400"));
  RawConnection garbage(server_->port());
  ASSERT_TRUE(garbage.connected());
  garbage.send(std::string("\x00\xff\x01\x02 not tls", 12));
  std::string received;
  EXPECT_TRUE(garbage.closed_within(1s, &received));
  EXPECT_EQ(received, "");
  // A record header that claims to be a handshake, then junk: the handshake fails and closes.
  RawConnection junk(server_->port());
  junk.send(std::string("\x16\x03\x01\x00\x05hello", 10));
  EXPECT_TRUE(junk.closed_within(1s));
  EXPECT_EQ(curl(cacert() + https("/healthz")), "{\"ok\":1} 200");
}

TEST_F(HttpTlsTest, StalledAndTricklingHandshakesAreBoundedAndDelayNobody) {
  HttpServerOptions o;
  o.read_timeout = 1500ms;
  o.idle_timeout = 600ms;
  start(o);
  std::vector<std::unique_ptr<RawConnection>> silent;
  std::vector<std::unique_ptr<RawConnection>> partial;
  for (int i = 0; i < 20; ++i) {
    silent.push_back(std::make_unique<RawConnection>(server_->port()));
    partial.push_back(std::make_unique<RawConnection>(server_->port()));
    partial.back()->send(std::string("\x16\x03\x01\x02\x00", 5));  // a 512-byte record announced, none sent
  }
  // One keeps sending a byte every 200 ms: never silent, never finished.
  RawConnection trickle(server_->port());
  trickle.send(std::string("\x16\x03\x01\x02\x00", 5));
  const auto opened = Clock::now();
  std::atomic<bool> done{false};
  std::thread trickler([&] {
    while (!done) {
      trickle.send(std::string(1, '\x01'));
      std::this_thread::sleep_for(200ms);
    }
  });
  // Meanwhile other clients are served at once (curl's own clock: connect + handshake + answer).
  for (int i = 0; i < 3; ++i) {
    const std::string out = run("curl -s --max-time 5 " + cacert() + "-o /dev/null -w '%{http_code} %{time_total}' " +
                                https("/healthz") + " 2>/dev/null");
    ASSERT_EQ(out.substr(0, 4), "200 ") << out;
    EXPECT_LT(std::stod(out.substr(4)), 0.2) << out;
  }
  // Silent and stalled handshakes close after the idle timeout; the trickling one after read_timeout.
  for (auto& c : silent) EXPECT_TRUE(c->closed_within(1500ms));
  for (auto& c : partial) EXPECT_TRUE(c->closed_within(1500ms));
  EXPECT_TRUE(trickle.closed_within(2500ms));
  const auto trickle_lived = Clock::now() - opened;
  done = true;
  trickler.join();
  EXPECT_GE(trickle_lived, 1400ms);
  EXPECT_LT(trickle_lived, 2500ms);
  EXPECT_EQ(curl(cacert() + https("/healthz")), "{\"ok\":1} 200");
}

TEST_F(HttpTlsTest, ConnectionsBeyondTheCapAreClosedAndServiceResumes) {
  HttpServerOptions o;
  o.max_connections = 2;
  start(o);
  {
    RawConnection a(server_->port());
    RawConnection b(server_->port());
    ASSERT_TRUE(a.connected() && b.connected());
    std::this_thread::sleep_for(100ms);
    RawConnection over(server_->port());
    EXPECT_TRUE(over.closed_within(1s));
    EXPECT_EQ(curl(cacert() + https("/healthz")), " 000");
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(curl(cacert() + https("/healthz")), "{\"ok\":1} 200");
}

TEST_F(HttpTlsTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  HttpServerOptions o;
  o.tls.ca_file = cert_->cert;  // the self-signed certificate is its own CA
  o.tls.require_client_cert = true;
  start(o);
  const TestCert stranger = make_cert("stranger");
  EXPECT_EQ(curl(cacert() + "--cert " + cert_->cert + " --key " + cert_->key + " " + https("/healthz")),
            "{\"ok\":1} 200");
  EXPECT_EQ(curl(cacert() + https("/healthz")), " 000");
  EXPECT_EQ(curl(cacert() + "--cert " + stranger.cert + " --key " + stranger.key + " " + https("/healthz")), " 000");
}

TEST(HttpTlsStartTest, BadFilesAreAStartErrorNamingTheFile) {
  const TestCert a = make_cert("a");
  const TestCert b = make_cert("b");
  const std::string garbage = testing_tls::temp_dir("garbage") + "/cert.pem";
  run("echo 'not a certificate' > " + garbage);
  auto start_with = [](HttpTlsOptions tls) {
    HttpServerOptions o;
    o.tls = std::move(tls);
    HttpServer server(o);
    return server.start();
  };
  absl::Status st = start_with({"/nonexistent/cert.pem", a.key, "", false});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("certificate file '/nonexistent/cert.pem'"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("No such file"));
  st = start_with({garbage, a.key, "", false});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr(garbage));
  st = start_with({a.cert, "/nonexistent/key.pem", "", false});
  EXPECT_THAT(std::string(st.message()), HasSubstr("private key file '/nonexistent/key.pem'"));
  st = start_with({a.cert, b.key, "", false});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("'" + b.key + "' does not match"));
  st = start_with({a.cert, a.key, "", true});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  st = start_with({a.cert, a.key, garbage, true});
  EXPECT_THAT(std::string(st.message()), HasSubstr(garbage));
  EXPECT_TRUE(start_with({a.cert, a.key, b.cert, true}).ok());
}

}  // namespace
}  // namespace kstreams::runtime::http
