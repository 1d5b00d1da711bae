// The project's one HTTP layer (sources in runtime/src/http/): HttpClient and HttpPool (libcurl)
// as clients, HttpServer (an epoll event loop of our own) as the server. No third-party type
// appears here.
//
// HttpClient: blocking requests to one base URL (http or https) over one kept connection; a request
// reuses the connection and reconnects transparently when the server closed it. Errors are
// absl::Status:
//   kInvalidArgument   malformed base URL or options (create()); a header that cannot be sent
//                      (check_header()) or an unsupported method (request(); nothing is sent)
//   kUnavailable       the server cannot be reached (cannot resolve or connect, reset, closed
//                      early), TLS fails or the server's certificate is not verified
//   kDeadlineExceeded  no connection within connect_timeout, or no whole response within
//                      read_timeout of the request's start
//   kResourceExhausted the response is larger than max_response_bytes, or its header lines larger
//                      than kMaxResponseHeaderBytes
//   kInternal          the server's bytes are not an HTTP/1.x response
// Any HTTP status (2xx, 4xx, 5xx) is an ok StatusOr carrying the status code: callers decide.
// Redirects are not followed, proxies from the environment are not used, no "Expect: 100-continue".
// Thread-safety: HttpClient is thread-safe; concurrent requests are serialized over its single
// connection (use one client per thread for parallel requests; HttpPool for many small POSTs).
//
// HttpServer: routes registered with handle() before start(). One thread multiplexes every
// connection with epoll (runtime/src/http/http_event_loop.h) and enforces the limits below; handlers
// run either on that thread (HttpServerEngine::kEventLoop: quick, never blocking) or on a pool of
// worker threads (kThreadPool: concurrent, must be thread-safe, may block). Lifecycle: constructed
// -> handle()* -> start() -> stop() (the destructor stops). Routing works on the raw request
// target, segment by segment: a pattern segment `{name}` matches one non-empty segment and binds
// its percent-decoded value (so a parameter may contain `/` as %2F); literal segments compare with
// the decoded segment. Unknown paths get 404 (or the handle_any() handler), a known path with
// another method 405, each with a JSON body {"error": "...", "message": "..."}; messages never
// echo request bytes other than printable ASCII. An exception escaping a handler is a 500 with a
// generic body (the exception is logged). HEAD is served as GET without the body.
//
// Limits, each answered with a JSON error before the connection closes: a request line over
// max_request_line_bytes (414), a header section over max_header_bytes or more than
// max_header_fields fields (431), a body over max_body_bytes (413, as soon as the announced size
// says so), a request not whole within read_timeout of its first byte (408; a slow client holds no
// thread and delays nobody else), a connection beyond max_connections (503), more than
// max_queued_requests waiting for a worker (503). Idle keep-alive connections close after
// idle_timeout. Also 400 (malformed), 417, 501 (a transfer coding other than chunked), 505.
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
  std::string target;                         // the raw request target: path and query as received
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

// OK when `name` is an HTTP header field name (RFC 9110 token characters) and `value` a field value
// (visible ASCII, obs-text bytes >= 0x80, space and tab; no CR, LF, NUL or other control byte).
// kInvalidArgument says which byte is wrong. Both clients apply it to every header they are given,
// so a value built from record data can never split into header lines of its own.
[[nodiscard]] absl::Status check_header(std::string_view name, std::string_view value);

// The header lines of one response (interim 1xx responses included) may not exceed this (both clients).
inline constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;

// https for the clients. The server's certificate is always verified: it must chain to a CA of
// `ca_file` (empty: the system's trust store) and name the host connected to (a DNS or IP subject
// alternative name). TLS 1.2 or newer.
struct HttpClientTls {
  std::string ca_file;
  std::string cert_file;  // presented when the server asks for a client certificate (mutual TLS); "" = none
  std::string key_file;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{2000};  // for the TCP (and TLS) connect alone
  // The whole request, from its start (connect included), must end within this.
  std::chrono::milliseconds read_timeout{5000};
  // A response body larger than this fails the request (kResourceExhausted); it is buffered, so
  // this also bounds the client's memory.
  size_t max_response_bytes = 16 * 1024 * 1024;
  bool keep_alive = true;  // false: a new connection per request, closed after it
  HttpClientTls tls;       // used for https:// base URLs
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

