#include "query_server.h"

#include "kstreams/common/logging.h"
#include "kstreams/runtime/http.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

namespace kstreams::runtime {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// ---- request text --------------------------------------------------------------------------

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// ---- parameters ---------------------------------------------------------------------------------

absl::StatusOr<int64_t> parse_int64(const std::string& name, const std::string& text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError("parameter '" + name + "' must be an integer, got '" + text + "'");
  }
  return v;
}

absl::StatusOr<int64_t> required_int64(const QueryRequest& req, const std::string& name) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return absl::InvalidArgumentError("missing parameter '" + name + "'");
  return parse_int64(name, it->second);
}

// A boolean flag: absent = false; "", "true", "1" = true; "false", "0" = false; else 400.
absl::StatusOr<bool> flag(const QueryRequest& req, const std::string& name) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return false;
  if (it->second.empty() || it->second == "true" || it->second == "1") return true;
  if (it->second == "false" || it->second == "0") return false;
  return absl::InvalidArgumentError("parameter '" + name + "' must be true or false, got '" + it->second + "'");
}

// ---- responses ----------------------------------------------------------------------------------

QueryResponse json_response(int status, const json& body) {
  QueryResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);  // never throws on bad UTF-8
  return r;
}

// The status of a backend error, as the HTTP contract wants it.
QueryResponse from_status(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return QueryServer::error(404, "not_found", std::string(s.message()));
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return QueryServer::error(400, "bad_request", std::string(s.message()));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return QueryServer::error(503, "unavailable", std::string(s.message()));
    case absl::StatusCode::kFailedPrecondition:
      return QueryServer::error(400, "failed_precondition", std::string(s.message()));
    default:
      return QueryServer::error(500, "internal", std::string(s.message()));
  }
}

// Store values are JSON text; a value that is not valid JSON is returned as a JSON string.
json value_of(const std::string& value_json) {
  json v = json::parse(value_json, nullptr, /*allow_exceptions=*/false);
  return v.is_discarded() ? json(value_json) : v;
}

json entry_json(const QueryEntry& e) {
  json j = {{"key", e.key}};
  if (e.window_start) j["window_start"] = *e.window_start;
  if (e.window_end) j["window_end"] = *e.window_end;
  j["value"] = value_of(e.value_json);
  return j;
}

}  // namespace

absl::StatusOr<HttpResponse> http_request(const std::string& server, const std::string& method,
                                          const std::string& target, const std::map<std::string, std::string>& headers,
                                          milliseconds timeout, const ClientTls* tls) {
  http::HttpClientOptions options;
  options.connect_timeout = timeout;
  options.read_timeout = timeout;
  options.keep_alive = false;
  if (tls != nullptr) options.tls = *tls;
  KSTREAMS_ASSIGN_OR_RETURN(std::unique_ptr<http::HttpClient> client,
                            http::HttpClient::create((tls != nullptr ? "https://" : "http://") + server, options));
  return client->request(method, target, http::HttpHeaders(headers.begin(), headers.end()));
}

namespace {

// Compares in time independent of where the strings differ (only the length may leak).
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned diff = given.size() == expected.size() ? 0 : 1;
  const size_t n = std::min(given.size(), expected.size());
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned>(static_cast<unsigned char>(given[i] ^ expected[i]));
  return diff == 0;
}

http::HttpServerOptions server_options(const QueryServerOptions& o) {
  http::HttpServerOptions s;
  s.host = o.host;
  s.port = o.port;
  s.engine = http::HttpServerEngine::kThreadPool;  // handlers block on forwards and store reads
  s.worker_threads = static_cast<int>(std::max<size_t>(1, o.worker_threads));
  s.read_timeout = o.read_timeout;
  s.max_connections = o.max_connections;
  s.max_body_bytes = 64 * 1024;  // every route is a GET: bodies are refused long before this
  s.thread_name = "query-http";
  s.tls.cert_file = o.tls_cert_file;
  s.tls.key_file = o.tls_key_file;
  s.tls.ca_file = o.tls_ca_file;
  s.tls.require_client_cert = o.tls_client_auth;
  return s;
}

