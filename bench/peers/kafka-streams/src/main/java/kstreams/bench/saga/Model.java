package kstreams.bench.saga;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The records of /work/shared/contracts/ecommerce.md and the saga's internal records, with their
 * JSON text, mirroring apps/ecommerce_topology/model.{h,cc} and topology/saga_records.{h,cc}
 * field for field. The classification rules (malformed or key mismatch -> dead letter, invalid ->
 * CANCELLED INVALID), the numeric bounds and the overflow-checked arithmetic are model.cc's
 * classify_order / validate_order / classify_restock / is_usable_event_time / saturating_add /
 * Order::total_cents / ClassifiedOrder::event_time.
 * All types are plain values (thread-compatible).
 */
final class Model {
  private Model() {}

  // Topics (the contract's names; the topology prefixes them).
  static final String ORDERS = "orders";
  static final String RESTOCKS = "inventory-restocks";
  static final String ORDER_STATUS = "order-status";
  static final String RESERVATIONS = "inventory-reservations";
  static final String NOTIFICATIONS = "notifications";
  static final String NOTIFICATIONS_DLQ = "notifications-dlq";
  static final String ANALYTICS = "order-analytics";
  static final String DEAD_LETTERS = "dead-letters";

  // Dead letters.
  static final String DLQ_ERROR = "dlq.error";
  static final String DLQ_MESSAGE = "dlq.message";
  static final String DLQ_SOURCE_TOPIC = "dlq.source.topic";
  static final String DLQ_SOURCE_PARTITION = "dlq.source.partition";
  static final String DLQ_SOURCE_OFFSET = "dlq.source.offset";
  static final String DLQ_MALFORMED_JSON = "MALFORMED_JSON";
  static final String DLQ_NOT_AN_OBJECT = "NOT_AN_OBJECT";
  static final String DLQ_MISSING_ORDER_ID = "MISSING_ORDER_ID";
  static final String DLQ_INVALID_RESTOCK = "INVALID_RESTOCK";
  static final String DLQ_KEY_MISMATCH = "KEY_MISMATCH"; // record key is not the order_id / sku
  // A restock that would take the sku's stock (available + reserved) past a long (the inventory's
  // check: it depends on the stock, not on the record alone).
  static final String DLQ_STOCK_OVERFLOW = "STOCK_OVERFLOW";

  // Numeric bounds (contract: no arithmetic on an input can overflow).
  static final long MAX_LINE_QTY = 1_000_000L;
  static final long MAX_UNIT_PRICE_CENTS = 10_000_000_000L;
  static final long MAX_RESTOCK_QTY = 1_000_000_000L;
  /** created_at may lie at most this far ahead of the processing instance's clock. */
  static final long MAX_CREATED_AT_AHEAD_MS = 24L * 3_600_000L;

  static final int MAX_ORDER_LINES = 100;

  /** True when {@code t} is a usable event time at wall-clock {@code nowMs}: 0 <= t <= nowMs + 24 h. */
  static boolean isUsableEventTime(long t, long nowMs) {
    return t >= 0 && t <= saturatingAdd(nowMs, MAX_CREATED_AT_AHEAD_MS);
  }

  /** a + b, clamped to [Long.MIN_VALUE, Long.MAX_VALUE] instead of overflowing (analytics sums). */
  static long saturatingAdd(long a, long b) {
    long sum = a + b;
    // Overflow iff both operands have the sign opposite to the result's.
    if (((a ^ sum) & (b ^ sum)) < 0) return b > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
    return sum;
  }

  // order-status values.
  static final String PENDING = "PENDING";
  static final String CONFIRMED = "CONFIRMED";
  static final String CANCELLED = "CANCELLED";
  static final String REASON_INVALID = "INVALID";
  static final String REASON_OUT_OF_STOCK = "OUT_OF_STOCK";

  // Ledger types.
  static final String RESTOCKED = "RESTOCKED";
  static final String RESERVED = "RESERVED";
  static final String REJECTED = "REJECTED";
  static final String RELEASED = "RELEASED";

