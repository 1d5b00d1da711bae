#include "query_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/raw_connection.h"
#include "tls_test_util.h"

namespace kstreams::runtime {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using kstreams::testing::RawConnection;

// A backend whose stores, ownership and state the test sets before sending requests.
class FakeBackend final : public QueryBackend {
 public:
  std::string self_server;
  std::map<std::string, std::string> owners;  // key -> application.server; keys not listed are local
  std::map<std::string, std::map<std::string, std::string>> kv{{"counts", {}}};
  std::map<std::string, std::vector<QueryEntry>> windows;  // key -> windows of store "revenue"
  std::vector<InstanceInfo> others;
  std::string state_value = "RUNNING";
  bool restoring = false;
  bool throw_on_get = false;
  std::atomic<int> get_calls{0};
  std::atomic<int> range_calls{0};

  std::vector<StoreInfo> stores() override {
    return {{"counts", "key-value", "words", 4}, {"revenue", "window", "orders", 4}};
  }
  std::vector<InstanceInfo> instances() override {
    std::vector<InstanceInfo> out{{self_server, true, {"0_0"}, {"words-0"}, 42}};
    out.insert(out.end(), others.begin(), others.end());
    return out;
  }
  absl::StatusOr<KeyOwner> owner(const std::string& store, const std::string& key) override {
    if (store != "counts" && store != "revenue") return absl::NotFoundError("unknown store " + store);
    auto it = owners.find(key);
    if (it == owners.end()) return KeyOwner{self_server, true, 0};
    return KeyOwner{it->second, it->second == self_server, 1};
  }
  absl::StatusOr<QueryEntry> get(const std::string& store, const std::string& key, bool stale_ok) override {
    ++get_calls;
    if (throw_on_get) throw std::runtime_error("backend exploded");
    if (!kv.count(store)) return absl::NotFoundError("unknown store " + store);
    if (restoring && !stale_ok) return absl::UnavailableError("task 0_0 is restoring");
    if (key == "not-a-number") return absl::InvalidArgumentError("bad key for a long store");
    auto it = kv[store].find(key);
    if (it == kv[store].end()) return absl::NotFoundError("no key " + key);
    return QueryEntry{key, std::nullopt, std::nullopt, it->second};
  }
  absl::StatusOr<std::vector<QueryEntry>> range(const std::string& store, const std::string& from,
                                                const std::string& to, size_t limit, bool stale_ok) override {
    ++range_calls;
    if (restoring && !stale_ok) return absl::UnavailableError("restoring");
    std::vector<QueryEntry> out;
    for (const auto& [k, v] : kv.at(store)) {
      if (k < from || (!to.empty() && k > to)) continue;
      if (out.size() == limit) break;
      out.push_back({k, std::nullopt, std::nullopt, v});
    }
    return out;
  }
  absl::StatusOr<std::vector<QueryEntry>> fetch_windows(const std::string& store, const std::string& key,
                                                        int64_t from_ms, int64_t to_ms, bool) override {
    if (store != "revenue") return absl::NotFoundError("not a window store");
    std::vector<QueryEntry> out;
    for (const QueryEntry& e : windows[key]) {
      if (*e.window_start >= from_ms && *e.window_start <= to_ms) out.push_back(e);
    }
    return out;
  }
  std::string metrics_text() override { return "# TYPE kstreams_up gauge\nkstreams_up 1\n"; }
  std::string state() override { return state_value; }
};

struct Instance {
  explicit Instance(QueryServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    options.forward_timeout = 2s;
    server = std::make_unique<QueryServer>(backend, options);
  }
  void start() {
    ASSERT_TRUE(server->start().ok());
    backend.self_server = server->advertised_server();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server->port()); }

  FakeBackend backend;
  std::unique_ptr<QueryServer> server;
};

HttpResponse get(const Instance& at, const std::string& target, const std::map<std::string, std::string>& headers = {},
                 const std::string& method = "GET") {
  auto r = http_request(at.address(), method, target, headers, 5s);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : HttpResponse{};
}

json body_of(const HttpResponse& r) { return json::parse(r.body, nullptr, false); }

// The response is the JSON error body with `status` and `code`.
void expect_error(const HttpResponse& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  const json j = body_of(r);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("error", ""), code) << r.body;
  EXPECT_FALSE(j.value("message", "").empty()) << r.body;
  EXPECT_THAT(r.content_type, HasSubstr("application/json"));
}

// Sends raw bytes on a fresh TCP connection and returns whatever the server answers.
std::string raw_exchange(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    (void)::send(fd, bytes.data(), bytes.size(), 0);
    // No half-close: httplib does not answer a peer that already shut its side. The server may keep
    // the connection open (keep-alive), so read until it goes quiet.
    timeval tv{0, 500000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class QueryServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.backend.kv["counts"] = {{"apple", "3"}, {"a/b:c", "{\"n\":1}"}, {"cherry", "\"red\""}, {"raw", "not json"}};
    a_.backend.windows["sku-1"] = {{"sku-1", 0, 60000, "{\"revenue_cents\":100}"},
                                   {"sku-1", 60000, 120000, "{\"revenue_cents\":250}"}};
    a_.start();
  }
  Instance a_;
};

