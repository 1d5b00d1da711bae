#include "topology/webhook_dispatcher.h"

#include <algorithm>

#include "kstreams/common/logging.h"
#include "model.h"

namespace ecommerce {

DeliveryOutcome classify_http_status(int status) {
  DeliveryOutcome o;
  if (status >= 200 && status < 300) {
    o.result = DeliveryResult::kDelivered;
    return o;
  }
  o.error = "HTTP " + std::to_string(status);
  if (status == 408 || status == 429 || status >= 500) {
    o.result = DeliveryResult::kRetriable;
    o.breaker_failure = true;
  } else if (status >= 400 && status < 500) {
    o.result = DeliveryResult::kPermanent;
  } else {
    o.result = DeliveryResult::kRetriable;  // 1xx/3xx as a final answer: the endpoint did answer
  }
  return o;
}

// ---- CircuitBreaker -----------------------------------------------------------------------------

CircuitBreaker::CircuitBreaker(int32_t failure_threshold, int64_t open_ms)
    : threshold_(std::max<int32_t>(1, failure_threshold)), open_ms_(std::max<int64_t>(0, open_ms)) {}

CircuitBreaker::Admission CircuitBreaker::admit(int64_t now, bool fresh) {
  std::lock_guard lock(mu_);
  clock_ = std::max(clock_, now);
  if (failures_ < threshold_) return Admission::kAdmitted;
  if (now < open_until_ || probe_in_flight_) {
    if (fresh) fresh_demand_at_ = now;
    return Admission::kRefused;
  }
  // Half-open: the probe should be a notification that has not failed yet, when one is waiting.
  if (!fresh && now - fresh_demand_at_ < kFreshDemandWindowMs) return Admission::kRefused;
  if (fresh) fresh_demand_at_ = now;
  probe_in_flight_ = true;
  return Admission::kProbe;
}

void CircuitBreaker::record(const DeliveryOutcome& outcome, bool probe) {
  std::lock_guard lock(mu_);
  if (probe) probe_in_flight_ = false;
  if (outcome.success()) {
    failures_ = 0;
    open_until_ = 0;
    return;
  }
  if (!outcome.breaker_failure) return;  // the endpoint answered (or nothing was sent): no verdict
  failures_ = std::min(failures_ + 1, threshold_);
  if (failures_ >= threshold_) {
    if (clock_ >= open_until_) ++times_opened_;  // (re)opening, not extending an open period
    open_until_ = clock_ + open_ms_;
  }
}

CircuitBreaker::State CircuitBreaker::state(int64_t now) const {
  std::lock_guard lock(mu_);
  if (failures_ < threshold_) return State::kClosed;
  return now < open_until_ ? State::kOpen : State::kHalfOpen;
}

int32_t CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

int64_t CircuitBreaker::times_opened() const {
  std::lock_guard lock(mu_);
  return times_opened_;
}

// ---- Mailbox ------------------------------------------------------------------------------------

std::vector<DeliveryOutcome> WebhookDispatcher::Mailbox::take() {
  std::lock_guard lock(mu_);
  std::vector<DeliveryOutcome> out;
  out.swap(outcomes_);
  return out;
}

void WebhookDispatcher::Mailbox::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  outcomes_.clear();
}

bool WebhookDispatcher::Mailbox::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void WebhookDispatcher::Mailbox::put(DeliveryOutcome outcome) {
  std::lock_guard lock(mu_);
  if (!closed_) outcomes_.push_back(std::move(outcome));
}

// ---- WebhookDispatcher --------------------------------------------------------------------------

WebhookDispatcher::WebhookDispatcher(Options options)
    : options_(std::move(options)), breaker_(options_.failure_threshold, options_.open_ms) {
  namespace http = kstreams::runtime::http;
  http::HttpPool::Options pool_options;
  pool_options.connections = std::max(1, options_.workers);
  pool_options.timeout = options_.timeout;
  pool_options.thread_name = "webhook-http";
  pool_options.batch_scheduling = options_.batch_scheduling;
  auto pool = http::HttpPool::create(options_.webhook_url, pool_options);
  if (pool.ok()) {
    pool_ = std::move(*pool);
  } else {
    pool_error_ = "webhook " + std::string(pool.status().message());
    KS_LOG_ERROR("notifications: {}; every delivery fails", pool_error_);
  }
}

WebhookDispatcher::~WebhookDispatcher() {
  pool_.reset();  // joins the I/O thread; calls not finished report kCancelled to their mailboxes
}

std::shared_ptr<WebhookDispatcher::Mailbox> WebhookDispatcher::open_mailbox() { return std::make_shared<Mailbox>(); }

bool WebhookDispatcher::batch_scheduling() const { return pool_ != nullptr && pool_->stats().batch_scheduling; }

bool WebhookDispatcher::submit(const std::shared_ptr<Mailbox>& mailbox, std::string notification_id, std::string body,
                               DeliveryAttempt attempt) {
  namespace http = kstreams::runtime::http;
  if (const absl::Status valid = http::check_header(kIdempotencyKeyHeader, notification_id); !valid.ok()) {
    DeliveryOutcome outcome;
    outcome.notification_id = std::move(notification_id);
    outcome.result = DeliveryResult::kPermanent;
    outcome.attempted = false;
    outcome.error = "not sent: " + std::string(valid.message());
    mailbox->put(std::move(outcome));
    return true;
  }
  const CircuitBreaker::Admission admission = breaker_.admit(attempt.now, attempt.fresh);
  if (admission == CircuitBreaker::Admission::kRefused) return false;
  const bool probe = admission == CircuitBreaker::Admission::kProbe;
  if (!pool_) {
    DeliveryOutcome outcome;
    outcome.notification_id = std::move(notification_id);
    outcome.attempted = false;
    outcome.error = pool_error_;
    breaker_.record(outcome, probe);
    mailbox->put(std::move(outcome));
    return true;
  }
  std::vector<std::pair<std::string, std::string>> headers{{kIdempotencyKeyHeader, notification_id}};
  pool_->post(std::move(body), headers,
              [this, mailbox, probe, id = std::move(notification_id)](absl::StatusOr<int> status) {
                DeliveryOutcome outcome;
                if (status.ok()) {
                  outcome = classify_http_status(*status);
                } else {
                  outcome.error = std::string(status.status().message());
                  switch (status.status().code()) {
                    case absl::StatusCode::kCancelled:
                      outcome.result = DeliveryResult::kCancelled;
                      outcome.attempted = false;
                      break;
                    case absl::StatusCode::kInvalidArgument:  // refused before sending
                      outcome.result = DeliveryResult::kPermanent;
                      outcome.attempted = false;
                      break;
                    default:  // timeouts, connection errors, responses that are not HTTP or too large
                      outcome.result = DeliveryResult::kRetriable;
                      outcome.breaker_failure = true;
                      break;
                  }
                }
                outcome.notification_id = id;
                breaker_.record(outcome, probe);
                mailbox->put(std::move(outcome));
              });
  return true;
}

}  // namespace ecommerce
