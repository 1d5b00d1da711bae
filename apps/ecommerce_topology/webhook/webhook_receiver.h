// A test webhook for the notification sender: accepts POSTed notifications, deduplicates them by
// their Idempotency-Key header, and fails on purpose when asked to (a random share of 503s, seeded;
// an outage window after start; an outage started now through the admin endpoint).
//
// Routes:
//   POST /notifications (also POST /)  a notification (a JSON object). 200 for a new key and for a
//                                      duplicate; 503 when failing on purpose; 400 without an
//                                      Idempotency-Key or with a body that is not a JSON object.
//   POST /admin/outage?ms=N            every notification fails with 503 for the next N ms
//   GET  /stats                        {"received","unique","duplicates","failed_on_purpose","rejected"}
// `received` counts every notification POST; a request that fails on purpose is not recorded, so
// its retry counts as unique if it is the first to succeed.
//
// Thread-safety: handlers run on the server's thread(s); the state is behind one mutex, so stats()
// and accepted() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "kstreams/runtime/http.h"

namespace ecommerce::webhook {

struct WebhookOptions {
  std::string host = "127.0.0.1";
  int port = 8089;  // 0 = ephemeral
  double fail_share = 0;
  uint64_t seed = 1;
  int64_t outage_from_ms = -1;  // outage window [from, to) in ms after start; < 0 = none
  int64_t outage_to_ms = -1;
  // 0: one event-loop thread serves every connection (HttpServerEngine::kEventLoop): no thread per
  // connection and no context switch per request, so the receiver takes little of the CPU it
  // shares with the broker and the application on one machine. N > 0: the same loop with N worker
  // threads running the handlers (HttpServerEngine::kThreadPool; for comparisons).
  int worker_threads = 0;
};

struct WebhookStats {
  int64_t received = 0, unique = 0, duplicates = 0, failed_on_purpose = 0, rejected = 0;
};

[[nodiscard]] nlohmann::json to_json(const WebhookStats& s);

class WebhookReceiver {
 public:
  explicit WebhookReceiver(WebhookOptions options);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // kInvalidArgument for bad options; kUnavailable when the address cannot be bound.
  [[nodiscard]] absl::Status start();
  void stop();
  [[nodiscard]] int port() const;
  [[nodiscard]] WebhookStats stats() const;
  // Whether a notification with this Idempotency-Key was accepted.
  [[nodiscard]] bool accepted(const std::string& key) const;

 private:
  using Clock = std::chrono::steady_clock;
  kstreams::runtime::http::HttpResponse on_notification(const kstreams::runtime::http::HttpRequest& req);
  kstreams::runtime::http::HttpResponse on_outage(const kstreams::runtime::http::HttpRequest& req);
  bool failing_now(Clock::time_point now);  // requires mu_

  WebhookOptions options_;
  kstreams::runtime::http::HttpServer server_;
  mutable std::mutex mu_;
  Clock::time_point started_;
  Clock::time_point outage_until_;
  std::mt19937_64 rng_;
  std::set<std::string> keys_;
  WebhookStats stats_;
};

}  // namespace ecommerce::webhook