TEST_F(QueryServerTest, BindingAPortInUseIsUnavailable) {
  FakeBackend backend;
  QueryServerOptions options;
  options.host = "127.0.0.1";
  options.port = a_.server->port();
  QueryServer second(backend, options);
  EXPECT_EQ(second.start().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(get(a_, "/healthz").status, 200);
}

TEST_F(QueryServerTest, StopIsIdempotentAndRefusesLaterConnections) {
  const std::string address = a_.address();
  a_.server->stop();
  a_.server->stop();
  EXPECT_EQ(http_request(address, "GET", "/healthz", {}, 1s).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(QueryServerTest, HealthzIsOkWhileRunningOrRebalancing) {
  auto r = get(a_, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r), json({{"state", "RUNNING"}}));
  a_.backend.state_value = "REBALANCING";
  EXPECT_EQ(get(a_, "/healthz").status, 200);
  for (const char* state : {"CREATED", "PENDING_SHUTDOWN", "ERROR", "NOT_RUNNING"}) {
    a_.backend.state_value = state;
    r = get(a_, "/healthz");
    EXPECT_EQ(r.status, 503) << state;
    EXPECT_EQ(body_of(r)["state"], state);
  }
}

TEST_F(QueryServerTest, MetricsAreServedAsPrometheusText) {
  auto r = get(a_, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "# TYPE kstreams_up gauge\nkstreams_up 1\n");
}

TEST_F(QueryServerTest, MetadataListsInstancesWithTasksAndPartitions) {
  a_.backend.others = {{"10.0.0.2:8080", false, {"0_1"}, {"words-1"}, 7}};
  const json j = body_of(get(a_, "/v1/metadata"));
  ASSERT_EQ(j["instances"].size(), 2u);
  EXPECT_EQ(j["instances"][0]["application_server"], a_.server->advertised_server());
  EXPECT_EQ(j["instances"][0]["self"], true);
  EXPECT_EQ(j["instances"][0]["tasks"], json({"0_0"}));
  EXPECT_EQ(j["instances"][1]["partitions"], json({"words-1"}));
  EXPECT_EQ(j["instances"][1]["updated_at_ms"], 7);
}

TEST_F(QueryServerTest, StoresListsEveryStoreWithItsType) {
  const json j = body_of(get(a_, "/v1/stores"));
  ASSERT_EQ(j["stores"].size(), 2u);
  EXPECT_EQ(j["stores"][0],
            json({{"name", "counts"}, {"type", "key-value"}, {"source_topic", "words"}, {"partitions", 4}}));
  EXPECT_EQ(j["stores"][1]["type"], "window");
}

TEST_F(QueryServerTest, KeyLookupReturnsTheValueAsJson) {
  auto r = get(a_, "/v1/stores/counts/keys/apple");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r), json({{"key", "apple"}, {"value", 3}}));
  EXPECT_EQ(body_of(get(a_, "/v1/stores/counts/keys/cherry"))["value"], "red");
  // A value that is not JSON comes back as a JSON string rather than breaking the body.
  EXPECT_EQ(body_of(get(a_, "/v1/stores/counts/keys/raw"))["value"], "not json");
}

