package kstreams.bench.saga;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The saga's internal records (topology/saga_records.h): what travels through the repartition
 * topics and lives in the stores, as the same JSON the C++ topology uses, plus the serdes of the
 * typed values (processor outputs, analytics). All plain values (thread-compatible).
 */
final class SagaRecords {
  private SagaRecords() {}

  static final String BAD_STOCK_COMMAND = "BAD_STOCK_COMMAND";
  static final String BAD_LINE_RESULT = "BAD_LINE_RESULT";
  static final String BAD_STORE_VALUE = "BAD_STORE_VALUE";

  /** order saga -> inventory (key: sku). type RESERVE or RELEASE. */
  static String stockCommand(String type, String orderId, String sku, long qty, int line) {
    return new Json.Writer().begin().field("type", type).field("order_id", orderId).field("sku", sku)
        .field("qty", qty).field("line", line).end().toString();
  }

  /** inventory -> order saga (key: order_id). */
  static String lineResult(String orderId, long line, String sku, long qty, boolean reserved) {
    return new Json.Writer().begin().field("order_id", orderId).field("line", line).field("sku", sku)
        .field("qty", qty).field("reserved", reserved).end().toString();
  }

  /** A saga waiting for its line results (store "order-sagas"): per line -1 unanswered, 0 rejected, 1 reserved. */
  static final class SagaState {
    Model.Order order;
    int[] lines;

    String toJson() {
      Json.Writer w = new Json.Writer().begin().rawField("order", orderJson(order)).beginArray("lines");
      for (int l : lines) w.element(l);
      return w.endArray().end().toString();
    }

    static SagaState fromJson(String text) {
      JsonNode j = Json.parseInternal(text, BAD_STORE_VALUE);
      SagaState s = new SagaState();
      JsonNode order = j.get("order");
      if (order == null || !order.isObject()) throw new Json.BadRecord(BAD_STORE_VALUE, "saga without order");
      s.order = Model.Order.read(order, BAD_STORE_VALUE);
      JsonNode lines = j.get("lines");
      if (lines == null || !lines.isArray() || lines.size() != s.order.items.size()) {
        throw new Json.BadRecord(BAD_STORE_VALUE, "saga lines do not match its order");
      }
      s.lines = new int[lines.size()];
      for (int i = 0; i < s.lines.length; i++) s.lines[i] = lines.get(i).intValue();
      return s;
    }
  }

  static String orderJson(Model.Order order) {
    Json.Writer w = new Json.Writer();
    order.write(w);
    return w.toString();
  }

  /** The stock of a sku (store "stock"). */
  static final class StockLevel {
    String sku;
    long available;
    long reserved;

    String toJson() {
      return new Json.Writer().begin().field("sku", sku).field("available", available).field("reserved", reserved)
          .end().toString();
    }

    static StockLevel fromJson(String sku, String text) {
      StockLevel l = new StockLevel();
      l.sku = sku;
      if (text == null) return l; // a sku never restocked has zero stock
      JsonNode j = Json.parseInternal(text, BAD_STORE_VALUE);
      l.available = Json.requireLong(j, "available", BAD_STORE_VALUE);
      l.reserved = Json.requireLong(j, "reserved", BAD_STORE_VALUE);
      return l;
    }
  }

  /** A notification waiting for delivery (store "notification-outbox", key notification_id). */
  static final class OutboxEntry {
    String notificationId;
    String orderId;
    String event;
    String payload; // the JSON body POSTed to the webhook (the terminal order-status)
    int attempts;
    long nextAttemptAt;
    String lastError = "";

    String toJson() {
      return new Json.Writer().begin().field("notification_id", notificationId).field("order_id", orderId)
          .field("event", event).field("payload", payload).field("attempts", attempts)
          .field("next_attempt_at", nextAttemptAt).field("last_error", lastError).end().toString();
    }

    static OutboxEntry fromJson(String text) {
      JsonNode j = Json.parseInternal(text, BAD_STORE_VALUE);
      OutboxEntry e = new OutboxEntry();
      e.notificationId = Json.requireString(j, "notification_id", BAD_STORE_VALUE);
      e.orderId = Json.requireString(j, "order_id", BAD_STORE_VALUE);
      e.event = Json.requireString(j, "event", BAD_STORE_VALUE);
      e.payload = Json.requireString(j, "payload", BAD_STORE_VALUE);
      e.attempts = (int) Json.requireLong(j, "attempts", BAD_STORE_VALUE);
      e.nextAttemptAt = Json.requireLong(j, "next_attempt_at", BAD_STORE_VALUE);
      e.lastError = Json.requireString(j, "last_error", BAD_STORE_VALUE);
      return e;
    }
  }

  /** The circuit breaker of a task's notifier (store "notifier-state", key "breaker"). */
  static final class BreakerState {
    int consecutiveFailures;
    long openUntil; // epoch ms; calls are skipped before it

