// HttpServer over the event loop (http_event_loop.h), and the helpers of kstreams/runtime/http.h
// (header ordering, JSON errors, percent-encoding); the contract is in that header.
#include "kstreams/runtime/http.h"

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
#include "http_wire.h"

namespace kstreams::runtime::http {

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
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      internal::append_percent_encoded(&out, u);
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
    const int hi = internal::hex_digit(s[i + 1]);
    const int lo = internal::hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

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
