package kstreams.bench.saga;

import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import kstreams.bench.saga.SagaRecords.BreakerState;
import kstreams.bench.saga.SagaRecords.Emit;
import kstreams.bench.saga.SagaRecords.OutboxEntry;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The notification outbox of the saga (the notification half of topology/order_saga.cc), keyed by
 * order_id, in the saga's subtopology: every terminal status writes an outbox entry in the same
 * transaction as the status; a wall-clock punctuator hands due entries to the {@link
 * WebhookDispatcher} and turns outcomes into a receipt ({@code notifications}) or, after the last
 * attempt, a dead letter ({@code notifications-dlq}), deleting the entry, again transactionally.
 * Backoff (exponential) and the circuit breaker live in stores, so they survive restarts and
 * rebalances; calls the open breaker skips are not attempts.
 *
 * <p>Settings (StreamsConfig properties, the C++ application's keys): notifications.webhook.url
 * (required), notifications.retry.max.attempts (3), notifications.retry.backoff.ms (200),
 * notifications.circuit.failure.threshold (5), notifications.circuit.open.ms (5000),
 * notifications.workers (8), notifications.max.in.flight (1024 per task),
 * notifications.pump.interval.ms (10), notifications.timeout.ms (2000): the C++ application's defaults.
 * Thread-safety: the task's thread only.
 */
final class NotifierProcessor implements Processor<String, Emit, String, Emit> {
  private static final String BREAKER_KEY = "breaker";

  private final String receiptSink;
  private final String dlqSink;
  private ProcessorContext<String, Emit> ctx;
  private KeyValueStore<String, String> outbox;
  private KeyValueStore<String, String> notifier;
  private WebhookDispatcher dispatcher;
  private WebhookDispatcher.Mailbox mailbox;
  private BreakerState breaker;
  private int maxAttempts;
  private long backoffMs;
  private int failureThreshold;
  private long openMs;
  private int maxInFlight; // per task
  /** next_attempt_at -> notification_id (the outbox's in-memory index). */
  private final PriorityQueue<Due> due = new PriorityQueue<>();
  private final Set<String> inFlight = new HashSet<>();
  private Cancellable pump;

  private static final class Due implements Comparable<Due> {
    final long at;
    final String id;

    Due(long at, String id) {
      this.at = at;
      this.id = id;
    }

    @Override
    public int compareTo(Due o) {
      return Long.compare(at, o.at);
    }
  }

  NotifierProcessor(String receiptSink, String dlqSink) {
    this.receiptSink = receiptSink;
    this.dlqSink = dlqSink;
  }

  static long setting(Map<String, Object> configs, String key, long dflt, long min) {
    Object v = configs.get(key);
    if (v == null) return dflt;
    long parsed;
    try {
      parsed = Long.parseLong(v.toString().trim());
    } catch (NumberFormatException e) {
      throw new ConfigException(key, v, "not an integer");
    }
    if (parsed < min) throw new ConfigException(key, v, "must be >= " + min);
    return parsed;
  }

  @Override
  public void init(ProcessorContext<String, Emit> context) {
    ctx = context;
    Map<String, Object> configs = context.appConfigs();
    Object url = configs.get("notifications.webhook.url");
    if (url == null || url.toString().isEmpty()) {
      throw new ConfigException("notifications.webhook.url is required by the saga (--set notifications.webhook.url=...)");
    }
    maxAttempts = (int) setting(configs, "notifications.retry.max.attempts", 3, 1);
    backoffMs = setting(configs, "notifications.retry.backoff.ms", 200, 0);
    failureThreshold = (int) setting(configs, "notifications.circuit.failure.threshold", 5, 1);
    openMs = setting(configs, "notifications.circuit.open.ms", 5000, 0);
    int workers = (int) setting(configs, "notifications.workers", 8, 1);
    maxInFlight = (int) setting(configs, "notifications.max.in.flight", 1024, 1);
    long pumpIntervalMs = setting(configs, "notifications.pump.interval.ms", 10, 1);
    long timeoutMs = setting(configs, "notifications.timeout.ms", 2000, 1);
    dispatcher = WebhookDispatcher.shared(url.toString(), workers, Duration.ofMillis(timeoutMs));
    outbox = context.getStateStore(SagaTopology.OUTBOX_STORE);
    notifier = context.getStateStore(SagaTopology.NOTIFIER_STORE);
    breaker = BreakerState.fromJson(notifier.get(BREAKER_KEY));
    // Rebuild the index of due notifications from the (restored) outbox.
    try (KeyValueIterator<String, String> it = outbox.all()) {
      while (it.hasNext()) {
        KeyValue<String, String> kv = it.next();
        due.add(new Due(OutboxEntry.fromJson(kv.value).nextAttemptAt, kv.key));
      }
    }
    mailbox = new WebhookDispatcher.Mailbox();
    pump = context.schedule(Duration.ofMillis(pumpIntervalMs), PunctuationType.WALL_CLOCK_TIME, this::pump);
  }

  @Override
  public void close() {
    if (pump != null) pump.cancel();
    if (mailbox != null) mailbox.close(); // outcomes still in flight are re-sent by the next owner
  }

  /** A terminal status: its outbox entry, due now. */
  @Override
  public void process(Record<String, Emit> record) {
    SagaRecords.TerminalEvent ev = record.value().terminal;
    long now = ctx.currentSystemTimeMs();
    OutboxEntry entry = new OutboxEntry();
    entry.notificationId = Model.notificationId(ev.orderId, ev.status);
    entry.orderId = ev.orderId;
    entry.event = Model.notificationEvent(ev.status);
    entry.payload = record.value().json;
    entry.nextAttemptAt = now;
    outbox.put(entry.notificationId, entry.toJson());
    due.add(new Due(entry.nextAttemptAt, entry.notificationId));
  }

  private void pump(long now) {
    for (WebhookDispatcher.Outcome o : mailbox.take()) applyOutcome(o, now);
    dispatchDue(now);
  }

  private void saveBreaker() {
    notifier.put(BREAKER_KEY, breaker.toJson());
  }

  private void applyOutcome(WebhookDispatcher.Outcome outcome, long now) {
    inFlight.remove(outcome.notificationId);
    String stored = outbox.get(outcome.notificationId);
    if (stored == null) return; // already settled (cannot happen within one owner; harmless)
    OutboxEntry entry = OutboxEntry.fromJson(stored);
    entry.attempts += 1;
    if (outcome.success) {
      if (breaker.consecutiveFailures != 0 || breaker.openUntil != 0) {
        breaker = new BreakerState();
        saveBreaker();
      }
      String receipt = new Json.Writer().begin().field("notification_id", entry.notificationId)
          .field("order_id", entry.orderId).field("event", entry.event).field("status", "DELIVERED")
          .field("attempts", entry.attempts).field("delivered_at", now).end().toString();
      ctx.forward(new Record<>(entry.orderId, Emit.json(receipt), now), receiptSink);
      outbox.delete(entry.notificationId);
      return;
    }
    breaker.consecutiveFailures += 1;
    if (breaker.consecutiveFailures >= failureThreshold) {
      breaker.openUntil = now + openMs; // open (again, after a failed half-open probe)
    }
    saveBreaker();
    entry.lastError = outcome.error;
    if (entry.attempts >= maxAttempts) {
      String dead = new Json.Writer().begin().field("notification_id", entry.notificationId)
          .field("order_id", entry.orderId).field("event", entry.event).field("attempts", entry.attempts)
          .field("last_error", entry.lastError).field("failed_at", now).end().toString();
      ctx.forward(new Record<>(entry.orderId, Emit.json(dead), now), dlqSink);
      outbox.delete(entry.notificationId);
      return;
    }
    entry.nextAttemptAt = now + backoffMs * (1L << Math.min(entry.attempts - 1, 30));
    outbox.put(entry.notificationId, entry.toJson());
    due.add(new Due(entry.nextAttemptAt, entry.notificationId));
  }

  private void dispatchDue(long now) {
    boolean tripped = breaker.consecutiveFailures >= failureThreshold;
    if (tripped && now < breaker.openUntil) return; // open: skipped calls are not attempts
    // Half-open: one probe at a time until a success closes the breaker.
    int limit = tripped ? 1 : maxInFlight;
    while (!due.isEmpty() && inFlight.size() < limit && due.peek().at <= now) {
      String id = due.poll().id;
      if (inFlight.contains(id)) continue;
      String stored = outbox.get(id);
      if (stored == null) continue; // settled
      OutboxEntry entry = OutboxEntry.fromJson(stored);
      if (entry.nextAttemptAt > now) continue; // a stale index entry
      inFlight.add(id);
      dispatcher.submit(mailbox, id, entry.payload);
    }
  }
}
