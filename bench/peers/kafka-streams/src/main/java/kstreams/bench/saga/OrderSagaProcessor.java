package kstreams.bench.saga;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.OptionalLong;
import java.util.function.LongSupplier;
import kstreams.bench.saga.SagaRecords.Emit;
import kstreams.bench.saga.SagaRecords.SagaState;
import kstreams.bench.saga.SagaRecords.TerminalEvent;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The orchestrator of the order saga (topology/order_saga.cc), keyed by order_id. The C++ topology
 * has one processor node fed by orders merged with the reservation results; in Kafka Streams the
 * results come back through a repartition topic created downstream of this node, which a DSL merge
 * cannot reach, so the saga is two nodes of this class sharing the stores "orders" and
 * "order-sagas" (hence one subtopology and one task per partition, like the C++ one):
 *
 * <pre>
 *   ORDERS:  malformed or key != order_id -> dead-letters; already seen -> dropped (idempotency);
 *            invalid -> CANCELLED INVALID (no PENDING); valid -> PENDING, one RESERVE per line (key sku)
 *   RESULTS: all lines answered -> CONFIRMED, or CANCELLED OUT_OF_STOCK plus a RELEASE per reserved line
 *   terminal -> order-status, and the terminal-events branch (notifier outbox; analytics only with an
 *               event time: an order whose created_at is out of range has none)
 * </pre>
 *
 * Thread-safety: the task's thread only.
 */
final class OrderSagaProcessor implements Processor<String, byte[], String, Emit> {
  enum Mode { ORDERS, RESULTS }

  /** Names of the child nodes this instance forwards to. */
  static final class Children {
    final String status;
    final String commands;
    final String terminal;
    final String deadLetters;

    Children(String status, String commands, String terminal, String deadLetters) {
      this.status = status;
      this.commands = commands;
      this.terminal = terminal;
      this.deadLetters = deadLetters;
    }
  }

  private final Mode mode;
  private final Children children;
  private final LongSupplier clock; // the processing instance's wall clock: bounds created_at
  private ProcessorContext<String, Emit> ctx;
  private KeyValueStore<String, String> orders;
  private KeyValueStore<String, String> sagas;

  OrderSagaProcessor(Mode mode, Children children, LongSupplier clock) {
    this.mode = mode;
    this.children = children;
    this.clock = clock;
  }

  @Override
  public void init(ProcessorContext<String, Emit> context) {
    ctx = context;
    orders = context.getStateStore(SagaTopology.ORDERS_STORE);
    sagas = context.getStateStore(SagaTopology.SAGAS_STORE);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    try {
      if (mode == Mode.ORDERS) {
        onOrder(record);
      } else {
        onResult(record);
      }
    } catch (Json.BadRecord e) {
      DeadLetters.forward(ctx, record, children.deadLetters, e.errorClass, e.getMessage());
    }
  }

  private void onOrder(Record<String, byte[]> record) {
    long wall = clock.getAsLong();
    Model.ClassifiedOrder classified = Model.classifyOrder(record.key(), record.value(), wall);
    if (classified.inputClass == Model.InputClass.MALFORMED) {
      throw new Json.BadRecord(classified.dlqError, classified.reason);
    }
    Model.Order order = classified.order;
    if (orders.get(order.orderId) != null) return; // a duplicate: idempotent
    // record.timestamp() is what the extractor (SagaTopology.orderEventTime) made of the order: its
    // created_at, or the fallback when created_at is missing or ill-typed. An out-of-range
    // created_at is reported as sent, with no event time (not counted in analytics).
    OptionalLong eventTime = classified.eventTime(record.timestamp(), wall);
    long createdAt = classified.hasCreatedAt || classified.createdAtOutOfRange ? order.createdAt : record.timestamp();
    if (classified.inputClass == Model.InputClass.INVALID) {
      finish(order, Model.CANCELLED, Model.REASON_INVALID, createdAt, eventTime);
      return;
    }
    long now = ctx.currentSystemTimeMs();
    emitStatus(order.orderId, Model.orderStatus(order, Model.PENDING, null, createdAt, now), now);
    order.createdAt = createdAt;
    SagaState saga = new SagaState();
    saga.order = order;
    saga.lines = new int[order.items.size()];
    java.util.Arrays.fill(saga.lines, -1);
    sagas.put(order.orderId, saga.toJson());
    for (int i = 0; i < order.items.size(); i++) {
      Model.OrderItem item = order.items.get(i);
      String cmd = SagaRecords.stockCommand("RESERVE", order.orderId, item.sku, item.qty, i);
      ctx.forward(new Record<>(item.sku, Emit.json(cmd), record.timestamp()), children.commands);
    }
  }