// Kept connections to the other instances, so that forwards and fan-out pay no TCP (or TLS)
// handshake per request: up to kIdlePerPeer idle clients per instance, kMaxPeers instances (beyond
// that a request uses a new connection and closes it). Thread-safe; a client is used by one
// request at a time.
class PeerClients {
 public:
  PeerClients(std::chrono::milliseconds timeout, std::optional<ClientTls> tls)
      : timeout_(timeout), tls_(std::move(tls)) {}

  absl::StatusOr<HttpResponse> get(const std::string& server, const std::string& target,
                                   const std::map<std::string, std::string>& headers) {
    std::unique_ptr<http::HttpClient> client = take(server);
    if (client == nullptr) {
      http::HttpClientOptions o;
      o.connect_timeout = timeout_;
      o.read_timeout = timeout_;
      if (tls_) o.tls = *tls_;
      KSTREAMS_ASSIGN_OR_RETURN(client, http::HttpClient::create((tls_ ? "https://" : "http://") + server, o));
    }
    auto response = client->request("GET", target, http::HttpHeaders(headers.begin(), headers.end()));
    if (response.ok()) give_back(server, std::move(client));  // a failed one may hold a broken connection
    return response;
  }

 private:
  static constexpr size_t kIdlePerPeer = 4;
  static constexpr size_t kMaxPeers = 64;

  std::unique_ptr<http::HttpClient> take(const std::string& server) {
    std::lock_guard lock(mu_);
    auto it = idle_.find(server);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    std::unique_ptr<http::HttpClient> c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }

  void give_back(const std::string& server, std::unique_ptr<http::HttpClient> client) {
    std::lock_guard lock(mu_);
    auto it = idle_.find(server);
    if (it == idle_.end()) {
      if (idle_.size() >= kMaxPeers) return;
      it = idle_.emplace(server, std::vector<std::unique_ptr<http::HttpClient>>{}).first;
    }
    if (it->second.size() < kIdlePerPeer) it->second.push_back(std::move(client));
  }

  const std::chrono::milliseconds timeout_;
  const std::optional<ClientTls> tls_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<http::HttpClient>>> idle_;  // guarded by mu_
};

}  // namespace

struct QueryServer::Impl {
  Impl(QueryBackend& b, QueryServerOptions o)
      : backend(b),
        options(std::move(o)),
        server(server_options(options)),
        peers(options.forward_timeout, peer_tls()) {}

  // Set: the other instances are reached over https, presenting this instance's certificate.
  std::optional<ClientTls> peer_tls() const {
    if (options.tls_cert_file.empty()) return std::nullopt;
    return ClientTls{options.tls_ca_file, options.tls_cert_file, options.tls_key_file};
  }

  QueryBackend& backend;
  const QueryServerOptions options;
  http::HttpServer server;
  bool started = false;  // start() was called (never reset: a server is started once)
  std::string self;
  mutable PeerClients peers;

  // Whether `path` (raw) needs the bearer token.
  bool needs_token(std::string_view path) const {
    if (options.auth_token.empty()) return false;
    if (path == "/healthz") return options.auth_healthz;
    if (path == "/metrics") return options.auth_metrics;
    return true;
  }

  // Headers of a request to another instance: the loop guard and, when set, the token.
  std::map<std::string, std::string> peer_headers() const {
    std::map<std::string, std::string> h{{kForwardedByHeader, self}};
    if (!options.auth_token.empty()) h["Authorization"] = "Bearer " + options.auth_token;
    return h;
  }

  // 401 when `http` needs the bearer token and lacks it.
  std::optional<QueryResponse> unauthorized(const http::HttpRequest& http) const {
    if (!needs_token(http.path)) return std::nullopt;
    auto auth = http.headers.find("Authorization");
    const std::string_view prefix = "Bearer ";
    if (auth != http.headers.end() && auth->second.compare(0, prefix.size(), prefix) == 0 &&
        same_secret(std::string_view(auth->second).substr(prefix.size()), options.auth_token)) {
      return std::nullopt;
    }
    QueryResponse r = error(401, "unauthorized", "a valid bearer token is required");
    r.headers["WWW-Authenticate"] = "Bearer";
    return r;
  }

