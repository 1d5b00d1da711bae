// A small HTTP/1.1 client and server for tools, tests and the notification sender, hiding the HTTP
// library (cpp-httplib stays in runtime/src/http.cc; no third-party type appears here).
//
// HttpClient: one keep-alive connection to one base URL; a request reuses the connection and
// reconnects transparently when the server closed it. Errors are absl::Status:
//   kInvalidArgument   malformed base URL (create())
//   kUnavailable       the server cannot be reached (connection refused, reset, closed early)
//   kDeadlineExceeded  connect or read timeout
// Any HTTP status (2xx, 4xx, 5xx) is an ok StatusOr carrying the status code: callers decide.
// Thread-safety: HttpClient is thread-safe; concurrent requests are serialized over its single
// connection (use one client per thread for parallel requests).
//
// HttpServer: routes registered with handle() before start(), served by one of two engines
// (HttpServerOptions::engine): a fixed pool of worker threads, where handlers run concurrently and
// must be thread-safe, or one event-loop thread that runs every handler itself, where handlers must
// be quick and must never block. Lifecycle: constructed -> handle()* ->
// start() -> stop() (the destructor stops). Routing works on the raw request target, segment by
// segment: a pattern segment `{name}` matches one non-empty segment and binds its percent-decoded
// value (so a parameter may contain `/` as %2F); literal segments compare with the decoded segment.
// Unknown paths get 404, a known path with another method 405, an exception escaping a handler
// 500, each with a JSON body {"error": "...", "message": "..."}.
//
// The types live in kstreams::runtime::http (not kstreams::runtime) so that they never collide with
// internal types of the same name elsewhere in the runtime.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "kstreams/common/status.h"

namespace kstreams::runtime::http {

// Orders header names case-insensitively (HTTP header names are case-insensitive).
struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
// Header name -> value; a repeated header keeps its last value.
using HttpHeaders = std::map<std::string, std::string, CaseInsensitiveLess>;

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";  // server side: sent as Content-Type
  HttpHeaders headers;                            // client side: every response header
};

// A request as a route handler sees it.
struct HttpRequest {
  std::string method;                         // "GET", "POST", ...
  std::string path;                           // the raw (still percent-encoded) path, without query
  std::map<std::string, std::string> params;  // "{name}" -> percent-decoded segment
  std::map<std::string, std::string> query;   // decoded; a repeated name keeps the last value
  HttpHeaders headers;
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A JSON error body {"error": code, "message": message} with `status`.
[[nodiscard]] HttpResponse json_error(int status, std::string_view code, std::string_view message);

// Percent-encodes everything except RFC 3986 unreserved characters (for one path segment or query value).
[[nodiscard]] std::string url_encode(std::string_view s);
// Decodes %XX escapes (and nothing else: '+' stays '+'); false on a malformed escape.
[[nodiscard]] bool url_decode(std::string_view s, std::string* out);

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{5000};  // also the write timeout
};

class HttpClient {
 public:
  // `base_url`: "http://host:port[/prefix]" (or "host:port[/prefix]"; https when the library has
  // TLS). Request paths are appended to the prefix, so a full webhook URL can be the base URL and
  // post_json("") posts to it.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpClient>> create(const std::string& base_url,
                                                                          HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POST with Content-Type application/json and the extra `headers` (e.g. Idempotency-Key).
  [[nodiscard]] absl::StatusOr<HttpResponse> post_json(const std::string& path, const std::string& body,
                                                       const HttpHeaders& headers = {});
  [[nodiscard]] absl::StatusOr<HttpResponse> get(const std::string& path, const HttpHeaders& headers = {});

  // "scheme://host:port" this client talks to.
  [[nodiscard]] const std::string& origin() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

enum class HttpServerEngine {
  // cpp-httplib: each connection is served by a worker thread, `worker_threads` of them; a
  // keep-alive connection holds its thread while it lives (up to 100 requests or 2 s idle).
  // Handlers may block (e.g. forward a query to another instance). One request per connection at a
  // time: pipelined requests are not served.
  kThreadPool,
  // One thread multiplexes every connection with epoll and runs the handlers between two waits:
  // no thread per connection and no context switch per request, so thousands of small requests a
  // second cost little CPU (a test webhook receiver). Handlers must be quick and must never block:
  // while one runs, nothing else is served. Keep-alive without a request limit (idle connections
  // close after 2 s), pipelined requests answered in order, chunked request bodies, "Expect:
  // 100-continue". Requests it cannot serve get a JSON error and the connection is closed: 400
  // (malformed), 413 (body over `max_body_bytes`), 417, 431 (header section over 64 KiB), 501
  // (a transfer coding other than chunked), 505 (not HTTP/1.x). `worker_threads` is ignored.
  kEventLoop,
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = an ephemeral port (read it back with port() after start())
  int worker_threads = 4;
  // How long a started request may take to arrive whole (and a response to be written).
  std::chrono::milliseconds read_timeout{5000};
  HttpServerEngine engine = HttpServerEngine::kThreadPool;
  size_t max_body_bytes = 16 * 1024 * 1024;  // kEventLoop: larger request bodies get 413
  std::string thread_name = "http-loop";     // kEventLoop: its thread's name (top -H), cut to 15 characters
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a route, e.g. handle("GET", "/v1/orders/{order_id}", h). Only before start().
  // kInvalidArgument for a malformed pattern (must start with '/'; `{}` needs a name) or an
  // unsupported method (GET, POST, PUT, DELETE, PATCH); kFailedPrecondition once started.
  [[nodiscard]] absl::Status handle(const std::string& method, const std::string& pattern, HttpHandler handler);

  // Binds and starts serving on a background thread; returns once requests are accepted.
  // kUnavailable when the address cannot be bound; kFailedPrecondition when already started.
  [[nodiscard]] absl::Status start();
  // Stops accepting, finishes the requests in flight and joins the threads. Idempotent.
  void stop();

  // The bound port (valid after start()).
  [[nodiscard]] int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kstreams::runtime::http
