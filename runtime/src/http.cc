// HttpClient over cpp-httplib 0.11.4, HttpServer over the event loop (http_event_loop.h); the
// contract is in kstreams/runtime/http.h.
#include "kstreams/runtime/http.h"

#include <httplib.h>
#include <strings.h>

#include <atomic>
#include <cctype>
#include <exception>
#include <mutex>
#include <regex>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_event_loop.h"
#include "http_router.h"
#include "http_tls.h"
#include "http_url.h"

namespace kstreams::runtime::http {
namespace {

HttpHeaders to_headers(const httplib::Headers& in) {
  HttpHeaders out;
  for (const auto& [k, v] : in) out[k] = v;
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct ParsedUrl {
  std::string origin;  // scheme://host:port
  std::string prefix;  // "" or "/path" without a trailing slash
};

absl::StatusOr<ParsedUrl> parse_base_url(const std::string& base_url) {
  KSTREAMS_ASSIGN_OR_RETURN(internal::HttpUrl url, internal::parse_url(base_url));
  ParsedUrl out;
  out.origin = url.scheme + "://" + url.host + ":" + url.port;
  out.prefix = url.path;
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  return out;
}

}  // namespace

namespace internal {

absl::StatusOr<HttpUrl> parse_url(const std::string& url) {
  static const std::regex kUrl(R"(^(?:(https?)://)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(/.*)?$)");
  std::smatch m;
  if (!std::regex_match(url, m, kUrl)) return absl::InvalidArgumentError("malformed URL: '" + url + "'");
  HttpUrl out;
  out.scheme = m[1].matched ? m[1].str() : "http";
  out.host = m[2].str();
  out.explicit_port = m[3].matched;
  out.port = out.explicit_port ? m[3].str() : (out.scheme == "https" ? "443" : "80");
  if (std::stoi(out.port) <= 0 || std::stoi(out.port) > 65535) {
    return absl::InvalidArgumentError("port out of range in URL: '" + url + "'");
  }
  out.path = m[4].matched ? m[4].str() : "";
  return out;
}

}  // namespace internal

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const int ca = std::tolower(static_cast<unsigned char>(a[i]));
    const int cb = std::tolower(static_cast<unsigned char>(b[i]));
    if (ca != cb) return ca < cb;
  }
  return a.size() < b.size();
}

