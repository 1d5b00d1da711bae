// WebhookDispatcher: POSTs notifications to the webhook off the stream threads (ARCHITECTURE.md,
// "Side effects without blocking the stream"), and owns the webhook's circuit breaker. Every call
// goes through one kstreams::runtime::http::HttpPool (libcurl's multi interface on one I/O thread,
// `workers` keep-alive connections, http:// and https://).
//
// Tasks never wait for HTTP: a task opens a Mailbox, submits deliveries into the pool, and
// collects the outcomes from its mailbox on its own thread (in a wall-clock punctuator). A task that
// closes marks its mailbox closed; outcomes that arrive later are dropped (the task's new owner
// re-sends what is still in the outbox store, so delivery to the webhook is at-least-once, with the
// Idempotency-Key header, while Kafka sees each receipt exactly once).
//
// The circuit breaker protects the endpoint, so there is one per dispatcher (one dispatcher per
// webhook URL per instance), shared by every task and stream thread. It counts only failures of
// the endpoint (timeouts, connection errors, 5xx, 408, 429); the dispatcher feeds it every call's
// result itself, on the I/O thread, even when the task that made the call has gone. It lives in
// memory: a restarted instance starts with a closed breaker (see docs/ecommerce.md), while retry
// schedules and attempt counts are in the outbox store and survive restarts and task moves.
//
// Thread-safety: every method of WebhookDispatcher, Mailbox and CircuitBreaker is thread-safe.
// Ownership: one dispatcher per process, shared by every task (std::shared_ptr); destroying it
// joins the I/O thread (calls not finished report a cancelled outcome to their mailboxes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kstreams/runtime/http_pool.h"

namespace ecommerce {

// What a call's result means for the notification and for the breaker.
enum class DeliveryResult {
  kDelivered,  // 2xx
  // Worth retrying. `breaker_failure` says whether it is the endpoint's failure (timeout,
  // connection error, 5xx, 408, 429) or not (e.g. a 3xx, which is not followed).
  kRetriable,
  // The request's fault: a 4xx other than 408/429, or a notification that cannot be sent as a valid
  // HTTP request (e.g. CR/LF in its id). Never retried: it goes to notifications-dlq at once.
  kPermanent,
  kCancelled,  // the dispatcher was destroyed before the call finished: not an attempt
};

struct DeliveryOutcome {
  std::string notification_id;
  DeliveryResult result = DeliveryResult::kRetriable;
  bool attempted = true;         // false: no request reached the wire (invalid request, cancelled)
  bool breaker_failure = false;  // counted as a failure of the endpoint
  std::string error;             // "HTTP 503", "connection refused", ... (empty when delivered)
  [[nodiscard]] bool success() const { return result == DeliveryResult::kDelivered; }
};

// The outcome of an HTTP status code (any code).
[[nodiscard]] DeliveryOutcome classify_http_status(int status);

// One circuit breaker: closed (calls flow), open (no call until open_until), half-open (one probe
// at a time; its success closes the breaker, its endpoint failure re-opens it, anything else frees
// the probe slot for the next one). `failure_threshold` consecutive endpoint failures open it.
//
// Time is the callers' wall clock in epoch ms (a task's punctuator time): admit() and state() take
// it, and record() uses the latest `now` any caller passed (so a test's manual clock drives it).
//
// The probe is the oldest notification that has not failed yet: tasks offer their oldest such
// notification first (`fresh`), and a retry is admitted as the probe only when no task offered a
// fresh one in the last kFreshDemandWindowMs. So a notification that keeps failing cannot keep the
// breaker open while deliverable ones wait.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  enum class Admission { kAdmitted, kProbe, kRefused };
  static constexpr int64_t kFreshDemandWindowMs = 1000;

  CircuitBreaker(int32_t failure_threshold, int64_t open_ms);

  // May a call start now? kProbe: yes, as the half-open probe (pass probe = true to record()).
  [[nodiscard]] Admission admit(int64_t now, bool fresh);
  // The result of an admitted call. `probe`: it was admitted as kProbe.
  void record(const DeliveryOutcome& outcome, bool probe);
  [[nodiscard]] State state(int64_t now) const;
  [[nodiscard]] int32_t consecutive_failures() const;
  [[nodiscard]] int64_t times_opened() const;

 private:
  const int32_t threshold_;
  const int64_t open_ms_;
  mutable std::mutex mu_;
  int64_t clock_ = 0;  // the latest `now` seen
  int32_t failures_ = 0;
  int64_t open_until_ = 0;
  bool probe_in_flight_ = false;
  int64_t fresh_demand_at_ = INT64_MIN / 2;  // last time a fresh notification was refused or probed
  int64_t times_opened_ = 0;
};

// Where a submission stands with the breaker: `now` (the caller's wall clock, epoch ms) and
// whether the notification has never failed (see CircuitBreaker).
struct DeliveryAttempt {
  int64_t now = 0;
  bool fresh = true;
};

class WebhookDispatcher {
 public:
  struct Options {
    std::string webhook_url;
    int workers = 4;  // concurrent calls (keep-alive connections)
    std::chrono::milliseconds timeout{2000};
    // HttpPool::Options::batch_scheduling for the I/O thread ("webhook-http"), so its wake-up per
    // response does not preempt the stream threads (see docs/benchmarks.md).
    bool batch_scheduling = true;
    int32_t failure_threshold = 5;  // notifications.circuit.failure.threshold
    int64_t open_ms = 5000;         // notifications.circuit.open.ms
  };

  class Mailbox {
   public:
    // Outcomes delivered since the last call.
    std::vector<DeliveryOutcome> take();
    void close();
    [[nodiscard]] bool closed() const;

   private:
    friend class WebhookDispatcher;
    void put(DeliveryOutcome outcome);
    mutable std::mutex mu_;
    std::vector<DeliveryOutcome> outcomes_;
    bool closed_ = false;
  };

  // An invalid URL (or one libcurl cannot speak) does not fail construction: every call then ends
  // as a retriable outcome naming the problem (the notifications dead-letter after their attempts).
  explicit WebhookDispatcher(Options options);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  [[nodiscard]] std::shared_ptr<Mailbox> open_mailbox();
  // Offers one POST of `body` with Idempotency-Key: notification_id; the outcome goes to `mailbox`.
  // false: the breaker refused the call (nothing sent, no outcome will come; offer it again later).
  // A notification_id that is not a valid header value is not sent: its kPermanent outcome is in
  // the mailbox when this returns (true), and the breaker is not consulted.
  bool submit(const std::shared_ptr<Mailbox>& mailbox, std::string notification_id, std::string body,
              DeliveryAttempt attempt = {});
  [[nodiscard]] CircuitBreaker& breaker() { return breaker_; }
  [[nodiscard]] const Options& options() const { return options_; }
  // True when the I/O thread runs under SCHED_BATCH.
  [[nodiscard]] bool batch_scheduling() const;

 private:
  Options options_;
  CircuitBreaker breaker_;
  std::string pool_error_;                                   // why pool_ is null
  std::unique_ptr<kstreams::runtime::http::HttpPool> pool_;  // destroyed first (see the destructor)
};

}  // namespace ecommerce