TEST_F(QueryServerTest, KeySegmentsArePercentDecoded) {
  for (const char* target : {"/v1/stores/counts/keys/a%2Fb%3Ac", "/v1/stores/counts/keys/a%2fb:c"}) {
    auto r = get(a_, target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    EXPECT_EQ(body_of(r), json({{"key", "a/b:c"}, {"value", {{"n", 1}}}})) << target;
  }
  // An unencoded '/' splits the path, so it is a different (unknown) route.
  expect_error(get(a_, "/v1/stores/counts/keys/a/b:c"), 404, "not_found");
}

TEST_F(QueryServerTest, UnknownStoreOrKeyIs404) {
  expect_error(get(a_, "/v1/stores/nope/keys/apple"), 404, "not_found");
  expect_error(get(a_, "/v1/stores/counts/keys/banana"), 404, "not_found");
  expect_error(get(a_, "/v1/stores/nope/range"), 404, "not_found");
  expect_error(get(a_, "/v1/stores/nope/windows/k?from=0&to=1"), 404, "not_found");
}

TEST_F(QueryServerTest, UnknownPathsAre404) {
  // An empty key matches no route (a `{key}` segment is never empty).
  for (const char* target : {"/", "/v2/stores", "/healthz/", "/v1/stores/counts", "/v1/stores/counts/keys",
                             "/v1/stores/counts/keys/", "/v1/stores/counts/keys/apple/extra", "/metrics/x"}) {
    expect_error(get(a_, target), 404, "not_found");
  }
}

TEST_F(QueryServerTest, BadKeysAndEncodingsAre400) {
  expect_error(get(a_, "/v1/stores/counts/keys/%zz"), 400, "bad_request");           // bad escape
  expect_error(get(a_, "/v1/stores/counts/keys/abc%4"), 400, "bad_request");         // truncated escape
  expect_error(get(a_, "/v1/stores/counts/keys/abc%"), 400, "bad_request");          // truncated escape
  expect_error(get(a_, "/v1/stores/counts/range?from=%g1"), 400, "bad_request");     // bad escape in query
  expect_error(get(a_, "/v1/stores/counts/keys/not-a-number"), 400, "bad_request");  // backend kInvalidArgument
  expect_error(get(a_, "/v1/stores/counts/keys/apple?stale=maybe"), 400, "bad_request");
}

TEST_F(QueryServerTest, RangeIsSortedAndBounded) {
  auto r = get(a_, "/v1/stores/counts/range?from=a&to=c");
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = body_of(r);
  EXPECT_EQ(j["store"], "counts");
  ASSERT_EQ(j["entries"].size(), 2u);
  EXPECT_EQ(j["entries"][0], json({{"key", "a/b:c"}, {"value", {{"n", 1}}}}));
  EXPECT_EQ(j["entries"][1], json({{"key", "apple"}, {"value", 3}}));
  EXPECT_EQ(body_of(get(a_, "/v1/stores/counts/range?limit=1"))["entries"].size(), 1u);
  EXPECT_EQ(body_of(get(a_, "/v1/stores/counts/range"))["entries"].size(), 4u);
  EXPECT_EQ(body_of(get(a_, "/v1/stores/counts/range?from=d"))["entries"][0]["key"], "raw");
}

TEST_F(QueryServerTest, RangeRejectsBadParameters) {
  for (const char* target :
       {"/v1/stores/counts/range?limit=0", "/v1/stores/counts/range?limit=-5", "/v1/stores/counts/range?limit=1001",
        "/v1/stores/counts/range?limit=99999999999999999999999", "/v1/stores/counts/range?limit=ten",
        "/v1/stores/counts/range?limit=", "/v1/stores/counts/range?limit=1e3", "/v1/stores/counts/range?from=z&to=a",
        "/v1/stores/revenue/range"}) {
    expect_error(get(a_, target), 400, "bad_request");
  }
  EXPECT_EQ(get(a_, "/v1/stores/counts/range?limit=1000").status, 200);
}

TEST_F(QueryServerTest, WindowsFilterByStartTime) {
  auto r = get(a_, "/v1/stores/revenue/windows/sku-1?from=0&to=59999");
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = body_of(r);
  ASSERT_EQ(j["windows"].size(), 1u);
  EXPECT_EQ(j["windows"][0],
            json({{"key", "sku-1"}, {"window_start", 0}, {"window_end", 60000}, {"value", {{"revenue_cents", 100}}}}));
  EXPECT_EQ(body_of(get(a_, "/v1/stores/revenue/windows/sku-1?from=0&to=60000"))["windows"].size(), 2u);
  EXPECT_EQ(body_of(get(a_, "/v1/stores/revenue/windows/sku-9?from=0&to=1"))["windows"].size(), 0u);
}

TEST_F(QueryServerTest, WindowsRejectBadParameters) {
  for (const char* target :
       {"/v1/stores/revenue/windows/sku-1", "/v1/stores/revenue/windows/sku-1?from=0",
        "/v1/stores/revenue/windows/sku-1?from=x&to=1", "/v1/stores/revenue/windows/sku-1?from=5&to=1",
        "/v1/stores/revenue/windows/sku-1?from=0&to=1.5",
        "/v1/stores/revenue/windows/sku-1?from=0&to=99999999999999999999"}) {
    expect_error(get(a_, target), 400, "bad_request");
  }
  EXPECT_EQ(get(a_, "/v1/stores/revenue/windows/sku-1?from=-100&to=0").status, 200);
  expect_error(get(a_, "/v1/stores/revenue/windows/?from=0&to=1"), 404, "not_found");  // empty key: no route
}

TEST_F(QueryServerTest, RestoringTaskIs503UnlessStaleReadsAreAllowed) {
  a_.backend.restoring = true;
  expect_error(get(a_, "/v1/stores/counts/keys/apple"), 503, "unavailable");
  expect_error(get(a_, "/v1/stores/counts/keys/apple?stale=false"), 503, "unavailable");
  EXPECT_EQ(get(a_, "/v1/stores/counts/keys/apple?stale=true").status, 200);
  expect_error(get(a_, "/v1/stores/counts/range"), 503, "unavailable");
  EXPECT_EQ(get(a_, "/v1/stores/counts/range?stale=true").status, 200);
}

TEST_F(QueryServerTest, OtherMethodsAre405) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    for (const char* target : {"/v1/stores/counts/keys/apple", "/healthz", "/no/such/path"}) {
      const HttpResponse r = get(a_, target, {}, method);
      expect_error(r, 405, "method_not_allowed");
      EXPECT_EQ(r.headers.count("Allow") ? r.headers.at("Allow") : "", "GET, HEAD") << method << " " << target;
    }
  }
}

TEST_F(QueryServerTest, HandlerExceptionsBecome500AndTheServerKeepsServing) {
  a_.backend.throw_on_get = true;
  auto r = get(a_, "/v1/stores/counts/keys/apple");
  expect_error(r, 500, "internal");
  // Details go to the log, not to the client.
  EXPECT_THAT(body_of(r)["message"].get<std::string>(), Not(HasSubstr("backend exploded")));
  EXPECT_EQ(get(a_, "/healthz").status, 200);
}