  // The server's handler for a route: the token, then UTF-8 text (keys and parameters end up in
  // JSON answers), then `handler`. Routing, percent-decoding and exceptions (500) are the Router's.
  http::HttpHandler route(RouteHandler handler) {
    return [this, handler = std::move(handler)](const http::HttpRequest& http) -> http::HttpResponse {
      if (auto denied = unauthorized(http)) return *denied;
      for (const auto* values : {&http.params, &http.query}) {
        for (const auto& [name, value] : *values) {
          if (!is_utf8(name) || !is_utf8(value)) {
            return error(400, "bad_request", "the request path and parameters must be UTF-8 text");
          }
        }
      }
      QueryRequest req;
      req.target = http.target;
      req.path_params = http.params;
      req.query = http.query;
      auto fwd = http.headers.find(kForwardedByHeader);
      if (fwd != http.headers.end()) req.forwarded_by = fwd->second;
      return handler(req);
    };
  }

  // Every request whose path matches no route.
  http::HttpResponse unrouted(const http::HttpRequest& http) const {
    if (http.method != "GET") {
      QueryResponse r = error(405, "method_not_allowed", "only GET (and HEAD) are supported");
      r.headers["Allow"] = "GET, HEAD";
      return r;
    }
    if (auto denied = unauthorized(http)) return *denied;
    return error(404, "not_found", "no such route");
  }

  // ---- built-in routes --------------------------------------------------------------------------

  QueryResponse healthz(const QueryRequest&) {
    const std::string state = backend.state();
    const bool healthy = state == "RUNNING" || state == "REBALANCING";
    json body = {{"state", state}};
    if (const std::string why = backend.degraded(); !why.empty()) body["degraded"] = why;
    return json_response(healthy ? 200 : 503, body);
  }

  QueryResponse metrics(const QueryRequest&) {
    QueryResponse r;
    r.body = backend.metrics_text();
    r.content_type = "text/plain; version=0.0.4";
    return r;
  }

  QueryResponse metadata(const QueryRequest&) {
    json instances = json::array();
    for (const InstanceInfo& i : backend.instances()) {
      instances.push_back({{"application_server", i.application_server},
                           {"self", i.self},
                           {"tasks", i.tasks},
                           {"partitions", i.partitions},
                           {"updated_at_ms", i.updated_at_ms}});
    }
    return json_response(200, {{"instances", instances}});
  }

  QueryResponse stores(const QueryRequest&) {
    json out = json::array();
    for (const StoreInfo& s : backend.stores()) {
      out.push_back(
          {{"name", s.name}, {"type", s.type}, {"source_topic", s.source_topic}, {"partitions", s.partitions}});
    }
    return json_response(200, {{"stores", out}});
  }

  // Decides where a key is read: returns a response when the request is forwarded or fails, or
  // nullopt when it must be answered locally.
  std::optional<QueryResponse> route_key(const QueryRequest& req, const std::string& store, const std::string& key,
                                         bool local) {
    if (key.empty()) return error(400, "bad_request", "the key must not be empty");
    if (local) return std::nullopt;
    auto owner = backend.owner(store, key);
    if (!owner.ok()) return from_status(owner.status());
    if (owner->self) return std::nullopt;
    if (owner->application_server.empty()) {
      return error(503, "unavailable",
                   "no instance owns partition " + std::to_string(owner->partition) + " of store '" + store +
                       "' right now (rebalancing?); retry");
    }
    return forward(owner->application_server, req);
  }

