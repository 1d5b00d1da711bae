#include "query_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include "kstreams/common/logging.h"
#include "kstreams/runtime/http.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
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

// ---- URL handling -------------------------------------------------------------------------------

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict percent-decoding: a '%' not followed by two hex digits is an error.
absl::StatusOr<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError("malformed percent-encoding in '" + std::string(s) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

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

// Decodes and requires UTF-8 (keys and parameters end up in JSON answers).
absl::StatusOr<std::string> decode_text(std::string_view s, bool plus_is_space) {
  KSTREAMS_ASSIGN_OR_RETURN(std::string out, url_decode(s, plus_is_space));
  if (!is_utf8(out)) return absl::InvalidArgumentError("the request path and parameters must be UTF-8 text");
  return out;
}

struct ParsedTarget {
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
};

absl::StatusOr<ParsedTarget> parse_target(std::string_view target) {
  target = target.substr(0, target.find('#'));
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (path.empty() || path[0] != '/') return absl::InvalidArgumentError("the request path must start with '/'");
  ParsedTarget parsed;
  for (std::string_view raw : split(path.substr(1), '/')) {
    KSTREAMS_ASSIGN_OR_RETURN(std::string segment, decode_text(raw, /*plus_is_space=*/false));
    parsed.segments.push_back(std::move(segment));
  }
  if (q != std::string_view::npos) {
    for (std::string_view pair : split(target.substr(q + 1), '&')) {
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      KSTREAMS_ASSIGN_OR_RETURN(std::string name, decode_text(pair.substr(0, eq), true));
      std::string value;
      if (eq != std::string_view::npos) {
        KSTREAMS_ASSIGN_OR_RETURN(value, decode_text(pair.substr(eq + 1), true));
      }
      parsed.query[std::move(name)] = std::move(value);
    }
  }
  return parsed;
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

struct Route {
  std::vector<std::string> segments;  // literal or "{name}"
  RouteHandler handler;
};

std::vector<std::string> pattern_segments(const std::string& pattern) {
  KSTREAMS_CHECK(!pattern.empty() && pattern[0] == '/', "a route pattern must start with '/'");
  std::vector<std::string> out;
  for (std::string_view s : split(std::string_view(pattern).substr(1), '/')) out.emplace_back(s);
  return out;
}

bool is_placeholder(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

bool match(const Route& route, const std::vector<std::string>& segments, std::map<std::string, std::string>* params) {
  if (route.segments.size() != segments.size()) return false;
  params->clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    if (is_placeholder(route.segments[i])) {
      (*params)[route.segments[i].substr(1, route.segments[i].size() - 2)] = segments[i];
    } else if (route.segments[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::pair<std::string, int>> split_server(const std::string& server) {
  const size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError("server address must be host:port, got '" + server + "'");
  }
  int port = 0;
  const std::string port_text = server.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError("bad port in server address '" + server + "'");
  }
  std::string host = server.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, port);
}

}  // namespace

std::string url_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::StatusOr<HttpResponse> http_request(const std::string& server, const std::string& method,
                                          const std::string& target, const std::map<std::string, std::string>& headers,
                                          milliseconds timeout, const ClientTls* tls) {
  KSTREAMS_ASSIGN_OR_RETURN(auto host_port, split_server(server));
  std::unique_ptr<httplib::ClientImpl> owned;
  if (tls != nullptr) {
    auto ssl = tls->cert_file.empty() ? std::make_unique<httplib::SSLClient>(host_port.first, host_port.second)
                                      : std::make_unique<httplib::SSLClient>(host_port.first, host_port.second,
                                                                             tls->cert_file, tls->key_file);
    if (!ssl->is_valid()) {
      return absl::UnavailableError("HTTPS client for " + server + ": cannot load the client certificate '" +
                                    tls->cert_file + "' or key '" + tls->key_file + "'");
    }
    (void)SSL_CTX_set_min_proto_version(ssl->ssl_context(), TLS1_2_VERSION);
    if (!tls->ca_file.empty()) ssl->set_ca_cert_path(tls->ca_file);
    ssl->enable_server_certificate_verification(true);  // chain and host name
    owned = std::move(ssl);
  } else {
    owned = std::make_unique<httplib::ClientImpl>(host_port.first, host_port.second);
  }
  httplib::ClientImpl& client = *owned;
  client.set_url_encode(false);  // `target` is sent as given
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_keep_alive(false);
  // Without it, over TLS the request waits behind the handshake's last write for the server's
  // delayed ACK (Nagle): 40 ms per hop.
  client.set_tcp_nodelay(true);
  httplib::Request req;
  req.method = method;
  req.path = target;
  for (const auto& [k, v] : headers) req.headers.emplace(k, v);
  httplib::Result result = client.send(req);
  if (!result) {
    return absl::UnavailableError(std::string(tls != nullptr ? "HTTPS " : "HTTP ") + method + " " + server + target +
                                  " failed: " + httplib::to_string(result.error()));
  }
  HttpResponse out;
  out.status = result->status;
  out.body = result->body;
  out.content_type = result->get_header_value("Content-Type");
  for (const auto& [k, v] : result->headers) out.headers[k] = v;
  return out;
}

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

struct QueryServer::Impl {
  Impl(QueryBackend& b, QueryServerOptions o) : backend(b), options(std::move(o)), server(server_options(options)) {
    if (!options.tls_cert_file.empty()) {
      peer_tls = ClientTls{options.tls_ca_file, options.tls_cert_file, options.tls_key_file};
    }
  }

  QueryBackend& backend;
  const QueryServerOptions options;
  http::HttpServer server;
  bool started = false;  // start() was called (never reset: a server is started once)
  std::vector<Route> builtin;
  std::vector<Route> app_routes;
  std::string self;
  std::optional<ClientTls> peer_tls;  // set: the other instances are reached over https

  // Whether `path` (raw) needs the bearer token.
  bool needs_token(std::string_view path) const {
    if (options.auth_token.empty()) return false;
    if (path == "/healthz") return options.auth_healthz;
    if (path == "/metrics") return options.auth_metrics;
    return true;
  }

  [[nodiscard]] const ClientTls* peer_tls_ptr() const { return peer_tls ? &*peer_tls : nullptr; }

  // Headers of a request to another instance: the loop guard and, when set, the token.
  std::map<std::string, std::string> peer_headers() const {
    std::map<std::string, std::string> h{{kForwardedByHeader, self}};
    if (!options.auth_token.empty()) h["Authorization"] = "Bearer " + options.auth_token;
    return h;
  }

  QueryResponse dispatch(const http::HttpRequest& http) {
    if (http.method != "GET") {
      QueryResponse r = error(405, "method_not_allowed", "only GET (and HEAD) are supported");
      r.headers["Allow"] = "GET, HEAD";
      return r;
    }
    if (needs_token(http.path)) {
      auto auth = http.headers.find("Authorization");
      const std::string_view prefix = "Bearer ";
      if (auth == http.headers.end() || auth->second.compare(0, prefix.size(), prefix) != 0 ||
          !same_secret(std::string_view(auth->second).substr(prefix.size()), options.auth_token)) {
        QueryResponse r = error(401, "unauthorized", "a valid bearer token is required");
        r.headers["WWW-Authenticate"] = "Bearer";
        return r;
      }
    }
    auto parsed = parse_target(http.target);
    if (!parsed.ok()) return error(400, "bad_request", std::string(parsed.status().message()));
    QueryRequest req;
    req.target = http.target;
    req.query = std::move(parsed->query);
    auto fwd = http.headers.find(kForwardedByHeader);
    if (fwd != http.headers.end()) req.forwarded_by = fwd->second;
    for (const auto* routes : {&builtin, &app_routes}) {
      for (const Route& route : *routes) {
        if (match(route, parsed->segments, &req.path_params)) return route.handler(req);
      }
    }
    return error(404, "not_found", "no such route");
  }

  http::HttpResponse handle(const http::HttpRequest& http) {
    QueryResponse r;
    try {
      r = dispatch(http);
    } catch (const std::exception& e) {
      KS_LOG_ERROR("query server: GET {} failed: {}", http.path.substr(0, 200), e.what());
      r = error(500, "internal", "internal error");
    } catch (...) {
      KS_LOG_ERROR("query server: GET {} failed with an unknown exception", http.path.substr(0, 200));
      r = error(500, "internal", "internal error");
    }
    http::HttpResponse out;
    out.status = r.status;
    out.body = std::move(r.body);
    out.content_type = std::move(r.content_type);
    for (auto& [k, v] : r.headers) out.headers[k] = std::move(v);
    return out;
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
      const std::string remote_target = "/v1/stores/" + url_encode(store) + "/range?from=" + url_encode(from) +
                                        "&to=" + url_encode(to) + "&limit=" + std::to_string(*limit) +
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
    auto response = http_request(server, "GET", target, peer_headers(), options.forward_timeout, peer_tls_ptr());
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
    auto response = http_request(owner, "GET", req.target, peer_headers(), options.forward_timeout, peer_tls_ptr());
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

  void add_builtin(const std::string& pattern, QueryResponse (Impl::*fn)(const QueryRequest&)) {
    builtin.push_back({pattern_segments(pattern), [this, fn](const QueryRequest& r) { return (this->*fn)(r); }});
  }

  void install_handlers() {
    add_builtin("/healthz", &Impl::healthz);
    add_builtin("/metrics", &Impl::metrics);
    add_builtin("/v1/metadata", &Impl::metadata);
    add_builtin("/v1/stores", &Impl::stores);
    add_builtin("/v1/stores/{store}/keys/{key}", &Impl::key);
    add_builtin("/v1/stores/{store}/range", &Impl::range);
    add_builtin("/v1/stores/{store}/windows/{key}", &Impl::windows);

    // Routing is ours (on the raw target): every request goes to handle().
    KSTREAMS_CHECK(server.handle_any([this](const http::HttpRequest& r) { return handle(r); }).ok(),
                   "the query server's handler");
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
  impl_->app_routes.push_back({pattern_segments(pattern), std::move(handler)});
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
