// HttpClient / HttpServer (both engines) on the loopback interface: round trips, routing, errors and
// timeouts. The event loop's own wire behaviour (pipelining, refusals, ...) is in http_event_loop_test.cc.
#include "kstreams/runtime/http.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kstreams::runtime::http {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string base(const HttpServer& server) { return "http://127.0.0.1:" + std::to_string(server.port()); }

std::unique_ptr<HttpClient> client_for(const HttpServer& server, HttpClientOptions options = {}) {
  auto client = HttpClient::create(base(server), options);
  EXPECT_TRUE(client.ok()) << client.status();
  return std::move(*client);
}

HttpResponse echo(const HttpRequest& req) {
  json params = json::object();
  for (const auto& [k, v] : req.params) params[k] = v;
  json query = json::object();
  for (const auto& [k, v] : req.query) query[k] = v;
  auto key = req.headers.find("idempotency-key");
  HttpResponse r;
  r.body =
      json{{"method", req.method}, {"path", req.path}, {"params", params},
           {"query", query},       {"body", req.body}, {"idempotency_key", key == req.headers.end() ? "" : key->second}}
          .dump();
  r.headers["X-Echo"] = "yes";
  return r;
}

// Every server behaviour holds for both engines.
class HttpServerTest : public ::testing::TestWithParam<HttpServerEngine> {
 protected:
  static HttpServerOptions options(int worker_threads = 4) {
    HttpServerOptions o;
    o.worker_threads = worker_threads;
    o.engine = GetParam();
    return o;
  }
};

INSTANTIATE_TEST_SUITE_P(Engines, HttpServerTest,
                         ::testing::Values(HttpServerEngine::kThreadPool, HttpServerEngine::kEventLoop),
                         [](const ::testing::TestParamInfo<HttpServerEngine>& info) {
                           return info.param == HttpServerEngine::kThreadPool ? "ThreadPool" : "EventLoop";
                         });

TEST_P(HttpServerTest, PostJsonRoundTripCarriesBodyHeadersAndPathParams) {
  HttpServer server(options());
  ASSERT_TRUE(server.handle("POST", "/hooks/{name}", echo).ok());
  ASSERT_TRUE(server.start().ok());
  ASSERT_GT(server.port(), 0);
  auto client = client_for(server);

  auto res = client->post_json("/hooks/orders", R"({"a":1})", {{"Idempotency-Key", "o-1:CONFIRMED"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->headers["x-echo"], "yes");  // case-insensitive header lookup
  json body = json::parse(res->body);
  EXPECT_EQ(body["method"], "POST");
  EXPECT_EQ(body["path"], "/hooks/orders");
  EXPECT_EQ(body["params"]["name"], "orders");
  EXPECT_EQ(body["body"], R"({"a":1})");
  EXPECT_EQ(body["idempotency_key"], "o-1:CONFIRMED");

  // The same client (keep-alive connection) serves many requests in a row.
  for (int i = 0; i < 20; ++i) {
    auto again = client->post_json("/hooks/n" + std::to_string(i), "{}");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(json::parse(again->body)["params"]["name"], "n" + std::to_string(i));
  }
}

TEST_P(HttpServerTest, ClientReconnectsAfterTheServerClosedAnIdleKeepAliveConnection) {
  HttpServer server(options());
  ASSERT_TRUE(server.handle("GET", "/ping", echo).ok());
  ASSERT_TRUE(server.start().ok());
  auto client = client_for(server);
  ASSERT_TRUE(client->get("/ping").ok());
  std::this_thread::sleep_for(2300ms);  // past the server's 2 s keep-alive timeout
  auto again = client->get("/ping");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 200);
}

TEST_P(HttpServerTest, GetDecodesQueryParameters) {
  HttpServer server(options());
  ASSERT_TRUE(server.handle("GET", "/v1/analytics/revenue", echo).ok());
  ASSERT_TRUE(server.start().ok());
  auto client = client_for(server);
  auto res = client->get("/v1/analytics/revenue?from=10&to=20&name=a%20b");
  ASSERT_TRUE(res.ok()) << res.status();
  json body = json::parse(res->body);
  EXPECT_EQ(body["query"]["from"], "10");
  EXPECT_EQ(body["query"]["to"], "20");
  EXPECT_EQ(body["query"]["name"], "a b");
}

TEST_P(HttpServerTest, PathParametersArePercentDecodedPerSegment) {
  HttpServer server(options());
  ASSERT_TRUE(server.handle("GET", "/v1/stores/{store}/keys/{key}", echo).ok());
  ASSERT_TRUE(server.start().ok());
  auto client = client_for(server);
  const std::string key = "sku/7 é:x%";
  auto res = client->get("/v1/stores/inventory/keys/" + url_encode(key));
  ASSERT_TRUE(res.ok()) << res.status();
  ASSERT_EQ(res->status, 200) << res->body;
  json body = json::parse(res->body);
  EXPECT_EQ(body["params"]["store"], "inventory");
  EXPECT_EQ(body["params"]["key"], key);
  EXPECT_EQ(body["path"], "/v1/stores/inventory/keys/" + url_encode(key));

  auto bad = client->get("/v1/stores/inventory/keys/%zz");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->status, 400);
}

