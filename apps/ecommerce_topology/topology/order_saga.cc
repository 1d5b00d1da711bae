#include "topology/order_saga.h"
#include "topology/store_check.h"

#include <algorithm>

#include "kstreams/common/logging.h"

namespace ecommerce {

OrderSagaProcessor::OrderSagaProcessor(std::string results_topic, std::shared_ptr<WebhookDispatcher> dispatcher,
                                       NotifierSettings settings, const kstreams::Clock* clock)
    : results_topic_(std::move(results_topic)), dispatcher_(std::move(dispatcher)), settings_(settings), clock_(clock) {
  KSTREAMS_CHECK(clock_ != nullptr, "the order saga needs a clock");
}

void OrderSagaProcessor::init(kstreams::ProcessorContext<std::string, Emit>& ctx) {
  ctx_ = &ctx;
  orders_ = ctx.get_key_value_store<std::string, std::string>(kOrdersStore);
  sagas_ = ctx.get_key_value_store<std::string, SagaState>(kSagasStore);
  outbox_ = ctx.get_key_value_store<std::string, OutboxEntry>(kOutboxStore);
  KSTREAMS_CHECK(orders_ && sagas_ && outbox_, "order saga stores are not connected");
  // Rebuild the in-memory index of due notifications from the (restored) outbox.
  auto it = outbox_->all();
  while (it.next()) schedule(it.value());
  mailbox_ = dispatcher_->open_mailbox();
  pump_ = ctx.schedule(settings_.pump_interval, kstreams::PunctuationType::kWallClockTime,
                       [this](kstreams::TimestampMs now) { pump(now); });
}

void OrderSagaProcessor::close() {
  pump_.cancel();
  if (mailbox_) mailbox_->close();  // outcomes still in flight are re-sent by the next owner
}

void OrderSagaProcessor::process(const kstreams::Record<std::string, std::string>& record) {
  if (ctx_->record_metadata().topic == results_topic_) {
    on_result(record);
  } else {
    on_order(record);
  }
}

void OrderSagaProcessor::on_order(const kstreams::Record<std::string, std::string>& record) {
  const int64_t now = clock_->now_ms();
  const ClassifiedOrder classified =
      classify_order(std::optional<std::string>(record.key), std::optional<std::string>(record.value), now);
  if (classified.input_class == InputClass::kMalformed) {
    throw kstreams::ProcessingException(classified.dlq_error, classified.reason);
  }
  const Order& order = classified.order;
  if (check(orders_->get(order.order_id), "orders.get").has_value()) return;  // a duplicate: idempotent
  // record.timestamp is what the extractor (order_event_time) made of the order: its created_at, or
  // the fallback when created_at is missing or ill-typed. An out-of-range created_at is reported as
  // sent, with no event time (not counted in analytics).
  const std::optional<int64_t> event_time = classified.event_time(record.timestamp, now);
  const int64_t created_at =
      classified.has_created_at || classified.created_at_out_of_range ? order.created_at : record.timestamp;
  if (classified.input_class == InputClass::kInvalid) {
    finish(order, OrderState::kCancelled, CancelReason::kInvalid, created_at, event_time);
    return;
  }
  OrderStatus pending;
  pending.order_id = order.order_id;
  pending.status = OrderState::kPending;
  pending.total_cents = order.total_cents();
  pending.created_at = created_at;
  pending.updated_at = ctx_->current_system_time_ms();
  pending.items = order.items;
  emit_status(pending);
  SagaState saga;
  saga.order = order;
  saga.order.created_at = created_at;
  saga.lines.assign(order.items.size(), -1);
  check(sagas_->put(order.order_id, saga), "order-sagas.put");
  for (size_t i = 0; i < order.items.size(); ++i) {
    StockCommand cmd{StockCommand::Type::kReserve, order.order_id, order.items[i].sku, order.items[i].qty,
                     static_cast<int32_t>(i)};
    ctx_->forward(kstreams::Record<std::string, Emit>{cmd.sku, Emit{to_binary(cmd), {}}, record.timestamp, {}},
                  kCommandSink);
  }
}

void OrderSagaProcessor::on_result(const kstreams::Record<std::string, std::string>& record) {
  LineResult result;
  if (binary::Reader r(record.value); !decode(r, &result) || !r.done()) {
    throw kstreams::ProcessingException("BAD_LINE_RESULT",
                                        "not a binary LineResult (" + std::to_string(record.value.size()) + " bytes)");
  }
  auto saga = check(sagas_->get(result.order_id), "order-sagas.get");
  if (!saga || result.line < 0 || static_cast<size_t>(result.line) >= saga->lines.size() ||
      saga->lines[result.line] != -1) {
    KS_LOG_WARN("order saga: unexpected line result for {} line {}; ignored", result.order_id, result.line);
    return;
  }
  saga->lines[result.line] = result.reserved ? 1 : 0;
  if (std::any_of(saga->lines.begin(), saga->lines.end(), [](int8_t l) { return l == -1; })) {
    check(sagas_->put(result.order_id, *saga), "order-sagas.put");
    return;
  }
  check(sagas_->remove(result.order_id), "order-sagas.remove");
  const bool all_reserved = std::all_of(saga->lines.begin(), saga->lines.end(), [](int8_t l) { return l == 1; });
  if (!all_reserved) {
    // Compensation: give back what was reserved for this order.
    for (size_t i = 0; i < saga->lines.size(); ++i) {
      if (saga->lines[i] != 1) continue;
      const OrderItem& item = saga->order.items[i];
      StockCommand cmd{StockCommand::Type::kRelease, saga->order.order_id, item.sku, item.qty, static_cast<int32_t>(i)};
      ctx_->forward(kstreams::Record<std::string, Emit>{cmd.sku, Emit{to_binary(cmd), {}}, record.timestamp, {}},
                    kCommandSink);
    }
  }
  finish(saga->order, all_reserved ? OrderState::kConfirmed : OrderState::kCancelled,
         all_reserved ? std::nullopt : std::optional<CancelReason>(CancelReason::kOutOfStock), saga->order.created_at,
         saga->order.created_at);  // a valid order's created_at is within bounds
}

std::string OrderSagaProcessor::emit_status(const OrderStatus& status) {
  std::string text = json_text(status);
  check(orders_->put(status.order_id, text), "orders.put");
  // The output record's timestamp is the decision time: consumers measure latency from it.
  ctx_->forward(kstreams::Record<std::string, Emit>{status.order_id, Emit{text, {}}, status.updated_at, {}},
                kStatusSink);
  return text;
}

void OrderSagaProcessor::finish(const Order& order, OrderState state, std::optional<CancelReason> reason,
                                int64_t created_at, std::optional<int64_t> event_time) {
  const int64_t now = ctx_->current_system_time_ms();
  OrderStatus status;
  status.order_id = order.order_id;
  status.status = state;
  status.reason = reason;
  status.total_cents = order.total_cents();
  status.created_at = created_at;
  status.updated_at = now;
  status.items = order.items;
  std::string payload = emit_status(status);

  OutboxEntry entry;
  entry.notification_id = notification_id(order.order_id, state);
  entry.order_id = order.order_id;
  entry.event = std::string(notification_event(state));
  entry.payload = std::move(payload);
  entry.next_attempt_at = now;
  check(outbox_->put(entry.notification_id, entry), "notification-outbox.put");
  schedule(entry);

  // Analytics on event time: the record's timestamp is the order's event time.
  if (!event_time) return;
  TerminalEvent ev{order.order_id, state, status.total_cents, *event_time, order.items};
  ctx_->forward(
      kstreams::Record<std::string, Emit>{order.order_id, Emit{std::string(), std::move(ev)}, *event_time, {}},
      kTerminalEvents);
}

// ---- notifications ---------------------------------------------------------------------------

void OrderSagaProcessor::pump(int64_t now) {
  for (const DeliveryOutcome& outcome : mailbox_->take()) apply_outcome(outcome, now);
  dispatch_due(now);
}

void OrderSagaProcessor::schedule(const OutboxEntry& entry) {
  const bool fresh = entry.attempts == 0 && entry.last_error.empty();
  (fresh ? fresh_ : retries_).emplace(entry.next_attempt_at, entry.notification_id);
}

void OrderSagaProcessor::dead_letter(OutboxEntry& entry, int64_t now) {
  NotificationDlq dead{entry.notification_id, entry.order_id, entry.event, entry.attempts, entry.last_error, now};
  dead.first_attempt_at = entry.first_attempt_at;
  ctx_->forward(kstreams::Record<std::string, Emit>{entry.order_id, Emit{json_text(dead), {}}, now, {}},
                kNotificationDlqSink);
  check(outbox_->remove(entry.notification_id), "notification-outbox.remove");
}

void OrderSagaProcessor::apply_outcome(const DeliveryOutcome& outcome, int64_t now) {
  auto flight = in_flight_.find(outcome.notification_id);
  const int64_t handed_over = flight == in_flight_.end() ? now : flight->second;
  if (flight != in_flight_.end()) in_flight_.erase(flight);
  auto entry = check(outbox_->get(outcome.notification_id), "notification-outbox.get");
  if (!entry) return;  // already settled (cannot happen within one owner; harmless)
  if (outcome.attempted) {
    entry->attempts += 1;
    if (entry->first_attempt_at == 0) entry->first_attempt_at = handed_over;
  }
  switch (outcome.result) {
    case DeliveryResult::kDelivered: {
      NotificationReceipt receipt{entry->notification_id, entry->order_id, entry->event,
                                  kNotificationDelivered, entry->attempts, now};
      receipt.first_attempt_at = entry->first_attempt_at;
      ctx_->forward(kstreams::Record<std::string, Emit>{entry->order_id, Emit{json_text(receipt), {}}, now, {}},
                    kReceiptSink);
      check(outbox_->remove(entry->notification_id), "notification-outbox.remove");
      return;
    }
    case DeliveryResult::kPermanent:
      entry->last_error = outcome.error;
      dead_letter(*entry, now);
      return;
    case DeliveryResult::kCancelled:  // not an attempt: offered again as it was
      schedule(*entry);
      return;
    case DeliveryResult::kRetriable:
      break;
  }
  entry->last_error = outcome.error;
  if (entry->attempts >= settings_.max_attempts) {
    dead_letter(*entry, now);
    return;
  }
  const int shift = std::clamp(entry->attempts - 1, 0, 30);
  entry->next_attempt_at = now + settings_.backoff_ms * (int64_t{1} << shift);
  check(outbox_->put(entry->notification_id, *entry), "notification-outbox.put");
  schedule(*entry);
}

void OrderSagaProcessor::dispatch_due(int64_t now) {
  // Closed breaker: oldest due first, fresh or retry. Otherwise fresh first (the probe).
  const bool closed = dispatcher_->breaker().state(now) == CircuitBreaker::State::kClosed;
  while (in_flight_.size() < settings_.max_in_flight) {
    const bool fresh_due = !fresh_.empty() && fresh_.begin()->first <= now;
    const bool retry_due = !retries_.empty() && retries_.begin()->first <= now;
    if (!fresh_due && !retry_due) return;
    const bool take_fresh = fresh_due && (!retry_due || !closed || fresh_.begin()->first <= retries_.begin()->first);
    auto& index = take_fresh ? fresh_ : retries_;
    const std::string id = index.begin()->second;
    if (in_flight_.count(id) > 0) {
      index.erase(index.begin());
      continue;
    }
    auto entry = check(outbox_->get(id), "notification-outbox.get");
    if (!entry || entry->next_attempt_at > now) {  // settled, or a stale index entry
      index.erase(index.begin());
      continue;
    }
    if (!dispatcher_->submit(mailbox_, id, entry->payload, {now, take_fresh})) return;  // breaker refused
    index.erase(index.begin());
    in_flight_.emplace(id, now);
  }
}

}  // namespace ecommerce