HttpResponse json_error(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  // Invalid UTF-8 (e.g. from a request's bytes) is replaced, never thrown on.
  r.body = nlohmann::json{{"error", code}, {"message", message}}.dump(-1, ' ', false,
                                                                      nlohmann::json::error_handler_t::replace);
  return r;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

bool url_decode(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// HttpClient

struct HttpClient::Impl {
  ParsedUrl url;
  HttpClientOptions options;
  std::mutex mu;  // serializes requests over the single connection
  std::unique_ptr<httplib::Client> client;

  std::string full_path(const std::string& path) const {
    std::string p = url.prefix;
    if (!path.empty() && path.front() != '/') p.push_back('/');
    p += path;
    return p.empty() ? "/" : p;
  }

  absl::StatusOr<HttpResponse> convert(const httplib::Result& res, std::chrono::steady_clock::time_point started,
                                       const std::string& what) const {
    if (res) {
      HttpResponse out;
      out.status = res->status;
      out.body = res->body;
      out.headers = to_headers(res->headers);
      auto ct = out.headers.find("Content-Type");
      out.content_type = ct == out.headers.end() ? "" : ct->second;
      return out;
    }
    const httplib::Error err = res.error();
    const std::string msg = what + " " + url.origin + ": " + httplib::to_string(err);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    switch (err) {
      case httplib::Error::ConnectionTimeout:
        return absl::DeadlineExceededError(msg + " (connect timeout)");
      case httplib::Error::Read:
      case httplib::Error::Write:
        // cpp-httplib reports a read timeout as a read error: tell them apart by the time spent.
        if (elapsed >= options.read_timeout * 9 / 10) return absl::DeadlineExceededError(msg + " (read timeout)");
        return absl::UnavailableError(msg);
      default:
        return absl::UnavailableError(msg);
    }
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::create(const std::string& base_url, HttpClientOptions options) {
  KSTREAMS_ASSIGN_OR_RETURN(ParsedUrl url, parse_base_url(base_url));
  auto impl = std::make_unique<Impl>();
  impl->url = std::move(url);
  impl->options = options;
  impl->client = std::make_unique<httplib::Client>(impl->url.origin);
  if (!impl->client->is_valid()) return absl::InvalidArgumentError("unsupported base URL: '" + base_url + "'");
  impl->client->set_keep_alive(true);
  impl->client->set_tcp_nodelay(true);  // headers and body go out in separate writes
  impl->client->set_connection_timeout(options.connect_timeout);
  impl->client->set_read_timeout(options.read_timeout);
  impl->client->set_write_timeout(options.read_timeout);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

absl::StatusOr<HttpResponse> HttpClient::post_json(const std::string& path, const std::string& body,
                                                   const HttpHeaders& headers) {
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  const std::string target = impl_->full_path(path);
  std::lock_guard lock(impl_->mu);
  const auto started = std::chrono::steady_clock::now();
  httplib::Result res = impl_->client->Post(target.c_str(), h, body, "application/json");
  return impl_->convert(res, started, "POST " + target);
}

absl::StatusOr<HttpResponse> HttpClient::get(const std::string& path, const HttpHeaders& headers) {
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  const std::string target = impl_->full_path(path);
  std::lock_guard lock(impl_->mu);
  const auto started = std::chrono::steady_clock::now();
  httplib::Result res = impl_->client->Get(target.c_str(), h);
  return impl_->convert(res, started, "GET " + target);
}

const std::string& HttpClient::origin() const { return impl_->url.origin; }

// ---------------------------------------------------------------------------------------------
// HttpServer

struct HttpServer::Impl {
  HttpServerOptions options;
  internal::Router router;  // immutable once started
  std::atomic<bool> started{false};
  std::atomic<int> port{0};
  std::unique_ptr<internal::EventLoopServer> loop;
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { stop(); }

absl::Status HttpServer::handle(const std::string& method, const std::string& pattern, HttpHandler handler) {
  if (impl_->started) return absl::FailedPreconditionError("HttpServer::handle() after start()");
  return impl_->router.add(method, pattern, std::move(handler));
}

absl::Status HttpServer::handle_any(HttpHandler handler) {
  if (impl_->started) return absl::FailedPreconditionError("HttpServer::handle_any() after start()");
  return impl_->router.set_fallback(std::move(handler));
}

absl::Status HttpServer::start() {
  if (impl_->started.exchange(true)) return absl::FailedPreconditionError("HttpServer already started");
  const HttpServerOptions& opts = impl_->options;
  internal::EventLoopServer::Options o;
  o.host = opts.host;
  o.port = opts.port;
  o.read_timeout = opts.read_timeout;
  o.keep_alive_timeout = opts.idle_timeout;
  o.max_body_bytes = opts.max_body_bytes;
  o.max_header_bytes = opts.max_header_bytes;
  o.max_request_line_bytes = opts.max_request_line_bytes;
  o.max_header_fields = opts.max_header_fields;
  o.max_connections = std::max<size_t>(1, opts.max_connections);
  o.handler_threads =
      opts.engine == HttpServerEngine::kThreadPool ? static_cast<size_t>(std::max(1, opts.worker_threads)) : 0;
  o.max_queued_requests = std::max<size_t>(1, opts.max_queued_requests);
  o.thread_name = opts.thread_name;
  if (opts.tls.enabled()) {
    KSTREAMS_ASSIGN_OR_RETURN(o.tls, internal::TlsServerContext::create(opts.tls));
  }
  KSTREAMS_ASSIGN_OR_RETURN(impl_->loop, internal::EventLoopServer::start(std::move(o), &impl_->router));
  impl_->port = impl_->loop->port();
  return absl::OkStatus();
}

void HttpServer::stop() {
  if (impl_->loop) impl_->loop->stop();
}

int HttpServer::port() const { return impl_->port; }

}  // namespace kstreams::runtime::http