TEST_F(QueryServerTest, MalformedRawRequestsGetAnErrorAndDoNotKillTheServer) {
  const int port = a_.server->port();
  const std::string garbage = raw_exchange(port, "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_THAT(garbage, HasSubstr("400"));
  const std::string no_slash = raw_exchange(port, "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(no_slash, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(no_slash, HasSubstr("\"error\""));
  (void)raw_exchange(port, std::string("GET /v1/stores/counts/keys/\0\xff HTTP/1.1\r\n\r\n", 40));
  (void)raw_exchange(port, "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(get(a_, "/healthz").status, 200);
}

TEST_F(QueryServerTest, ApplicationRoutesGetPathAndQueryParameters) {
  Instance b;
  b.server->add_get_route("/v1/orders/{id}", [](const QueryRequest& req) {
    QueryResponse r;
    r.body =
        json({{"id", req.path_params.at("id")}, {"verbose", req.query.count("verbose") ? req.query.at("verbose") : ""}})
            .dump();
    return r;
  });
  b.server->add_get_route("/v1/fail", [](const QueryRequest&) -> QueryResponse { throw std::logic_error("oops"); });
  b.start();
  auto r = get(b, "/v1/orders/o%201?verbose=yes+please");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r), json({{"id", "o 1"}, {"verbose", "yes please"}}));
  expect_error(get(b, "/v1/fail"), 500, "internal");
  expect_error(get(b, "/v1/orders"), 404, "not_found");
}

// ---- issue 24: hostile input ---------------------------------------------------------------------

// `GET /v1/orders/%ff%fe` was a 500 carrying nlohmann's exception text (the decoded id is not UTF-8).
TEST_F(QueryServerTest, NonUtf8PathSegmentsAre400Or404NeverA500) {
  Instance b;
  b.server->add_get_route("/v1/orders/{id}", [](const QueryRequest& req) {
    QueryResponse r;
    r.body = json({{"id", req.path_params.at("id")}}).dump();
    return r;
  });
  b.start();
  for (const std::string target : {"/v1/orders/%ff%fe", "/v1/orders/%c3%28", "/v1/stores/counts/keys/%ff",
                                   "/v1/stores/%ff/keys/a", "/%ff", "/v1/stores/counts/windows/%ff?from=0&to=1"}) {
    const HttpResponse r = get(b, target);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << target << ": " << r.status << " " << r.body;
    EXPECT_TRUE(body_of(r).is_object()) << target << ": " << r.body;
    EXPECT_THAT(r.body, Not(HasSubstr("json.exception"))) << target;
  }
  EXPECT_EQ(get(b, "/healthz").status, 200);
}

// 9 connections sending one byte every 2 s held all 8 worker threads: /healthz failed every probe.
TEST(QueryServerLimitsTest, SlowClientsDoNotBlockOthersAndGet408) {
  QueryServerOptions o;
  o.read_timeout = 1500ms;
  Instance a(o);
  a.start();
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<RawConnection>(a.server->port()));
    ASSERT_TRUE(slow.back()->connected());
  }
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  int failed_probes = 0;
  for (size_t byte = 0; byte < 6; ++byte) {
    for (auto& c : slow) (void)c->send(request.substr(byte, 1));
    const auto sent = std::chrono::steady_clock::now();
    auto r = http_request(a.address(), "GET", "/healthz", {}, 1s);
    if (!r.ok() || r->status != 200 || std::chrono::steady_clock::now() - sent > 200ms) ++failed_probes;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(failed_probes, 0);
  // The dribblers are cut off: 408 once their request is not whole within read_timeout.
  const std::string answer = slow.front()->read_for(3000ms);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 408"));
  EXPECT_TRUE(slow.front()->closed());
}

// One chunked POST announcing 1 GB was read whole into memory before being answered.
TEST(QueryServerLimitsTest, AnOversizedChunkedBodyIsRefusedBeforeItArrives) {
  Instance a;
  a.start();
  RawConnection c(a.server->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n" +
                     std::string(64 * 1024, 'x')));
  const std::string answer = c.read_for(2000ms);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 413"));
  const std::string big_length = [&] {
    RawConnection d(a.server->port());
    (void)d.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nxxxx");
    return d.read_for(2000ms);
  }();
  EXPECT_THAT(big_length, HasSubstr("HTTP/1.1 413"));
  EXPECT_EQ(get(a, "/healthz").status, 200);
}

// A stream of header lines was buffered without limit (1 GB RSS, kept after the close).
TEST(QueryServerLimitsTest, EndlessHeaderLinesAreRefusedWith431) {
  Instance a;
  a.start();
  RawConnection c(a.server->port());
  ASSERT_TRUE(c.connected());
  std::string lines = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; i < 20000; ++i) lines += "X-Flood-" + std::to_string(i) + ": aaaaaaaaaaaaaaaa\r\n";
  (void)c.send(lines);
  const std::string answer = c.read_for(2000ms);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 431"));
  EXPECT_EQ(get(a, "/healthz").status, 200);
}

TEST(QueryServerLimitsTest, ConnectionsBeyondTheCapAre503) {
  QueryServerOptions o;
  o.max_connections = 3;
  Instance a(o);
  a.start();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawConnection>(a.server->port()));
    ASSERT_TRUE(held.back()->connected());
  }
  std::this_thread::sleep_for(100ms);
  auto r = http_request(a.address(), "GET", "/healthz", {}, 1s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  held.clear();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(get(a, "/healthz").status, 200);
}

// ---- item 5: private by default, bearer token; checked with curl ----------------------------------

// Runs curl (bounded by --max-time) and returns "<body> <status>".
std::string curl(const std::string& args) {
  return testing_tls::run("curl -s --max-time 5 -o - -w ' %{http_code}' " + args + " 2>/dev/null");
}