  QueryResponse key(const QueryRequest& req) {
    const std::string& store = req.path_params.at("store");
    const std::string& k = req.path_params.at("key");
    auto stale = flag(req, "stale");
    auto local = flag(req, "local");
    if (!stale.ok()) return from_status(stale.status());
    if (!local.ok()) return from_status(local.status());
    if (auto routed = route_key(req, store, k, *local)) return *routed;
    auto entry = backend.get(store, k, *stale);
    if (!entry.ok()) return from_status(entry.status());
    return json_response(200, {{"key", entry->key.empty() ? k : entry->key}, {"value", value_of(entry->value_json)}});
  }

  QueryResponse windows(const QueryRequest& req) {
    const std::string& store = req.path_params.at("store");
    const std::string& k = req.path_params.at("key");
    auto from = required_int64(req, "from");
    auto to = required_int64(req, "to");
    auto stale = flag(req, "stale");
    auto local = flag(req, "local");
    for (const absl::Status& s : {from.status(), to.status(), stale.status(), local.status()}) {
      if (!s.ok()) return from_status(s);
    }
    if (*from > *to) return error(400, "bad_request", "'from' must not be after 'to'");
    if (auto routed = route_key(req, store, k, *local)) return *routed;
    auto entries = backend.fetch_windows(store, k, *from, *to, *stale);
    if (!entries.ok()) return from_status(entries.status());
    json out = json::array();
    for (const QueryEntry& e : *entries) out.push_back(entry_json(e));
    return json_response(200, {{"key", k}, {"windows", out}});
  }

  absl::StatusOr<size_t> range_limit(const QueryRequest& req) const {
    auto it = req.query.find("limit");
    if (it == req.query.end()) return std::min(options.default_range_limit, options.max_range_limit);
    KSTREAMS_ASSIGN_OR_RETURN(int64_t limit, parse_int64("limit", it->second));
    if (limit < 1 || static_cast<uint64_t>(limit) > options.max_range_limit) {
      return absl::InvalidArgumentError("'limit' must be between 1 and " + std::to_string(options.max_range_limit));
    }
    return static_cast<size_t>(limit);
  }

  QueryResponse range(const QueryRequest& req) {
    const std::string& store = req.path_params.at("store");
    auto limit = range_limit(req);
    auto stale = flag(req, "stale");
    auto local = flag(req, "local");
    for (const absl::Status& s : {limit.status(), stale.status(), local.status()}) {
      if (!s.ok()) return from_status(s);
    }
    const std::string from = req.query.count("from") ? req.query.at("from") : "";
    const std::string to = req.query.count("to") ? req.query.at("to") : "";
    if (!to.empty() && from > to) return error(400, "bad_request", "'from' must not be after 'to'");
    const auto all = backend.stores();
    auto info = std::find_if(all.begin(), all.end(), [&](const StoreInfo& s) { return s.name == store; });
    if (info == all.end()) return error(404, "not_found", "unknown store '" + store + "'");
    if (info->type != "key-value") {
      return error(400, "bad_request", "range queries need a key-value store; '" + store + "' is " + info->type);
    }

    auto local_entries = backend.range(store, from, to, *limit, *stale);
    if (!local_entries.ok()) return from_status(local_entries.status());
    std::map<std::string, json> merged;  // sorted by key; the first answer for a key wins
    for (const QueryEntry& e : *local_entries) merged.emplace(e.key, value_of(e.value_json));

    // A forwarded request is always answered locally: no fan-out from a fan-out.
    if (!*local && req.forwarded_by.empty()) {
      const std::string remote_target = "/v1/stores/" + http::url_encode(store) +
                                        "/range?from=" + http::url_encode(from) + "&to=" + http::url_encode(to) +
                                        "&limit=" + std::to_string(*limit) +
                                        "&local=true&stale=" + (*stale ? "true" : "false");
      for (const InstanceInfo& instance : backend.instances()) {
        if (instance.self || instance.application_server.empty() || instance.application_server == self) continue;
        if (auto failed = fetch_remote_range(instance.application_server, remote_target, &merged)) return *failed;
      }
    }
    json entries = json::array();
    for (auto& [k, v] : merged) {
      if (entries.size() == *limit) break;
      entries.push_back({{"key", k}, {"value", std::move(v)}});
    }
    return json_response(200, {{"store", store}, {"entries", entries}});
  }