  // One request: `method` is GET, HEAD, POST, PUT, DELETE or PATCH; `path` (path and query) is
  // appended to the base URL's prefix and sent as given, so it must already be percent-encoded
  // (bytes outside visible ASCII are percent-encoded on the way, which decodes to the same bytes).
  // `body` and `content_type` are sent when not empty.
  [[nodiscard]] absl::StatusOr<HttpResponse> request(std::string_view method, const std::string& path,
                                                     const HttpHeaders& headers = {}, const std::string& body = "",
                                                     std::string_view content_type = "");
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
  // Handlers run on `worker_threads` worker threads, one request of a connection at a time; they
  // may block (e.g. forward a query to another instance). Connections cost no thread.
  kThreadPool,
  // Handlers run on the event-loop thread between two waits: no context switch per request, so
  // thousands of small requests a second cost little CPU (a test webhook receiver). Handlers must be
  // quick and must never block: while one runs, nothing else is served. `worker_threads` is ignored.
  kEventLoop,
};

// https for HttpServer (OpenSSL): TLS 1.2 or 1.3 only, on the same event loop. A connection's
// handshake must finish within read_timeout of its accept (and bytes must keep coming: a connection
// silent for idle_timeout closes); one that does not is closed without an answer, and a slow
// handshake delays nobody else. A plain-HTTP request to the TLS port gets a plain 400 and the
// connection closes; any other non-TLS bytes close it. Beyond max_connections a new connection is
// closed at once (no 503: that would need a handshake). Handshakes run on the loop thread: an ECDSA
// P-256 key costs far less CPU per handshake than an RSA one.
struct HttpTlsOptions {
  std::string cert_file;  // PEM: the server certificate, then any intermediate CA certificates
  std::string key_file;   // PEM: the certificate's private key, unencrypted
  // PEM CA certificates a client certificate must chain to; used only with require_client_cert.
  std::string ca_file;
  bool require_client_cert = false;  // mutual TLS: a client without a valid certificate fails the handshake

  [[nodiscard]] bool enabled() const { return !cert_file.empty(); }
};

// Both engines: keep-alive (idle connections close after idle_timeout), pipelined requests
// answered in order, Content-Length and chunked request bodies, "Expect: 100-continue".
struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;            // 0 = an ephemeral port (read it back with port() after start())
  int worker_threads = 4;  // kThreadPool
  // How long a started request may take to arrive whole (then 408), and how long pending output
  // may make no progress (then the connection closes).
  std::chrono::milliseconds read_timeout{5000};
  HttpServerEngine engine = HttpServerEngine::kThreadPool;
  size_t max_body_bytes = 16 * 1024 * 1024;
  std::string thread_name = "http-loop";  // the loop thread's name (top -H), cut to 15 characters
  std::chrono::milliseconds idle_timeout{2000};
  size_t max_request_line_bytes = 8 * 1024;
  size_t max_header_bytes = 64 * 1024;
  size_t max_header_fields = 100;
  size_t max_connections = 1024;
  size_t max_queued_requests = 256;  // kThreadPool: requests waiting for a worker
  HttpTlsOptions tls;                // https when tls.enabled()
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
  // Registers the handler of every request whose path matches no route (any method; instead of
  // the 404). request.path is the raw path, request.params empty. Only before start().
  [[nodiscard]] absl::Status handle_any(HttpHandler handler);

  // Binds and starts serving on a background thread; returns once requests are accepted.
  // kUnavailable when the address cannot be bound; kFailedPrecondition when already started;
  // kInvalidArgument naming the file when a TLS certificate, key or CA file cannot be loaded (or
  // the key does not match the certificate).
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