TEST(QueryServerAuthTest, V1NeedsTheBearerTokenAndForwardsCarryIt) {
  QueryServerOptions o;
  o.auth_token = "s3cret-token";
  Instance a(o);
  Instance b(o);
  a.start();
  b.start();
  a.backend.kv["counts"] = {{"local", "1"}};
  b.backend.kv["counts"] = {{"remote", "2"}};
  a.backend.owners = {{"remote", b.address()}};
  const std::string base = "http://" + a.address();
  EXPECT_THAT(curl(base + "/v1/stores/counts/keys/local"), HasSubstr(" 401"));
  EXPECT_THAT(curl("-H 'Authorization: Bearer wrong' " + base + "/v1/stores/counts/keys/local"), HasSubstr(" 401"));
  EXPECT_THAT(curl("-H 'Authorization: Bearer s3cret-token' " + base + "/v1/stores/counts/keys/local"),
              HasSubstr(" 200"));
  // Forwarded to B, which checks the token too: the forward carries it.
  EXPECT_THAT(curl("-H 'Authorization: Bearer s3cret-token' " + base + "/v1/stores/counts/keys/remote"),
              HasSubstr("\"value\":2"));
  EXPECT_THAT(curl(base + "/healthz"), HasSubstr(" 200"));
  EXPECT_THAT(curl(base + "/metrics"), HasSubstr(" 401"));
  EXPECT_THAT(curl("-H 'Authorization: Bearer s3cret-token' " + base + "/metrics"), HasSubstr(" 200"));
}

TEST(QueryServerAuthTest, HealthzAndMetricsAreConfigurable) {
  QueryServerOptions o;
  o.auth_token = "t";
  o.auth_healthz = true;
  o.auth_metrics = false;
  Instance a(o);
  a.start();
  const std::string base = "http://" + a.address();
  EXPECT_THAT(curl(base + "/healthz"), HasSubstr(" 401"));
  EXPECT_THAT(curl(base + "/metrics"), HasSubstr(" 200"));
}

TEST(QueryServerOptionsTest, TheQueryServerIsPrivateByDefault) {
  EXPECT_EQ(QueryServerOptions{}.host, "127.0.0.1");
  auto config = [](std::map<std::string, std::string> m) {
    m.emplace("application.id", "app");
    m.emplace("bootstrap.servers", "127.0.0.1:1");
    return *StreamsConfig::from_map(m);
  };
  EXPECT_EQ(query_server_options(config({}), "orders-0.orders", 8080)->host, "127.0.0.1");
  EXPECT_EQ(query_server_options(config({}), "10.1.2.3", 8080)->host, "10.1.2.3");
  EXPECT_EQ(query_server_options(config({{"listen.address", "0.0.0.0"}}), "orders-0.orders", 8080)->host, "0.0.0.0");
  EXPECT_FALSE(query_server_options(config({{"query.auth.token.file", "/nonexistent/token"}}), "h", 1).ok());
  const std::string file = ::testing::TempDir() + "/kstreams_token";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("  abc123\n", f);
    std::fclose(f);
  }
  EXPECT_EQ(query_server_options(config({{"query.auth.token.file", file}}), "h", 1)->auth_token, "abc123");
}

// ---- item 5: TLS on the query port and between instances; checked with curl -----------------------

class QueryServerTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_ = new testing_tls::TestCert(testing_tls::make_cert("instance"));
    stranger_ = new testing_tls::TestCert(testing_tls::make_cert("stranger"));
    wrong_host_ = new testing_tls::TestCert(testing_tls::make_cert("elsewhere", "DNS:elsewhere.example"));
  }
  static void TearDownTestSuite() {
    for (auto** c : {&cert_, &stranger_, &wrong_host_}) {
      delete *c;
      *c = nullptr;
    }
  }
  // TLS options with `cert` (this test's shared certificate unless given), trusting `cert_`.
  static QueryServerOptions tls_options(const testing_tls::TestCert* cert = nullptr) {
    QueryServerOptions o;
    o.auth_token = "s3cret-token";
    o.tls_cert_file = (cert != nullptr ? cert : cert_)->cert;
    o.tls_key_file = (cert != nullptr ? cert : cert_)->key;
    o.tls_ca_file = cert_->cert;
    return o;
  }
  static std::string curl(const std::string& args) {
    return testing_tls::curl("--cacert " + cert_->cert + " -H 'Authorization: Bearer s3cret-token' " + args);
  }

  static testing_tls::TestCert* cert_;
  static testing_tls::TestCert* stranger_;
  static testing_tls::TestCert* wrong_host_;
};
testing_tls::TestCert* QueryServerTlsTest::cert_ = nullptr;
testing_tls::TestCert* QueryServerTlsTest::stranger_ = nullptr;
testing_tls::TestCert* QueryServerTlsTest::wrong_host_ = nullptr;

TEST_F(QueryServerTlsTest, CurlGetsAnswersOverHttpsAndTheTokenIsStillChecked) {
  Instance a(tls_options());
  a.start();
  a.backend.kv["counts"] = {{"local", "1"}};
  const std::string base = "https://" + a.address();
  EXPECT_THAT(curl(base + "/healthz"), HasSubstr(" 200"));
  EXPECT_THAT(curl(base + "/v1/stores/counts/keys/local"), HasSubstr("\"value\":1"));
  EXPECT_THAT(curl(base + "/v1/stores/counts/keys/local"), HasSubstr(" 200"));
  EXPECT_THAT(testing_tls::curl("--cacert " + cert_->cert + " " + base + "/v1/stores/counts/keys/local"),
              HasSubstr(" 401"));
  // The certificate is what curl checks: not trusted without the CA, or for another name.
  EXPECT_EQ(testing_tls::curl(base + "/healthz"), " 000");
  EXPECT_EQ(testing_tls::curl("--cacert " + stranger_->cert + " " + base + "/healthz"), " 000");
  // Plain HTTP to the TLS port is told so, and the server carries on.
  EXPECT_THAT(testing_tls::curl("http://" + a.address() + "/healthz"), HasSubstr(" 400"));
  auto plain = http_request(a.address(), "GET", "/healthz", {}, 2s);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->status, 400);
  EXPECT_THAT(curl(base + "/healthz"), HasSubstr(" 200"));
}