  // Adds `server`'s local range to `merged`; a 503 response when it cannot (an incomplete range
  // would look complete to the caller).
  std::optional<QueryResponse> fetch_remote_range(const std::string& server, const std::string& target,
                                                  std::map<std::string, json>* merged) {
    auto response = peers.get(server, target, peer_headers());
    if (!response.ok()) {
      return error(
          503, "unavailable",
          "instance " + server + " did not answer the range query: " + std::string(response.status().message()));
    }
    if (response->status != 200) {
      return error(503, "unavailable",
                   "instance " + server + " answered the range query with " + std::to_string(response->status) + ": " +
                       response->body);
    }
    json body = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.contains("entries") || !body["entries"].is_array()) {
      return error(502, "bad_gateway", "instance " + server + " answered the range query with malformed JSON");
    }
    for (auto& e : body["entries"]) {
      if (!e.contains("key") || !e["key"].is_string()) continue;
      merged->emplace(e["key"].get<std::string>(), e.value("value", json()));
    }
    return std::nullopt;
  }

  QueryResponse forward(const std::string& owner, const QueryRequest& req) const {
    if (!req.forwarded_by.empty()) {
      return error(503, "unavailable",
                   "request forwarded by " + req.forwarded_by + " but this instance (" + self +
                       ") does not own the key either (ownership is moving); retry");
    }
    if (owner.empty()) return error(503, "unavailable", "no instance owns the key right now; retry");
    auto response = peers.get(owner, req.target, peer_headers());
    if (!response.ok()) {
      return error(503, "unavailable",
                   "owner " + owner + " is unreachable: " + std::string(response.status().message()));
    }
    QueryResponse out;
    out.status = response->status;
    out.body = std::move(response->body);
    if (!response->content_type.empty()) out.content_type = response->content_type;
    out.headers[kServedByHeader] = owner;
    return out;
  }

  void add_route(const std::string& pattern, RouteHandler handler) {
    const absl::Status added = server.handle("GET", pattern, route(std::move(handler)));
    KSTREAMS_CHECK(added.ok(), ("query route " + pattern + ": " + std::string(added.message())).c_str());
  }

  void add_builtin(const std::string& pattern, QueryResponse (Impl::*fn)(const QueryRequest&)) {
    add_route(pattern, [this, fn](const QueryRequest& r) { return (this->*fn)(r); });
  }

  // Built-in routes first: the first route that matches wins, so they win over application routes.
  void install_handlers() {
    add_builtin("/healthz", &Impl::healthz);
    add_builtin("/metrics", &Impl::metrics);
    add_builtin("/v1/metadata", &Impl::metadata);
    add_builtin("/v1/stores", &Impl::stores);
    add_builtin("/v1/stores/{store}/keys/{key}", &Impl::key);
    add_builtin("/v1/stores/{store}/range", &Impl::range);
    add_builtin("/v1/stores/{store}/windows/{key}", &Impl::windows);
    KSTREAMS_CHECK(server.handle_any([this](const http::HttpRequest& r) { return unrouted(r); }).ok(),
                   "the query server's fallback handler");
  }
};