  private void onResult(Record<String, byte[]> record) {
    JsonNode j = Json.parseInternal(record.value(), SagaRecords.BAD_LINE_RESULT);
    String orderId = Json.requireString(j, "order_id", SagaRecords.BAD_LINE_RESULT);
    long line = Json.requireLong(j, "line", SagaRecords.BAD_LINE_RESULT);
    JsonNode reservedNode = j.get("reserved");
    if (reservedNode == null || !reservedNode.isBoolean()) {
      throw new Json.BadRecord(SagaRecords.BAD_LINE_RESULT, "field 'reserved' is not a boolean");
    }
    String stored = sagas.get(orderId);
    SagaState saga = stored == null ? null : SagaState.fromJson(stored);
    if (saga == null || line < 0 || line >= saga.lines.length || saga.lines[(int) line] != -1) {
      System.err.println("order saga: unexpected line result for " + orderId + " line " + line + "; ignored");
      return;
    }
    saga.lines[(int) line] = reservedNode.booleanValue() ? 1 : 0;
    boolean allAnswered = true;
    boolean allReserved = true;
    for (int l : saga.lines) {
      if (l == -1) allAnswered = false;
      if (l != 1) allReserved = false;
    }
    if (!allAnswered) {
      sagas.put(orderId, saga.toJson());
      return;
    }
    sagas.delete(orderId);
    if (!allReserved) {
      // Compensation: give back what was reserved for this order.
      for (int i = 0; i < saga.lines.length; i++) {
        if (saga.lines[i] != 1) continue;
        Model.OrderItem item = saga.order.items.get(i);
        String cmd = SagaRecords.stockCommand("RELEASE", orderId, item.sku, item.qty, i);
        ctx.forward(new Record<>(item.sku, Emit.json(cmd), record.timestamp()), children.commands);
      }
    }
    finish(saga.order, allReserved ? Model.CONFIRMED : Model.CANCELLED,
        allReserved ? null : Model.REASON_OUT_OF_STOCK, saga.order.createdAt,
        OptionalLong.of(saga.order.createdAt)); // a valid order's created_at is within bounds
  }

  private void emitStatus(String orderId, String statusJson, long updatedAt) {
    orders.put(orderId, statusJson);
    // The output record's timestamp is the decision time: consumers measure latency from it.
    ctx.forward(new Record<>(orderId, Emit.json(statusJson), updatedAt), children.status);
  }

  /**
   * Writes the terminal status to order-status and the store, and hands it to the terminal-events
   * branch: the notifier always, the analytics only when the order has an event time.
   */
  private void finish(Model.Order order, String status, String reason, long createdAt, OptionalLong eventTime) {
    long now = ctx.currentSystemTimeMs();
    String statusJson = Model.orderStatus(order, status, reason, createdAt, now);
    emitStatus(order.orderId, statusJson, now);
    TerminalEvent ev = new TerminalEvent();
    ev.orderId = order.orderId;
    ev.status = status;
    ev.totalCents = order.totalCents();
    ev.items = order.items;
    ev.hasEventTime = eventTime.isPresent();
    // Analytics run on event time: the record's timestamp is the order's event time. Without one
    // (the C++ saga forwards nothing to its analytics then) the record carries the decision time and
    // the analytics branch drops it (SagaTopology, "with-event-time") before any window: a poison
    // created_at never reaches TimeWindows.windowsFor.
    ev.createdAt = eventTime.orElse(createdAt);
    long timestamp = eventTime.orElse(now);
    ctx.forward(new Record<>(order.orderId, Emit.terminal(statusJson, ev), timestamp), children.terminal);
  }
}