  static final String IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

  // Analytics.
  static final String REVENUE_TYPE = "revenue_1m";
  static final String SKU_SALES_TYPE = "sku_sales_5m";
  static final String REVENUE_KEY = "all";
  static final long REVENUE_WINDOW_MS = 60_000;
  static final long SKU_WINDOW_MS = 300_000;
  static final long SKU_WINDOW_ADVANCE_MS = 60_000;
  static final long DEFAULT_GRACE_MS = 30_000;

  static final class OrderItem {
    final String sku;
    final long qty;
    final long unitPriceCents;

    OrderItem(String sku, long qty, long unitPriceCents) {
      this.sku = sku;
      this.qty = qty;
      this.unitPriceCents = unitPriceCents;
    }
  }

  static final class Order {
    String orderId = "";
    String customerId = "";
    long createdAt;
    List<OrderItem> items = new ArrayList<>();

    /**
     * Sum of qty * unit_price_cents, overflow-checked: Long.MAX_VALUE (Long.MIN_VALUE) when the exact
     * sum does not fit a long. Never reached by a valid order: its bounds keep the sum below 10^18.
     */
    long totalCents() {
      long total = 0;
      for (OrderItem i : items) {
        long line;
        try {
          line = Math.multiplyExact(i.qty, i.unitPriceCents);
        } catch (ArithmeticException e) {
          boolean negative = (i.qty < 0) != (i.unitPriceCents < 0);
          line = negative ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        total = saturatingAdd(total, line);
      }
      return total;
    }

    void write(Json.Writer w) {
      w.begin().field("order_id", orderId).field("customer_id", customerId).field("created_at", createdAt);
      writeItems(w, items);
      w.end();
    }

    /** Reads an order the topology wrote (saga state). */
    static Order read(JsonNode j, String errorClass) {
      Order o = new Order();
      o.orderId = Json.requireString(j, "order_id", errorClass);
      o.customerId = Json.requireString(j, "customer_id", errorClass);
      o.createdAt = Json.requireLong(j, "created_at", errorClass);
      o.items = readItems(j.get("items"), errorClass);
      return o;
    }
  }

  static void writeItems(Json.Writer w, List<OrderItem> items) {
    w.beginArray("items");
    for (OrderItem i : items) {
      w.element().field("sku", i.sku).field("qty", i.qty).field("unit_price_cents", i.unitPriceCents).end();
    }
    w.endArray();
  }

  static List<OrderItem> readItems(JsonNode items, String errorClass) {
    if (items == null || !items.isArray()) throw new Json.BadRecord(errorClass, "field 'items' is not an array");
    List<OrderItem> out = new ArrayList<>(items.size());
    for (JsonNode line : items) {
      out.add(new OrderItem(Json.requireString(line, "sku", errorClass), Json.requireLong(line, "qty", errorClass),
          Json.requireLong(line, "unit_price_cents", errorClass)));
    }
    return out;
  }

  enum InputClass { VALID, INVALID, MALFORMED }

  static final class ClassifiedOrder {
    InputClass inputClass = InputClass.MALFORMED;
    // VALID: the complete order. INVALID: order_id plus every field that was well-typed (created_at
    // is 0 when it was missing or ill-typed; an out-of-range integer is kept). MALFORMED: empty.
    final Order order = new Order();
    // created_at is an integer within the bounds (isUsableEventTime): it is the event time.
    boolean hasCreatedAt;
    // created_at is an integer outside the bounds: the order has no event time at all (the record
    // timestamp is no substitute): it is not counted in analytics.
    boolean createdAtOutOfRange;
    // INVALID: the INVALID reason text; MALFORMED: the dlq.message.
    String reason = "";
    // MALFORMED: the dlq.error class (MALFORMED_JSON, NOT_AN_OBJECT, MISSING_ORDER_ID, KEY_MISMATCH).
    String dlqError = "";

