// HttpClient and HttpServer over cpp-httplib 0.11.4 (see kstreams/runtime/http.h for the contract).
#include "kstreams/runtime/http.h"

#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>

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
  // The message may quote request bytes (a path) that are not UTF-8: replaced, never thrown on.
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
  // kThreadPool
  httplib::Server server;
  std::thread listener;
  // kEventLoop
  std::unique_ptr<internal::EventLoopServer> loop;

  void serve(const httplib::Request& req, httplib::Response& res) const {
    HttpRequest request;
    request.method = req.method;
    for (const auto& [k, v] : req.params) request.query[k] = v;
    request.headers = to_headers(req.headers);
    request.body = req.body;
    HttpResponse r = router.dispatch(req.target, std::move(request));
    res.status = r.status;
    for (const auto& [k, v] : r.headers) res.set_header(k.c_str(), v);
    res.set_content(r.body, r.content_type.c_str());
  }

  absl::Status start_thread_pool();
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { stop(); }

absl::Status HttpServer::handle(const std::string& method, const std::string& pattern, HttpHandler handler) {
  if (impl_->started) return absl::FailedPreconditionError("HttpServer::handle() after start()");
  return impl_->router.add(method, pattern, std::move(handler));
}

absl::Status HttpServer::start() {
  if (impl_->started.exchange(true)) return absl::FailedPreconditionError("HttpServer already started");
  if (impl_->options.engine == HttpServerEngine::kThreadPool) return impl_->start_thread_pool();
  internal::EventLoopServer::Options o;
  o.host = impl_->options.host;
  o.port = impl_->options.port;
  o.read_timeout = impl_->options.read_timeout;
  o.max_body_bytes = impl_->options.max_body_bytes;
  o.thread_name = impl_->options.thread_name;
  KSTREAMS_ASSIGN_OR_RETURN(impl_->loop, internal::EventLoopServer::start(std::move(o), &impl_->router));
  impl_->port = impl_->loop->port();
  return absl::OkStatus();
}

absl::Status HttpServer::Impl::start_thread_pool() {
  httplib::Server& svr = server;
  const int threads = std::max(1, options.worker_threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_read_timeout(options.read_timeout);
  svr.set_write_timeout(options.read_timeout);
  svr.set_keep_alive_timeout(2);
  // cpp-httplib closes a keep-alive connection after 5 requests by default, so a busy client (a
  // webhook dispatcher, a forwarding instance) reconnects every 5 calls. Not unbounded either: a
  // connection holds a worker thread while it lives, and closing it now and then lets connections
  // beyond worker_threads take turns (each waits at most ~100 requests of another).
  svr.set_keep_alive_max_count(100);
  svr.set_tcp_nodelay(true);
  // cpp-httplib's default also sets SO_REUSEPORT, which would let a second server silently share
  // the port: only SO_REUSEADDR (quick restarts) here.
  svr.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  auto serve_all = [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); };
  // Every method goes to our router, which works on the raw target.
  svr.Get(".*", serve_all);
  svr.Post(".*", serve_all);
  svr.Put(".*", serve_all);
  svr.Delete(".*", serve_all);
  svr.Patch(".*", serve_all);

  const std::string& host = options.host;
  int bound = options.port;
  if (bound == 0) {
    bound = svr.bind_to_any_port(host);
    if (bound <= 0) return absl::UnavailableError("cannot bind an ephemeral port on " + host);
  } else if (!svr.bind_to_port(host, bound)) {
    return absl::UnavailableError("cannot bind " + host + ":" + std::to_string(bound));
  }
  port = bound;
  listener = std::thread([&svr] { svr.listen_after_bind(); });
  // listen_after_bind() marks the server running before its accept loop; stop() before that
  // moment would be lost, so wait for it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!svr.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError("HTTP server on " + host + ":" + std::to_string(bound) + " did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

void HttpServer::stop() {
  if (impl_->loop) {
    impl_->loop->stop();
    return;
  }
  if (!impl_->listener.joinable()) return;
  impl_->server.stop();
  impl_->listener.join();
}

int HttpServer::port() const { return impl_->port; }

}  // namespace kstreams::runtime::http