TEST_F(QueryServerTlsTest, ClientsThatNeverFinishTheHandshakeDoNotDelayOthers) {
  Instance a(tls_options());
  a.start();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 30; ++i) {
    held.push_back(std::make_unique<RawConnection>(a.server->port()));
    ASSERT_TRUE(held.back()->connected());
  }
  for (int i = 0; i < 30; i += 2) {
    // Half send the start of a TLS record and stop; the other half send nothing.
    const std::string partial("\x16\x03\x01\x02\x00\x01", 6);
    EXPECT_TRUE(held[static_cast<size_t>(i)]->send(partial));
  }
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < 3; ++i) {
    const std::string out = testing_tls::run("curl -s --max-time 5 --cacert " + cert_->cert +
                                             " -o /dev/null -w '%{http_code} %{time_total}' https://" + a.address() +
                                             "/healthz 2>/dev/null");
    ASSERT_EQ(out.substr(0, 4), "200 ") << out;
    EXPECT_LT(std::stod(out.substr(4)), 0.2) << out;
  }
}

TEST_F(QueryServerTlsTest, ForwardsAndFanOutBetweenTlsInstancesWork) {
  Instance a(tls_options());
  Instance b(tls_options());
  a.start();
  b.start();
  a.backend.kv["counts"] = {{"a1", "1"}};
  b.backend.kv["counts"] = {{"remote", "2"}};
  a.backend.owners = {{"remote", b.address()}};
  a.backend.others = {{b.server->advertised_server(), false, {"0_1"}, {"words-1"}, 1}};
  const std::string base = "https://" + a.address();
  const std::string forwarded = curl("-i " + base + "/v1/stores/counts/keys/remote");
  EXPECT_THAT(forwarded, HasSubstr("\"value\":2"));
  EXPECT_THAT(forwarded, HasSubstr(std::string(kServedByHeader) + ": " + b.address()));
  EXPECT_EQ(b.backend.get_calls, 1);
  const std::string range = curl(base + "/v1/stores/counts/range");
  EXPECT_THAT(range, HasSubstr(R"("entries":[{"key":"a1","value":1},{"key":"remote","value":2}])"));
  // http_request over TLS, as forwarding uses it.
  const ClientTls client{cert_->cert, "", ""};
  auto r = http_request(b.address(), "GET", "/v1/stores/counts/keys/remote", {{"Authorization", "Bearer s3cret-token"}},
                        2s, &client);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

TEST_F(QueryServerTlsTest, AForwardOverTlsTakesNoDelayedAckPause) {
  // The request must not wait behind the handshake's last write for a delayed ACK (Nagle, 40 ms):
  // neither the client's request to A nor A's forward to B. The fastest of 5 is far below 40 ms.
  Instance a(tls_options());
  Instance b(tls_options());
  a.start();
  b.start();
  b.backend.kv["counts"] = {{"remote", "2"}};
  a.backend.owners = {{"remote", b.address()}};
  const ClientTls client{cert_->cert, "", ""};
  auto fastest = [&](const std::string& target) {
    auto best = std::chrono::milliseconds::max();
    for (int i = 0; i < 5; ++i) {
      const auto started = std::chrono::steady_clock::now();
      auto r = http_request(a.address(), "GET", target, {{"Authorization", "Bearer s3cret-token"}}, 2s, &client);
      EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
      best = std::min(
          best, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
    }
    return best;
  };
  EXPECT_LT(fastest("/healthz"), 30ms);
  EXPECT_LT(fastest("/v1/stores/counts/keys/remote"), 30ms);
}

TEST_F(QueryServerTlsTest, ForwardsVerifyTheOwnersCertificateAndHostName) {
  Instance a(tls_options());
  Instance untrusted(tls_options(stranger_));   // not signed by A's CA file
  Instance misnamed(tls_options(wrong_host_));  // names elsewhere.example, not 127.0.0.1
  Instance plain;                               // no TLS at all
  a.start();
  untrusted.start();
  misnamed.start();
  plain.start();
  for (Instance* i : {&untrusted, &misnamed, &plain}) i->backend.kv["counts"] = {{"k", "1"}};
  a.backend.owners = {{"u", untrusted.address()}, {"m", misnamed.address()}, {"p", plain.address()}};
  for (const char* key : {"u", "m", "p"}) {
    const std::string out = curl("https://" + a.address() + "/v1/stores/counts/keys/" + key);
    EXPECT_THAT(out, HasSubstr("unreachable")) << key;
    EXPECT_THAT(out, HasSubstr(" 503")) << key;
  }
  EXPECT_EQ(untrusted.backend.get_calls + misnamed.backend.get_calls + plain.backend.get_calls, 0);
}

TEST_F(QueryServerTlsTest, MutualTlsBetweenInstances) {
  QueryServerOptions o = tls_options();
  o.tls_client_auth = true;
  Instance a(o);
  Instance b(o);
  a.start();
  b.start();
  b.backend.kv["counts"] = {{"remote", "2"}};
  a.backend.owners = {{"remote", b.address()}};
  const std::string target = "https://" + a.address() + "/v1/stores/counts/keys/remote";
  EXPECT_EQ(curl(target), " 000");  // no client certificate
  EXPECT_THAT(curl("--cert " + cert_->cert + " --key " + cert_->key + " " + target), HasSubstr("\"value\":2"));
  EXPECT_EQ(b.backend.get_calls, 1);  // A presented its certificate to B
}

TEST_F(QueryServerTlsTest, BadTlsFilesAreAStartErrorNamingTheFile) {
  QueryServerOptions o = tls_options();
  o.tls_key_file = "/nonexistent/query-key.pem";
  FakeBackend backend;
  QueryServer server(backend, o);
  const absl::Status st = server.start();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("query.tls"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("/nonexistent/query-key.pem"));
}

TEST(QueryServerOptionsTest, TlsSettings) {
  auto config = [](std::map<std::string, std::string> m) {
    m.emplace("application.id", "app");
    m.emplace("bootstrap.servers", "127.0.0.1:1");
    return *StreamsConfig::from_map(m);
  };
  auto o = query_server_options(config({{"query.tls.cert.file", "/c.pem"},
                                        {"query.tls.key.file", "/k.pem"},
                                        {"query.tls.ca.file", "/ca.pem"},
                                        {"query.tls.client.auth", "required"}}),
                                "h", 1);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tls_cert_file, "/c.pem");
  EXPECT_EQ(o->tls_key_file, "/k.pem");
  EXPECT_EQ(o->tls_ca_file, "/ca.pem");
  EXPECT_TRUE(o->tls_client_auth);
  EXPECT_TRUE(query_server_options(config({}), "h", 1)->tls_cert_file.empty());
  EXPECT_FALSE(query_server_options(config({{"query.tls.cert.file", "/c.pem"}}), "h", 1).ok());
  EXPECT_FALSE(query_server_options(config({{"query.tls.key.file", "/k.pem"}}), "h", 1).ok());
  EXPECT_FALSE(query_server_options(config({{"query.tls.cert.file", "/c.pem"},
                                            {"query.tls.key.file", "/k.pem"},
                                            {"query.tls.client.auth", "required"}}),
                                    "h", 1)
                   .ok());
  EXPECT_FALSE(
      StreamsConfig::from_map(
          {{"application.id", "app"}, {"bootstrap.servers", "127.0.0.1:1"}, {"query.tls.client.auth", "optional"}})
          .ok());
}

// Two servers whose backends disagree on ownership, in one process.
class ForwardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.start();
    b_.start();
    a_.backend.kv["counts"] = {{"a1", "1"}, {"a2", "2"}};
    b_.backend.kv["counts"] = {{"b1", "10"}, {"k", "{\"at\":\"b\"}"}};
    b_.backend.windows["sku"] = {{"sku", 0, 10, "5"}};
    a_.backend.owners = {{"k", b_.address()}, {"sku", b_.address()}};
  }
  Instance a_;
  Instance b_;
};

