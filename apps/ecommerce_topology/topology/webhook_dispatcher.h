// WebhookDispatcher: POSTs notifications to the webhook off the stream threads (ARCHITECTURE.md,
// "Side effects without blocking the stream"). An http:// webhook gets `workers` keep-alive
// connections multiplexed by one I/O thread (kstreams::runtime::http::HttpPool); an https one (or
// a URL the pool refuses) gets `workers` threads with a blocking HttpClient each.
//
// Tasks never wait for HTTP: a task opens a Mailbox, submits deliveries into the shared queue, and
// collects the outcomes from its mailbox on its own thread (in a wall-clock punctuator). A task that
// closes marks its mailbox closed; outcomes that arrive later are dropped (the task's new owner
// re-sends what is still in the outbox store, so delivery to the webhook is at-least-once, with the
// Idempotency-Key header, while Kafka sees each receipt exactly once).
//
// Thread-safety: every method is thread-safe. Ownership: one dispatcher per process, shared by
// every task (std::shared_ptr); it outlives its mailboxes' use by joining its workers on destruction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kstreams/runtime/http_pool.h"

namespace ecommerce {

struct DeliveryOutcome {
  std::string notification_id;
  bool success = false;
  std::string error;  // "HTTP 503", "connection refused", ...
};

class WebhookDispatcher {
 public:
  struct Options {
    std::string webhook_url;
    int workers = 4;  // concurrent calls: connections (http://) or threads (https://)
    std::chrono::milliseconds timeout{2000};
    // http:// only: HttpPool::Options::batch_scheduling for the I/O thread ("webhook-http"), so
    // its wake-up per response does not preempt the stream threads (see docs/benchmarks.md).
    bool batch_scheduling = true;
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

  explicit WebhookDispatcher(Options options);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  [[nodiscard]] std::shared_ptr<Mailbox> open_mailbox();
  // Queues one POST of `body` with Idempotency-Key: notification_id; the outcome goes to `mailbox`.
  void submit(const std::shared_ptr<Mailbox>& mailbox, std::string notification_id, std::string body);
  // True when calls go through the HttpPool and its I/O thread runs under SCHED_BATCH.
  [[nodiscard]] bool batch_scheduling() const;

 private:
  struct Job {
    std::shared_ptr<Mailbox> mailbox;
    std::string notification_id;
    std::string body;
  };
  void work();

  Options options_;
  std::unique_ptr<kstreams::runtime::http::HttpPool> pool_;  // http:// webhooks; null: worker threads
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ecommerce