    /**
     * The order's event time (contract: created_at; the record timestamp when created_at is missing
     * or ill-typed), or empty when it has none: created_at out of range, or the fallback record
     * timestamp out of range too. MALFORMED: empty.
     */
    OptionalLong eventTime(long recordTimestamp, long nowMs) {
      if (inputClass == InputClass.MALFORMED || createdAtOutOfRange) return OptionalLong.empty();
      if (hasCreatedAt) return OptionalLong.of(order.createdAt);
      if (isUsableEventTime(recordTimestamp, nowMs)) return OptionalLong.of(recordTimestamp);
      return OptionalLong.empty();
    }
  }

  /**
   * model.cc classify_order: an orders record's key (null for a null Kafka key) and value bytes, at
   * wall-clock {@code nowMs} (the processing instance's clock: it bounds created_at). Malformed
   * values first; then a key that is not the order_id (KEY_MISMATCH); then the validation rules.
   * Never throws. A null Kafka value is malformed.
   */
  static ClassifiedOrder classifyOrder(String key, byte[] value, long nowMs) {
    ClassifiedOrder out = new ClassifiedOrder();
    JsonNode j = Json.parseOrNull(value);
    if (j == null || j.isNull()) {
      out.dlqError = DLQ_MALFORMED_JSON;
      out.reason = value != null ? "value is not valid JSON" : "null value";
      return out;
    }
    if (!j.isObject()) {
      out.dlqError = DLQ_NOT_AN_OBJECT;
      out.reason = "value is JSON but not an object";
      return out;
    }
    if (!Json.isNonEmptyString(j, "order_id")) {
      out.dlqError = DLQ_MISSING_ORDER_ID;
      out.reason = "order_id missing, empty or not a string";
      return out;
    }
    if (key == null || !key.equals(j.get("order_id").textValue())) {
      out.dlqError = DLQ_KEY_MISMATCH;
      out.reason = "record key is not the order_id";
      return out;
    }
    Order o = out.order;
    o.orderId = j.get("order_id").textValue();
    // Best-effort fields, so that an INVALID status can still say what it knows.
    JsonNode c = j.get("customer_id");
    if (c != null && c.isTextual()) o.customerId = c.textValue();
    JsonNode created = j.get("created_at");
    if (Json.isLong(created)) {
      o.createdAt = created.longValue();
      out.hasCreatedAt = isUsableEventTime(o.createdAt, nowMs);
      out.createdAtOutOfRange = !out.hasCreatedAt;
    } else if (Json.isUnsignedBeyondLong(created)) {
      out.createdAtOutOfRange = true; // an integer beyond a long
    }
    String problem = validateOrder(j, o, nowMs);
    if (problem != null) {
      out.inputClass = InputClass.INVALID;
      out.reason = problem;
      return out;
    }
    out.inputClass = InputClass.VALID;
    return out;
  }

  /**
   * model.cc validate_order on an object with a non-empty string order_id: null when valid (then
   * {@code into} holds the complete order), else the INVALID reason.
   */
  private static String validateOrder(JsonNode value, Order into, long nowMs) {
    JsonNode customer = value.get("customer_id");
    if (customer == null || !customer.isTextual()) return "customer_id missing or not a string";
    JsonNode created = value.get("created_at");
    if (!Json.isLong(created) && !Json.isUnsignedBeyondLong(created)) return "created_at missing or not an integer";
    if (!Json.isLong(created)) return "created_at is out of range (0 .. the processing clock + 24 h)";
    if (!isUsableEventTime(created.longValue(), nowMs)) {
      return "created_at " + created.longValue() + " is out of range (0 .. the processing clock + 24 h)";
    }
    JsonNode items = value.get("items");
    if (items == null || !items.isArray()) return "items missing or not an array";
    if (items.size() == 0) return "no items";
    if (items.size() > MAX_ORDER_LINES) return "more than " + MAX_ORDER_LINES + " lines";
    Set<String> skus = new HashSet<>();
    List<OrderItem> lines = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      JsonNode line = items.get(i);
      String at = "items[" + i + "]";
      if (!line.isObject()) return at + " is not an object";
      if (!Json.isNonEmptyString(line, "sku")) return at + ".sku missing or not a non-empty string";
      JsonNode q = line.get("qty");
      if (!Json.isLong(q)) return at + ".qty missing or not an integer";
      if (q.longValue() <= 0) return at + ".qty must be > 0";
      if (q.longValue() > MAX_LINE_QTY) return at + ".qty must be <= " + MAX_LINE_QTY;
      JsonNode p = line.get("unit_price_cents");
      if (!Json.isLong(p)) return at + ".unit_price_cents missing or not an integer";
      if (p.longValue() < 0) return at + ".unit_price_cents must be >= 0";
      if (p.longValue() > MAX_UNIT_PRICE_CENTS) return at + ".unit_price_cents must be <= " + MAX_UNIT_PRICE_CENTS;
      String sku = line.get("sku").textValue();
      if (!skus.add(sku)) return "sku '" + sku + "' appears twice";
      lines.add(new OrderItem(sku, q.longValue(), p.longValue()));
    }
    into.items = lines;
    return null;
  }