TEST_P(HttpServerTest, UnknownRouteIs404AndWrongMethodIs405WithJsonBodies) {
  HttpServer server(options());
  ASSERT_TRUE(server.handle("GET", "/stats", echo).ok());
  ASSERT_TRUE(server.start().ok());
  auto client = client_for(server);

  auto missing = client->get("/nope");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"], "not_found");

  auto too_deep = client->get("/stats/extra");
  ASSERT_TRUE(too_deep.ok());
  EXPECT_EQ(too_deep->status, 404);

  auto wrong_method = client->post_json("/stats", "{}");
  ASSERT_TRUE(wrong_method.ok()) << wrong_method.status();
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(json::parse(wrong_method->body)["error"], "method_not_allowed");
}

TEST_P(HttpServerTest, HandlerExceptionBecomes500WithAGenericMessage) {
  HttpServer server(options());
  ASSERT_TRUE(
      server.handle("GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); })
          .ok());
  ASSERT_TRUE(server.start().ok());
  auto res = client_for(server)->get("/boom");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(json::parse(res->body)["message"], "internal error");  // the exception text is only logged
}

TEST_P(HttpServerTest, ReadTimeoutAgainstASleepingServerIsDeadlineExceeded) {
  HttpServer server(options());
  ASSERT_TRUE(server
                  .handle("POST", "/slow",
                          [](const HttpRequest&) {
                            std::this_thread::sleep_for(1500ms);
                            return HttpResponse{};
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  auto client = client_for(server, HttpClientOptions{1000ms, 300ms});
  const auto started = std::chrono::steady_clock::now();
  auto res = client->post_json("/slow", "{}");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), absl::StatusCode::kDeadlineExceeded) << res.status();
  EXPECT_LT(elapsed, 1400ms);
  EXPECT_GE(elapsed, 250ms);
}

TEST_P(HttpServerTest, ConnectionRefusedIsUnavailable) {
  int port = 0;
  {
    HttpServer server(options());
    ASSERT_TRUE(server.start().ok());
    port = server.port();
  }  // stopped: nothing listens on the port any more
  auto client = HttpClient::create("http://127.0.0.1:" + std::to_string(port), {500ms, 500ms});
  ASSERT_TRUE(client.ok());
  auto res = (*client)->post_json("/x", "{}");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), absl::StatusCode::kUnavailable) << res.status();
}

TEST_P(HttpServerTest, BaseUrlPrefixIsPrependedAndEmptyPathPostsToIt) {
  HttpServer server(options());
  ASSERT_TRUE(server.handle("POST", "/notifications", echo).ok());
  ASSERT_TRUE(server.handle("POST", "/notifications/{id}", echo).ok());
  ASSERT_TRUE(server.start().ok());
  auto client = HttpClient::create(base(server) + "/notifications/");
  ASSERT_TRUE(client.ok()) << client.status();
  auto res = (*client)->post_json("", "{}");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(json::parse(res->body)["path"], "/notifications");
  auto sub = (*client)->post_json("abc", "{}");
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(json::parse(sub->body)["params"]["id"], "abc");
}