    String toJson() {
      return new Json.Writer().begin().field("consecutive_failures", consecutiveFailures)
          .field("open_until", openUntil).end().toString();
    }

    static BreakerState fromJson(String text) {
      BreakerState b = new BreakerState();
      if (text == null) return b;
      JsonNode j = Json.parseInternal(text, BAD_STORE_VALUE);
      b.consecutiveFailures = (int) Json.requireLong(j, "consecutive_failures", BAD_STORE_VALUE);
      b.openUntil = Json.requireLong(j, "open_until", BAD_STORE_VALUE);
      return b;
    }
  }

  /**
   * A terminal status as the notifier and the analytics windows see it (record timestamp = the
   * order's event time). An order with no event time (created_at out of range) still reaches the
   * notifier, but the analytics branch filters it out ({@link #hasEventTime}) before any window.
   */
  static final class TerminalEvent {
    String orderId;
    String status; // CONFIRMED or CANCELLED
    long totalCents;
    long createdAt; // the event time when hasEventTime
    List<Model.OrderItem> items = new ArrayList<>();
    // False: the order has no usable event time; it is in no analytics window. Not serialized: only
    // events with an event time cross the analytics repartitions.
    boolean hasEventTime = true;

    boolean confirmed() {
      return Model.CONFIRMED.equals(status);
    }

    String toJson() {
      Json.Writer w = new Json.Writer().begin().field("order_id", orderId).field("status", status)
          .field("total_cents", totalCents).field("created_at", createdAt);
      Model.writeItems(w, items);
      return w.end().toString();
    }

    static TerminalEvent fromJson(byte[] bytes) {
      JsonNode j = Json.parseInternal(bytes, BAD_STORE_VALUE);
      TerminalEvent e = new TerminalEvent();
      e.orderId = Json.requireString(j, "order_id", BAD_STORE_VALUE);
      e.status = Json.requireString(j, "status", BAD_STORE_VALUE);
      e.totalCents = Json.requireLong(j, "total_cents", BAD_STORE_VALUE);
      e.createdAt = Json.requireLong(j, "created_at", BAD_STORE_VALUE);
      e.items = Model.readItems(j.get("items"), BAD_STORE_VALUE);
      return e;
    }
  }

  /**
   * What the saga and inventory processors forward to their children: the JSON text (or, for a
   * dead letter, the original bytes) a sink writes as is, and for the terminal-events branch the
   * typed terminal event.
   */
  static final class Emit {
    final String json;
    final byte[] raw;
    final TerminalEvent terminal;

    private Emit(String json, byte[] raw, TerminalEvent terminal) {
      this.json = json;
      this.raw = raw;
      this.terminal = terminal;
    }

    static Emit json(String json) {
      return new Emit(json, null, null);
    }

    /** The original value bytes of a dead letter (null for a null value: the sink writes null). */
    static Emit raw(byte[] raw) {
      return raw == null ? null : new Emit(null, raw, null);
    }

    /** A terminal status: its order-status JSON (the webhook payload) and the analytics event. */
    static Emit terminal(String statusJson, TerminalEvent terminal) {
      return new Emit(statusJson, null, terminal);
    }

    byte[] bytes() {
      return raw != null ? raw : json.getBytes(StandardCharsets.UTF_8);
    }
  }

  /** Writes Emit's bytes; Emit is output-only, reading it back is an error. */
  static final Serde<Emit> EMIT_SERDE = Serdes.serdeFrom(
      (Serializer<Emit>) (topic, e) -> e == null ? null : e.bytes(),
      (Deserializer<Emit>) (topic, bytes) -> {
        throw new IllegalStateException("Emit is an output-only record (topic " + topic + ")");
      });

  static final Serde<TerminalEvent> TERMINAL_SERDE = Serdes.serdeFrom(
      (Serializer<TerminalEvent>) (topic, e) -> e == null ? null : e.toJson().getBytes(StandardCharsets.UTF_8),
      (Deserializer<TerminalEvent>) (topic, bytes) -> bytes == null ? null : TerminalEvent.fromJson(bytes));

  /**
   * A fixed number of longs (the window aggregates: revenue {confirmed, cancelled, revenue_cents},
   * sku {units_sold, revenue_cents}, and a sku sale {units, revenue_cents}).
   */
  static final Serde<long[]> LONGS_SERDE = Serdes.serdeFrom(
      (Serializer<long[]>) (topic, v) -> {
        if (v == null) return null;
        ByteBuffer b = ByteBuffer.allocate(8 * v.length);
        for (long x : v) b.putLong(x);
        return b.array();
      },
      (Deserializer<long[]>) (topic, bytes) -> {
        if (bytes == null) return null;
        if (bytes.length % 8 != 0) throw new IllegalArgumentException("not a long array: " + bytes.length + " bytes");
        ByteBuffer b = ByteBuffer.wrap(bytes);
        long[] v = new long[bytes.length / 8];
        for (int i = 0; i < v.length; i++) v[i] = b.getLong();
        return v;
      });
}