  static final class Restock {
    String restockId;
    String sku;
    long qty;
  }

  /**
   * model.cc classify_restock: the restock, or a BadRecord (dead letter). Valid with a non-empty
   * string restock_id and sku, an integer qty in 1..1,000,000,000 (else INVALID_RESTOCK) and a record
   * key equal to its sku (else KEY_MISMATCH; null for a null Kafka key).
   */
  static Restock classifyRestock(String key, byte[] value) {
    JsonNode j = Json.parseOrNull(value);
    if (j == null || j.isNull()) {
      throw new Json.BadRecord(DLQ_MALFORMED_JSON, value != null ? "value is not valid JSON" : "null value");
    }
    if (!j.isObject()) throw new Json.BadRecord(DLQ_NOT_AN_OBJECT, "value is JSON but not an object");
    JsonNode q = j.get("qty");
    if (!Json.isNonEmptyString(j, "restock_id")) {
      throw new Json.BadRecord(DLQ_INVALID_RESTOCK, "restock_id missing or not a non-empty string");
    }
    if (!Json.isNonEmptyString(j, "sku")) {
      throw new Json.BadRecord(DLQ_INVALID_RESTOCK, "sku missing or not a non-empty string");
    }
    if (!Json.isLong(q) || q.longValue() <= 0 || q.longValue() > MAX_RESTOCK_QTY) {
      throw new Json.BadRecord(DLQ_INVALID_RESTOCK, "qty missing or not an integer in 1.." + MAX_RESTOCK_QTY);
    }
    if (key == null || !key.equals(j.get("sku").textValue())) {
      throw new Json.BadRecord(DLQ_KEY_MISMATCH, "record key is not the sku");
    }
    Restock r = new Restock();
    r.restockId = j.get("restock_id").textValue();
    r.sku = j.get("sku").textValue();
    r.qty = q.longValue();
    return r;
  }

  /** An order-status value. */
  static String orderStatus(Order order, String status, String reason, long createdAt, long updatedAt) {
    Json.Writer w = new Json.Writer().begin()
        .field("order_id", order.orderId)
        .field("status", status)
        .field("reason", reason)
        .field("total_cents", order.totalCents())
        .field("created_at", createdAt)
        .field("updated_at", updatedAt);
    writeItems(w, order.items);
    return w.end().toString();
  }

  /** An inventory-reservations value (restockId only for RESTOCKED). */
  static String ledgerEntry(String orderId, String sku, long qty, String type, long availableAfter, String restockId) {
    Json.Writer w = new Json.Writer().begin()
        .field("order_id", orderId)
        .field("sku", sku)
        .field("qty", qty)
        .field("type", type)
        .field("available_after", availableAfter);
    if (restockId != null) w.field("restock_id", restockId);
    return w.end().toString();
  }

  static String notificationId(String orderId, String terminalStatus) {
    return orderId + ":" + terminalStatus;
  }

  static String notificationEvent(String terminalStatus) {
    return CONFIRMED.equals(terminalStatus) ? "ORDER_CONFIRMED" : "ORDER_CANCELLED";
  }
}