TEST_F(ForwardingTest, KeyOwnedElsewhereIsForwardedToTheOwner) {
  auto r = get(a_, "/v1/stores/counts/keys/k");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r), json({{"key", "k"}, {"value", {{"at", "b"}}}}));
  EXPECT_EQ(r.headers[kServedByHeader], b_.address());
  EXPECT_EQ(a_.backend.get_calls, 0);
  EXPECT_EQ(b_.backend.get_calls, 1);
  // Window queries are forwarded the same way, query string included.
  auto w = get(a_, "/v1/stores/revenue/windows/sku?from=0&to=100");
  EXPECT_EQ(w.status, 200) << w.body;
  EXPECT_EQ(body_of(w)["windows"].size(), 1u);
}

TEST_F(ForwardingTest, ConcurrentForwardedAndLocalRequestsAllSucceed) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const char* target = (i + t) % 2 == 0 ? "/v1/stores/counts/keys/k" : "/v1/stores/counts/keys/a1";
        auto r = http_request(a_.address(), "GET", target, {}, 5s);
        if (r.ok() && r->status == 200) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok, 240);
  EXPECT_EQ(b_.backend.get_calls, 120);
}

TEST_F(ForwardingTest, OwnersErrorsAreRelayed) {
  a_.backend.owners["missing"] = b_.address();
  auto r = get(a_, "/v1/stores/counts/keys/missing");
  expect_error(r, 404, "not_found");
  EXPECT_EQ(r.headers[kServedByHeader], b_.address());
}

TEST_F(ForwardingTest, ForwardedRequestIsNeverForwardedAgain) {
  // Both think the other owns "ping": A forwards once, B refuses to forward back.
  a_.backend.owners["ping"] = b_.address();
  b_.backend.owners["ping"] = a_.address();
  auto r = get(a_, "/v1/stores/counts/keys/ping");
  expect_error(r, 503, "unavailable");
  EXPECT_THAT(body_of(r)["message"].get<std::string>(), HasSubstr("forwarded by " + a_.server->advertised_server()));
  EXPECT_EQ(a_.backend.get_calls + b_.backend.get_calls, 0);
  // A request that arrives already forwarded is answered locally or refused, never sent on.
  expect_error(get(a_, "/v1/stores/counts/keys/k", {{kForwardedByHeader, "10.9.9.9:1"}}), 503, "unavailable");
  EXPECT_EQ(b_.backend.get_calls, 0);
}

