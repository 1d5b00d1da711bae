// OrderSagaProcessor: the orchestrator of the order saga, one instance per task of the
// `orders` + `<app>-reservation-results` subtopology (co-partitioned, keyed by order_id).
//
//   order in -> malformed or key != order_id: ProcessingException (dead-letters, original bytes +
//               dlq.* headers)
//            -> already seen (store "orders"): dropped (idempotency)
//            -> invalid: CANCELLED INVALID (no PENDING)
//            -> valid: PENDING, one RESERVE command per line (key sku), saga state stored
//   line result in -> all lines answered: CONFIRMED, or CANCELLED OUT_OF_STOCK plus a RELEASE for
//                     every reserved line (compensation)
//   terminal status -> order-status, the notification outbox, and the analytics branch (only with
//                      an event time: an order whose created_at is out of range has none)
//
// Notifications: a terminal status writes an outbox entry in the same transaction; a wall-clock
// punctuator offers due entries to the WebhookDispatcher and turns outcomes into a receipt
// (`notifications`) or a dead letter (`notifications-dlq`: after the last attempt, or at once for a
// permanent failure such as a 4xx other than 408/429), deleting the entry, again transactionally.
// Attempts and the backoff schedule live in the outbox store, so they survive restarts and
// rebalances; the circuit breaker is the dispatcher's (one per webhook per instance, in memory).
// Entries that have not failed yet are offered oldest first and before retries whenever the
// breaker is not closed, so the half-open probe is never the retry of a notification that keeps
// failing while others wait. Thread-safety: the task's thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "kstreams/common/clock.h"
#include "kstreams/topology/processor.h"
#include "topology/emit.h"
#include "topology/webhook_dispatcher.h"

namespace ecommerce {

// Per-task notification settings (the breaker's are WebhookDispatcher::Options).
struct NotifierSettings {
  int32_t max_attempts = 3;
  int64_t backoff_ms = 200;
  // Notifications handed to the dispatcher and not settled yet, per task. With the pump below it
  // bounds the task's delivery rate (at most max_in_flight per pump round trip): 64 capped the
  // whole instance near 1,700 notifications/s, below its order rate.
  size_t max_in_flight = 1024;
  std::chrono::milliseconds pump_interval{10};
};

class OrderSagaProcessor final : public kstreams::Processor<std::string, std::string, std::string, Emit> {
 public:
  // `clock` (not owned, outlives the processor) bounds created_at (classify_order).
  OrderSagaProcessor(std::string results_topic, std::shared_ptr<WebhookDispatcher> dispatcher,
                     NotifierSettings settings, const kstreams::Clock* clock);

  void init(kstreams::ProcessorContext<std::string, Emit>& ctx) override;
  void process(const kstreams::Record<std::string, std::string>& record) override;
  void close() override;

 private:
  void on_order(const kstreams::Record<std::string, std::string>& record);
  void on_result(const kstreams::Record<std::string, std::string>& record);
  // Writes the terminal status everywhere it goes (status topic, store, outbox, and analytics when
  // the order has an event time).
  void finish(const Order& order, OrderState state, std::optional<CancelReason> reason, int64_t created_at,
              std::optional<int64_t> event_time);
  // Stores and forwards the status; returns its JSON text.
  std::string emit_status(const OrderStatus& status);

  // Notifications.
  void pump(int64_t now);
  void apply_outcome(const DeliveryOutcome& outcome, int64_t now);
  void dispatch_due(int64_t now);
  void schedule(const OutboxEntry& entry);
  void dead_letter(OutboxEntry& entry, int64_t now);

  std::string results_topic_;
  std::shared_ptr<WebhookDispatcher> dispatcher_;
  NotifierSettings settings_;
  const kstreams::Clock* clock_;
  kstreams::ProcessorContext<std::string, Emit>* ctx_ = nullptr;
  // The latest order-status JSON text per order (the /v1/orders answer, written as it was sent).
  kstreams::KeyValueStore<std::string, std::string>* orders_ = nullptr;
  kstreams::KeyValueStore<std::string, SagaState>* sagas_ = nullptr;
  kstreams::KeyValueStore<std::string, OutboxEntry>* outbox_ = nullptr;
  std::shared_ptr<WebhookDispatcher::Mailbox> mailbox_;
  // Outbox index, next_attempt_at -> notification_id: entries that have not failed yet (their
  // next_attempt_at is their creation time) and retries.
  std::multimap<int64_t, std::string> fresh_;
  std::multimap<int64_t, std::string> retries_;
  std::map<std::string, int64_t> in_flight_;  // notification_id -> when it was handed over
  kstreams::Cancellable pump_;
};

}  // namespace ecommerce
