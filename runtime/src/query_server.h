// QueryServer: the interactive-query HTTP server of one instance (ARCHITECTURE.md, "Interactive
// queries"; routes and error rules in docs/interactive-queries.md).
//
// Any instance answers any key: a key owned by another instance (QueryBackend::owner) is forwarded
// to the owner's application.server with the header `X-Kstreams-Forwarded-By: <this instance>`; a
// request that already carries it is never forwarded again (503 instead), so ownership that is
// changing cannot make requests loop. A range over a key-value store is answered from every instance
// (local part + the others' local parts, merged by key) unless `local=true`.
//
// Routing works on the raw request target: each path segment is percent-decoded on its own, so a
// key may contain `/` (as %2F), `:` or spaces; a malformed %-escape is a 400. Every error has a JSON
// body {"error": "<code>", "message": "..."}; an exception escaping a handler becomes a 500 with a
// generic message (the exception is logged). A path segment or query parameter that does not decode
// to UTF-8 is a 400. Only GET (and HEAD) are served; other methods are 405.
//
// Served by the project's HttpServer (kstreams/runtime/http.h, thread-pool engine): one event-loop
// thread holds every connection and enforces the limits (request line, header size and count, body,
// read timeout -> 408, idle timeout, connection cap -> 503); handlers run on `worker_threads`. Its
// Router matches the routes (built-in routes first, so they win over application routes; a `{name}`
// segment matches one non-empty segment, so an empty key is a 404); a known path with another
// method is a 405 naming the allowed ones. Forwards and fan-out go through HttpClient.
//
// Lifecycle: constructed -> add_get_route()* -> start() -> stop() (the destructor stops); a stopped
// server is not restarted. The backend must outlive the server. Thread-safety: handlers run on the
// HTTP worker pool (options.worker_threads) concurrently; start()/stop() belong to the owner thread; port() and
// forward_to() may be called from any thread once started.
//
// The header keeps the HTTP library out: tests and the application see only the types below.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "kstreams/common/status.h"
#include "kstreams/runtime/http.h"
#include "kstreams/runtime/streams_config.h"
#include "query_backend.h"

namespace kstreams::runtime {

inline constexpr const char* kForwardedByHeader = "X-Kstreams-Forwarded-By";
inline constexpr const char* kServedByHeader = "X-Kstreams-Served-By";

// A response as the clients see it (status, body, content type, every header).
using HttpResponse = http::HttpResponse;

// https for http_request (kstreams/runtime/http.h: the certificate is always verified).
using ClientTls = http::HttpClientTls;

// One HTTP/1.1 request to `server` ("host:port") on a new connection (an HttpClient without
// keep-alive), over TLS when `tls` is given. `target` (path and query) is sent as given, so it must
// already be percent-encoded. kInvalidArgument for a malformed `server`; kUnavailable when the
// server cannot be reached or fails TLS verification; kDeadlineExceeded when it does not connect
// within `timeout` or answer within `timeout` after that. Used by forwarding and fan-out; tests use
// it as their client.
[[nodiscard]] absl::StatusOr<HttpResponse> http_request(const std::string& server, const std::string& method,
                                                        const std::string& target,
                                                        const std::map<std::string, std::string>& headers,
                                                        std::chrono::milliseconds timeout,
                                                        const ClientTls* tls = nullptr);

// A request as a route handler sees it.
struct QueryRequest {
  std::string target;                              // raw path?query as received (used to forward)
  std::map<std::string, std::string> path_params;  // "{id}" -> decoded segment
  std::map<std::string, std::string> query;        // decoded; a repeated name keeps the last value
  std::string forwarded_by;                        // X-Kstreams-Forwarded-By, "" when not forwarded
};

// What a route handler answers: status, body (JSON unless content_type says otherwise), headers.
using QueryResponse = http::HttpResponse;

using RouteHandler = std::function<QueryResponse(const QueryRequest&)>;

struct QueryServerOptions {
  std::string host = "127.0.0.1";  // private by default: loopback only
  int port = 0;                    // 0 = an ephemeral port (read it back with port())
  // This instance's application.server, sent as X-Kstreams-Forwarded-By; "" = "<host>:<bound port>".
  std::string advertised_server;
  std::chrono::milliseconds forward_timeout{5000};  // connect and read timeout of forwards and fan-out
  size_t default_range_limit = 100;
  size_t max_range_limit = 1000;  // `limit` above this is a 400
  size_t worker_threads = 8;
  // How long a started request may take to arrive whole (then 408).
  std::chrono::milliseconds read_timeout{5000};
  size_t max_connections = 1024;  // beyond it, a new connection gets 503 and is closed
  // Bearer-token authentication: when set, /v1/... needs "Authorization: Bearer <auth_token>" (else
  // 401), and so do /metrics and /healthz when their flag says so. Forwards and fan-out requests to
  // other instances carry the token (every instance of an application shares it).
  std::string auth_token;
  bool auth_metrics = true;
  bool auth_healthz = false;
  // TLS (https) when tls_cert_file is set: the server presents tls_cert_file/tls_key_file, and
  // forwards and fan-out go to the other instances over https, verifying their certificates against
  // tls_ca_file (empty: the system's trust store) and the host of their application.server. With
  // tls_client_auth, clients need a certificate that chains to tls_ca_file (mutual TLS); forwards
  // present this instance's certificate. Every instance of an application uses TLS or none does.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  bool tls_client_auth = false;
};

// The options for application.server `host`:`port` from the configuration: the bind address
// (listen.address; else `host` when it is an IP address; else 127.0.0.1), the bearer token
// (query.auth.token.file, read now), query.auth.metrics / query.auth.healthz /
// query.max.connections and query.tls.*. kInvalidArgument when the token file cannot be read or
// holds no token, when only one of query.tls.cert.file / query.tls.key.file is set, or when
// query.tls.client.auth=required has no query.tls.ca.file. (The TLS files are loaded by start().)
[[nodiscard]] absl::StatusOr<QueryServerOptions> query_server_options(const StreamsConfig& config,
                                                                      const std::string& host, int port);

class QueryServer {
 public:
  QueryServer(QueryBackend& backend, QueryServerOptions options);
  ~QueryServer();
  QueryServer(const QueryServer&) = delete;
  QueryServer& operator=(const QueryServer&) = delete;

  // Adds an application route for GET, e.g. "/v1/orders/{id}": literal segments and `{name}`
  // placeholders matching one (decoded) segment. Built-in routes win over application routes.
  // Must be called before start(). The handler's exceptions become 500s.
  void add_get_route(const std::string& pattern, RouteHandler handler);

  // Binds and starts serving; kUnavailable if the address cannot be bound; kInvalidArgument naming
  // the file when a TLS certificate, key or CA file cannot be loaded. Returns once the server
  // accepts connections.
  [[nodiscard]] absl::Status start();
  // Stops accepting, waits for the listener thread. Idempotent.
  void stop();
  // The bound port (after start()).
  [[nodiscard]] int port() const;
  // What this instance sends as X-Kstreams-Forwarded-By.
  [[nodiscard]] std::string advertised_server() const;

  // Forwards `request` to `owner` ("host:port") and relays its status, body and content type (plus
  // X-Kstreams-Served-By: owner). 503 JSON when the request was already forwarded (loop guard), when
  // `owner` is empty, or when the owner is unreachable or times out.
  [[nodiscard]] QueryResponse forward_to(const std::string& owner, const QueryRequest& request) const;

  // {"error": code, "message": message} with `status`.
  [[nodiscard]] static QueryResponse error(int status, const std::string& code, const std::string& message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kstreams::runtime