// Forwards keep their connections to the owner; one that the owner closed (here: it restarted on
// the same port) is replaced, not answered with an error.
TEST_F(ForwardingTest, AForwardAfterTheOwnerRestartedReachesTheNewProcess) {
  EXPECT_EQ(body_of(get(a_, "/v1/stores/counts/keys/k"))["value"]["at"], "b");
  const int port = b_.server->port();
  b_.server->stop();
  Instance c;
  QueryServerOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  c.server = std::make_unique<QueryServer>(c.backend, o);
  c.backend.kv["counts"] = {{"k", "{\"at\":\"c\"}"}};
  c.start();
  for (int i = 0; i < 3; ++i) {
    const HttpResponse r = get(a_, "/v1/stores/counts/keys/k");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body_of(r)["value"]["at"], "c") << r.body;
  }
}

TEST_F(ForwardingTest, UnreachableOrUnknownOwnerIs503) {
  // A port that was bound and released: nothing listens there.
  int dead_port = 0;
  {
    Instance gone;
    gone.start();
    dead_port = gone.server->port();
  }
  a_.backend.owners["lost"] = "127.0.0.1:" + std::to_string(dead_port);
  auto r = get(a_, "/v1/stores/counts/keys/lost");
  expect_error(r, 503, "unavailable");
  EXPECT_THAT(body_of(r)["message"].get<std::string>(), HasSubstr("unreachable"));
  a_.backend.owners["orphan"] = "";
  expect_error(get(a_, "/v1/stores/counts/keys/orphan"), 503, "unavailable");
  a_.backend.owners["garbled"] = "no-port-here";
  expect_error(get(a_, "/v1/stores/counts/keys/garbled"), 503, "unavailable");
}

TEST_F(ForwardingTest, RangeFansOutToEveryInstanceAndMerges) {
  a_.backend.others = {{b_.server->advertised_server(), false, {"0_1"}, {"words-1"}, 1}};
  auto r = get(a_, "/v1/stores/counts/range");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> keys;
  const json all = body_of(r);
  for (const auto& e : all["entries"]) keys.push_back(e["key"]);
  EXPECT_EQ(keys, (std::vector<std::string>{"a1", "a2", "b1", "k"}));
  EXPECT_EQ(all["entries"][2]["value"], 10);

  keys.clear();
  const json limited = body_of(get(a_, "/v1/stores/counts/range?limit=3"));
  for (const auto& e : limited["entries"]) keys.push_back(e["key"]);
  EXPECT_EQ(keys, (std::vector<std::string>{"a1", "a2", "b1"}));

  // local=true answers from this instance only; B's range was not asked.
  const int b_ranges = b_.backend.range_calls;
  EXPECT_EQ(body_of(get(a_, "/v1/stores/counts/range?local=true"))["entries"].size(), 2u);
  EXPECT_EQ(b_.backend.range_calls, b_ranges);
}

TEST_F(ForwardingTest, RangeWithAnUnreachableInstanceIs503) {
  a_.backend.others = {{b_.server->advertised_server(), false, {}, {}, 1}};
  b_.server->stop();
  expect_error(get(a_, "/v1/stores/counts/range"), 503, "unavailable");
}

TEST(UrlEncodeTest, EncodesEverythingButUnreservedCharacters) {
  using http::url_encode;
  EXPECT_EQ(url_encode("sku-0007_a.b~"), "sku-0007_a.b~");
  EXPECT_EQ(url_encode("a/b c:d%"), "a%2Fb%20c%3Ad%25");
  EXPECT_EQ(url_encode(std::string("\xff\x00", 2)), "%FF%00");
}

TEST(QueryServerRoutesTest, ApplicationRoutesCanForwardWithTheSameLoopGuard) {
  Instance c;
  Instance d;
  for (Instance* i : {&c, &d}) {
    QueryServer* server = i->server.get();
    FakeBackend* backend = &i->backend;
    i->server->add_get_route("/v1/inventory/{sku}", [server, backend](const QueryRequest& req) {
      auto owner = backend->owner("counts", req.path_params.at("sku"));
      if (!owner->self) return server->forward_to(owner->application_server, req);
      QueryResponse r;
      r.body =
          json({{"sku", req.path_params.at("sku")}, {"at", backend->self_server}, {"via", req.forwarded_by}}).dump();
      return r;
    });
  }
  c.start();
  d.start();
  c.backend.owners["sku-7"] = d.address();
  auto r = get(c, "/v1/inventory/sku-7");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r),
            json({{"sku", "sku-7"}, {"at", d.backend.self_server}, {"via", c.server->advertised_server()}}));
  EXPECT_EQ(r.headers[kServedByHeader], d.address());
  EXPECT_EQ(body_of(get(c, "/v1/inventory/sku-1"))["at"], c.backend.self_server);
  d.backend.owners["sku-7"] = c.address();  // both now think the other owns it
  expect_error(get(c, "/v1/inventory/sku-7"), 503, "unavailable");
}

}  // namespace
}  // namespace kstreams::runtime
