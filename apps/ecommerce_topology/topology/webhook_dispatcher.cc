#include "topology/webhook_dispatcher.h"

#include "kstreams/runtime/http.h"
#include "model.h"

namespace ecommerce {

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

WebhookDispatcher::WebhookDispatcher(Options options) : options_(std::move(options)) {
  auto pool = kstreams::runtime::http::HttpPool::create(
      options_.webhook_url, kstreams::runtime::http::HttpPool::Options{std::max(1, options_.workers), options_.timeout,
                                                                       "webhook-http", options_.batch_scheduling});
  if (pool.ok()) {
    pool_ = std::move(*pool);
    return;
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { work(); });
}

WebhookDispatcher::~WebhookDispatcher() {
  pool_.reset();  // joins the I/O thread; calls not finished report kCancelled to their mailboxes
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

std::shared_ptr<WebhookDispatcher::Mailbox> WebhookDispatcher::open_mailbox() { return std::make_shared<Mailbox>(); }

bool WebhookDispatcher::batch_scheduling() const { return pool_ != nullptr && pool_->stats().batch_scheduling; }

void WebhookDispatcher::submit(const std::shared_ptr<Mailbox>& mailbox, std::string notification_id, std::string body) {
  if (pool_) {
    if (mailbox->closed()) return;
    std::vector<std::pair<std::string, std::string>> headers{{kIdempotencyKeyHeader, notification_id}};
    pool_->post(std::move(body), headers, [mailbox, id = std::move(notification_id)](absl::StatusOr<int> status) {
      DeliveryOutcome outcome;
      outcome.notification_id = id;
      if (!status.ok()) {
        outcome.error = std::string(status.status().message());
      } else if (*status >= 200 && *status < 300) {
        outcome.success = true;
      } else {
        outcome.error = "HTTP " + std::to_string(*status);
      }
      mailbox->put(std::move(outcome));
    });
    return;
  }
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{mailbox, std::move(notification_id), std::move(body)});
  }
  cv_.notify_one();
}

void WebhookDispatcher::work() {
  namespace http = kstreams::runtime::http;
  std::unique_ptr<http::HttpClient> client;
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    DeliveryOutcome outcome;
    outcome.notification_id = job.notification_id;
    if (!job.mailbox->closed()) {
      if (!client) {
        auto created = http::HttpClient::create(options_.webhook_url, {options_.timeout, options_.timeout});
        if (created.ok()) {
          client = std::move(*created);
        } else {
          outcome.error = std::string(created.status().message());
        }
      }
      if (client) {
        auto response = client->post_json("", job.body, {{kIdempotencyKeyHeader, job.notification_id}});
        if (!response.ok()) {
          outcome.error = std::string(response.status().message());
          client.reset();  // reconnect next time
        } else if (response->status >= 200 && response->status < 300) {
          outcome.success = true;
        } else {
          outcome.error = "HTTP " + std::to_string(response->status);
        }
      }
      job.mailbox->put(std::move(outcome));
    }
  }
}

}  // namespace ecommerce
