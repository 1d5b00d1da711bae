#include "webhook/webhook_receiver.h"

#include <algorithm>
#include <charconv>

#include "model.h"

namespace ecommerce::webhook {

using kstreams::runtime::http::HttpRequest;
using kstreams::runtime::http::HttpResponse;
using kstreams::runtime::http::json_error;

nlohmann::json to_json(const WebhookStats& s) {
  return {{"received", s.received},
          {"unique", s.unique},
          {"duplicates", s.duplicates},
          {"failed_on_purpose", s.failed_on_purpose},
          {"rejected", s.rejected}};
}

namespace {

kstreams::runtime::http::HttpServerOptions server_options(const WebhookOptions& o) {
  kstreams::runtime::http::HttpServerOptions s;
  s.host = o.host;
  s.port = o.port;
  s.worker_threads = std::max(1, o.worker_threads);
  if (o.worker_threads == 0) {
    s.engine = kstreams::runtime::http::HttpServerEngine::kEventLoop;
    s.thread_name = "webhook-loop";
  }
  return s;
}

}  // namespace

WebhookReceiver::WebhookReceiver(WebhookOptions options)
    : options_(std::move(options)),
      server_(server_options(options_)),
      started_(Clock::now()),
      outage_until_(started_),
      rng_(options_.seed) {}

WebhookReceiver::~WebhookReceiver() { stop(); }

absl::Status WebhookReceiver::start() {
  if (!(options_.fail_share >= 0 && options_.fail_share <= 1)) {
    return absl::InvalidArgumentError("fail share must be in [0, 1]");
  }
  if ((options_.outage_from_ms >= 0) != (options_.outage_to_ms >= 0) ||
      (options_.outage_from_ms >= 0 && options_.outage_to_ms < options_.outage_from_ms)) {
    return absl::InvalidArgumentError("an outage needs 0 <= from <= to");
  }
  if (options_.worker_threads < 0) return absl::InvalidArgumentError("worker threads must be >= 0");
  auto notify = [this](const HttpRequest& r) { return on_notification(r); };
  KSTREAMS_RETURN_IF_ERROR(server_.handle("POST", "/notifications", notify));
  KSTREAMS_RETURN_IF_ERROR(server_.handle("POST", "/", notify));
  KSTREAMS_RETURN_IF_ERROR(
      server_.handle("POST", "/admin/outage", [this](const HttpRequest& r) { return on_outage(r); }));
  KSTREAMS_RETURN_IF_ERROR(server_.handle("GET", "/stats", [this](const HttpRequest&) {
    HttpResponse res;
    res.body = to_json(stats()).dump();
    return res;
  }));
  {
    std::lock_guard lock(mu_);
    started_ = Clock::now();
    outage_until_ = started_;
  }
  return server_.start();
}

void WebhookReceiver::stop() { server_.stop(); }

int WebhookReceiver::port() const { return server_.port(); }

WebhookStats WebhookReceiver::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool WebhookReceiver::accepted(const std::string& key) const {
  std::lock_guard lock(mu_);
  return keys_.count(key) > 0;
}

bool WebhookReceiver::failing_now(Clock::time_point now) {
  if (now < outage_until_) return true;
  const auto since_start = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
  if (options_.outage_from_ms >= 0 && since_start >= options_.outage_from_ms && since_start < options_.outage_to_ms) {
    return true;
  }
  if (options_.fail_share <= 0) return false;
  // 53 random bits -> [0, 1).
  const double draw = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return draw < options_.fail_share;
}

HttpResponse WebhookReceiver::on_notification(const HttpRequest& req) {
  auto key = req.headers.find(kIdempotencyKeyHeader);
  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  std::lock_guard lock(mu_);
  ++stats_.received;
  if (failing_now(Clock::now())) {
    ++stats_.failed_on_purpose;
    return json_error(503, "unavailable", "failing on purpose");
  }
  if (key == req.headers.end() || key->second.empty()) {
    ++stats_.rejected;
    return json_error(400, "bad_request", "missing Idempotency-Key header");
  }
  if (!body.is_object()) {
    ++stats_.rejected;
    return json_error(400, "bad_request", "body is not a JSON object");
  }
  const bool fresh = keys_.insert(key->second).second;
  ++(fresh ? stats_.unique : stats_.duplicates);
  HttpResponse res;
  res.body = nlohmann::json{{"status", fresh ? "accepted" : "duplicate"}}.dump();
  return res;
}

HttpResponse WebhookReceiver::on_outage(const HttpRequest& req) {
  auto ms_param = req.query.find("ms");
  int64_t ms = 0;
  if (ms_param == req.query.end()) return json_error(400, "bad_request", "missing query parameter ms");
  const std::string& text = ms_param->second;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || ptr != text.data() + text.size() || ms < 0) {
    return json_error(400, "bad_request", "ms must be an integer >= 0");
  }
  std::lock_guard lock(mu_);
  outage_until_ = Clock::now() + std::chrono::milliseconds(ms);
  HttpResponse res;
  res.body = nlohmann::json{{"outage_ms", ms}}.dump();
  return res;
}

}  // namespace ecommerce::webhook