absl::StatusOr<QueryServerOptions> query_server_options(const StreamsConfig& config, const std::string& host,
                                                        int port) {
  QueryServerOptions o;
  o.port = port;
  const std::string& listen = config.get_string(config::kListenAddress);
  const bool ip_literal = !host.empty() && (host.find_first_not_of("0123456789.") == std::string::npos ||
                                            (host.front() == '[' && host.back() == ']'));
  if (!listen.empty()) {
    o.host = listen;
  } else if (ip_literal) {
    o.host = host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  } else {
    o.host = "127.0.0.1";
    if (host != "localhost") {
      KS_LOG_WARN(
          "query server: application.server names host '{}' but binds 127.0.0.1 only (private by "
          "default); set listen.address (e.g. 0.0.0.0) so that other instances can reach it",
          host);
    }
  }
  o.max_connections = static_cast<size_t>(config.get_long(config::kQueryMaxConnections));
  o.auth_metrics = config.get_bool(config::kQueryAuthMetrics);
  o.auth_healthz = config.get_bool(config::kQueryAuthHealthz);
  const std::string& token_file = config.get_string(config::kQueryAuthTokenFile);
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return absl::InvalidArgumentError("cannot read query.auth.token.file '" + token_file + "'");
    std::string token = text.str();
    const size_t first = token.find_first_not_of(" \t\r\n");
    const size_t last = token.find_last_not_of(" \t\r\n");
    token = first == std::string::npos ? "" : token.substr(first, last - first + 1);
    if (token.empty()) return absl::InvalidArgumentError("query.auth.token.file '" + token_file + "' holds no token");
    for (char c : token) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
        return absl::InvalidArgumentError("the token in '" + token_file + "' contains whitespace or control bytes");
      }
    }
    o.auth_token = std::move(token);
  }
  o.tls_cert_file = config.get_string(config::kQueryTlsCertFile);
  o.tls_key_file = config.get_string(config::kQueryTlsKeyFile);
  o.tls_ca_file = config.get_string(config::kQueryTlsCaFile);
  o.tls_client_auth = config.get_string(config::kQueryTlsClientAuth) == "required";
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("query.tls.cert.file and query.tls.key.file must be set together");
  }
  if (o.tls_client_auth && (o.tls_cert_file.empty() || o.tls_ca_file.empty())) {
    return absl::InvalidArgumentError(
        "query.tls.client.auth=required needs query.tls.cert.file, query.tls.key.file and query.tls.ca.file");
  }
  return o;
}

QueryServer::QueryServer(QueryBackend& backend, QueryServerOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {
  impl_->install_handlers();
}

QueryServer::~QueryServer() { stop(); }

void QueryServer::add_get_route(const std::string& pattern, RouteHandler handler) {
  KSTREAMS_CHECK(!impl_->started, "add_get_route() must be called before start()");
  KSTREAMS_CHECK(handler != nullptr, "a route needs a handler");
  impl_->add_route(pattern, std::move(handler));
}

absl::Status QueryServer::start() {
  KSTREAMS_CHECK(!impl_->started, "QueryServer::start() called twice");
  Impl& impl = *impl_;
  impl.started = true;
  if (absl::Status st = impl.server.start(); !st.ok()) {
    if (st.code() == absl::StatusCode::kInvalidArgument) {
      return absl::InvalidArgumentError("query server TLS (query.tls.*): " + std::string(st.message()));
    }
    return absl::UnavailableError("cannot bind the query server to " + impl.options.host + ":" +
                                  std::to_string(impl.options.port) + ": " + std::string(st.message()));
  }
  impl.self = impl.options.advertised_server.empty() ? impl.options.host + ":" + std::to_string(impl.server.port())
                                                     : impl.options.advertised_server;
  KS_LOG_INFO("query server listening on {}:{} as {}{}{}", impl.options.host, impl.server.port(), impl.self,
              impl.options.tls_cert_file.empty()
                  ? ""
                  : (impl.options.tls_client_auth ? " (https, client certificates required)" : " (https)"),
              impl.options.auth_token.empty() ? "" : " (bearer token required)");
  return absl::OkStatus();
}

void QueryServer::stop() {
  if (impl_) impl_->server.stop();
}

int QueryServer::port() const { return impl_->server.port(); }

std::string QueryServer::advertised_server() const { return impl_->self; }

QueryResponse QueryServer::forward_to(const std::string& owner, const QueryRequest& request) const {
  return impl_->forward(owner, request);
}

QueryResponse QueryServer::error(int status, const std::string& code, const std::string& message) {
  return json_response(status, {{"error", code}, {"message", message}});
}

}  // namespace kstreams::runtime