TEST(HttpTest, MalformedBaseUrlIsInvalidArgument) {
  for (const char* url : {"", "http://", "ftp://x:1", "http://host:99999", "http://ho st:1"}) {
    auto client = HttpClient::create(url);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
  EXPECT_TRUE(HttpClient::create("127.0.0.1:8089").ok());
}

TEST_P(HttpServerTest, RoutesAreValidatedAndFrozenAtStart) {
  HttpServer server(options());
  EXPECT_EQ(server.handle("GET", "no-slash", echo).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.handle("GET", "/a/{}", echo).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.handle("GET", "/a/x{id}", echo).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.handle("BREW", "/coffee", echo).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(server.start().ok());
  EXPECT_EQ(server.handle("GET", "/late", echo).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server.start().code(), absl::StatusCode::kFailedPrecondition);
  server.stop();
  server.stop();  // idempotent
}

TEST_P(HttpServerTest, ConcurrentClientsAreServedByThePool) {
  HttpServer server(options(4));
  std::atomic<int> calls{0};
  ASSERT_TRUE(server
                  .handle("POST", "/count",
                          [&calls](const HttpRequest&) {
                            calls++;
                            return HttpResponse{};
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  auto shared = client_for(server);  // one client used by every thread: requests are serialized
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto res = shared->post_json("/count", "{}");
        if (!res.ok() || res->status != 200) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(calls.load(), 100);
}

TEST_P(HttpServerTest, BindingAPortInUseIsUnavailable) {
  HttpServer first(options());
  ASSERT_TRUE(first.start().ok());
  HttpServerOptions taken = options(1);
  taken.port = first.port();
  HttpServer second(taken);
  EXPECT_EQ(second.start().code(), absl::StatusCode::kUnavailable);
}

// Found by fuzz_http_url: a 404 for a path with bytes that are not UTF-8 threw from the JSON
// writer (std::terminate on the event loop).
TEST(HttpTest, JsonErrorWithBytesThatAreNotUtf8IsStillJson) {
  HttpResponse r;
  ASSERT_NO_THROW(r = json_error(404, "not_found", "no route for /\xff\xfe"));
  EXPECT_EQ(r.status, 404);
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << r.body;
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_EQ(body["message"].get<std::string>().rfind("no route for /", 0), 0u);
}

TEST(HttpTest, UrlEncodeDecodeRoundTrip) {
  const std::string s = "a b/c?d=e&f%g~h_i.j-k";
  std::string decoded;
  ASSERT_TRUE(url_decode(url_encode(s), &decoded));
  EXPECT_EQ(decoded, s);
  EXPECT_EQ(url_encode("a b/"), "a%20b%2F");
  EXPECT_FALSE(url_decode("%4", &decoded));
  EXPECT_FALSE(url_decode("%g0", &decoded));
}

// ---- HttpClient (libcurl) ------------------------------------------------------------------------

TEST_P(HttpServerTest, ClientRefusesAHeaderThatWouldSplitIntoLinesAndSendsNothing) {
  std::atomic<int> calls{0};
  HttpServer server(options());
  ASSERT_TRUE(server
                  .handle("POST", "/hook",
                          [&calls](const HttpRequest& r) {
                            ++calls;
                            return echo(r);
                          })
                  .ok());
  ASSERT_TRUE(server.start().ok());
  auto client = client_for(server);
  for (const std::string& value :
       {std::string("o-1\r\nX-Injected: yes"), std::string("a\nb"), std::string("a\0b", 3)}) {
    auto res = client->post_json("/hook", "{}", {{"Idempotency-Key", value}});
    EXPECT_EQ(res.status().code(), absl::StatusCode::kInvalidArgument) << res.status();
  }
  auto bad_name = client->get("/hook", {{"Bad Name", "x"}});
  EXPECT_EQ(bad_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls.load(), 0);
  // The client stays usable.
  auto ok = client->post_json("/hook", "{}", {{"Idempotency-Key", "o-1:CONFIRMED"}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(HttpServerTest, ClientFailsAResponseOverItsCapAndKeepsWorking) {
  HttpServer server(options());
  ASSERT_TRUE(server
                  .handle("GET", "/big",
                          [](const HttpRequest&) {
                            HttpResponse r;
                            r.body.assign(300 * 1024, 'x');
                            return r;
                          })
                  .ok());
  ASSERT_TRUE(server.handle("GET", "/ping", echo).ok());
  ASSERT_TRUE(server.start().ok());
  HttpClientOptions o;
  o.max_response_bytes = 256 * 1024;
  auto client = client_for(server, o);
  auto big = client->get("/big");
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted) << big.status();
  auto ping = client->get("/ping");
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ(ping->status, 200);
}

TEST_P(HttpServerTest, ClientPercentEncodesBytesOutsideVisibleAsciiAndSendsOtherMethods) {
  HttpServer server(options());
  ASSERT_TRUE(server.handle("GET", "/keys/{key}", echo).ok());
  ASSERT_TRUE(server.handle("PUT", "/keys/{key}", echo).ok());
  ASSERT_TRUE(server.handle("DELETE", "/keys/{key}", echo).ok());
  ASSERT_TRUE(server.start().ok());
  auto client = client_for(server);
  auto raw = client->get("/keys/caf\xc3\xa9 au lait");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(json::parse(raw->body)["params"]["key"], "caf\xc3\xa9 au lait");
  auto put = client->request("PUT", "/keys/k", {}, R"({"v":1})", "application/json");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(json::parse(put->body)["method"], "PUT");
  EXPECT_EQ(json::parse(put->body)["body"], R"({"v":1})");
  auto del = client->request("DELETE", "/keys/k");
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(json::parse(del->body)["method"], "DELETE");
  auto head = client->request("HEAD", "/keys/k");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(client->request("TRACE", "/keys/k").status().code(), absl::StatusCode::kInvalidArgument);
  // A 405 names the methods of the path.
  auto post = client->post_json("/keys/k", "{}");
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->headers["Allow"], "GET, HEAD, PUT, DELETE");
}

}  // namespace
}  // namespace kstreams::runtime::http
