package kstreams.bench.saga;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import kstreams.bench.saga.SagaRecords.Emit;
import kstreams.bench.saga.SagaRecords.TerminalEvent;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The e-commerce topology of apps/ecommerce_topology (contract: shared/contracts/ecommerce.md)
 * ported to Apache Kafka Streams 3.9, for the benchmark's `saga` scenario (bench/harness/PROTOCOL.md).
 *
 * <pre>
 *   orders --peek(onOrder)--> order-saga ----------> order-status, dead-letters
 *                                 | RESERVE (key sku) --repartition "stock-commands"--+
 *   inventory-restocks ------------------------------------------------------------merge--> inventory
 *   inventory --> inventory-reservations, dead-letters
 *             | result (key order_id) --repartition "reservation-results"--> order-saga-results
 *   order-saga-results --> order-status; RELEASE (key sku) --repartition "stock-releases"--> inventory-releases
 *   terminal statuses (both saga nodes) --merge--> notifier (outbox, webhook) --> notifications(-dlq)
 *                       --with an event time only--> --group "all"--> tumbling 1 min  --> order-analytics
 *                                                    --by sku------> hopping 5 min/1 min --> (on window close)
 * </pre>
 *
 * An order whose created_at is out of range (contract: 0 .. the processing clock + 24 h) has no
 * event time: the orders timestamp extractor ({@link #orderEventTime}) does not let it move stream
 * time, and its terminal status is filtered out before the windowed aggregations (the C++ saga
 * forwards nothing to its analytics for it, ClassifiedOrder::event_time).
 *
 * The C++ topology closes the saga -> inventory -> saga cycle through two ordinary topics it
 * creates itself; here the cycle runs through Kafka Streams' own repartition topics
 * ({@code <application.id>-stock-commands-repartition}, {@code -reservation-results-repartition},
 * {@code -stock-releases-repartition}), which requires the saga and the inventory to be two nodes
 * each sharing their stores (see README-saga.md). Stores are Kafka Streams' default persistent
 * (RocksDB) stores with changelogs.
 */
public final class SagaTopology {
  static final String ORDERS_STORE = "orders";
  static final String SAGAS_STORE = "order-sagas";
  static final String OUTBOX_STORE = "notification-outbox";
  static final String NOTIFIER_STORE = "notifier-state";
  static final String STOCK_STORE = "stock";
  static final String RESTOCKS_SEEN_STORE = "restocks-seen";
  static final String REVENUE_STORE = "revenue-1m";
  static final String SKU_SALES_STORE = "sku-sales-5m";

  private static final Serde<String> S = Serdes.String();
  private static final Serde<byte[]> B = Serdes.ByteArray();

  private SagaTopology() {}

  /**
   * Settings the saga expects besides the user's: window results are emitted when a record closes
   * them (the C++ runtime checks on every record; Kafka Streams by default at most once a second of
   * wall clock, which leaves the windows closed by the last second of input unemitted until more
   * input arrives). The caller applies them unless overridden (and prints them as `setting k=v`).
   */
  public static Map<String, String> defaultSettings() {
    return Map.of("__emit.interval.ms.kstreams.windowed.aggregation__", "0");
  }

  /** Same as {@link #build(StreamsBuilder, String, Consumer, long)} with analytics.grace.ms 30000. */
  public static void build(StreamsBuilder builder, String topicPrefix, Consumer<Long> onOrder) {
    build(builder, topicPrefix, onOrder, Model.DEFAULT_GRACE_MS);
  }

  /** Same as {@link #build(StreamsBuilder, String, Consumer, long, LongSupplier)} on the system clock. */
  public static void build(StreamsBuilder builder, String topicPrefix, Consumer<Long> onOrder, long graceMs) {
    build(builder, topicPrefix, onOrder, graceMs, System::currentTimeMillis);
  }

  /**
   * Adds the e-commerce topology to {@code builder}: contract topics are {@code topicPrefix} + name;
   * {@code onOrder} is called with 1 for every record read from the orders topic; {@code graceMs}
   * is analytics.grace.ms; {@code clock} is the processing instance's wall clock (epoch ms, called on
   * stream threads): created_at may be at most 24 h ahead of it. The notifier reads its
   * notifications.* settings from the StreamsConfig.
   */
  public static void build(StreamsBuilder builder, String topicPrefix, Consumer<Long> onOrder, long graceMs,
      LongSupplier clock) {
    final String p = topicPrefix;
    final String restocksTopic = p + Model.RESTOCKS;
    for (String store : new String[] {ORDERS_STORE, SAGAS_STORE, OUTBOX_STORE, NOTIFIER_STORE, STOCK_STORE}) {
      builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(store), S, S));
    }
    builder.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RESTOCKS_SEEN_STORE), S, Serdes.Long()));

    // The order saga, orders side.
    KStream<String, Emit> intake = builder
        .stream(p + Model.ORDERS, Consumed.with(S, B).withTimestampExtractor(new CreatedAtExtractor(clock))
            .withName("orders-source"))
        .peek((k, v) -> onOrder.accept(1L), Named.as("orders-counter"))
        .process(() -> new OrderSagaProcessor(OrderSagaProcessor.Mode.ORDERS,
                new OrderSagaProcessor.Children("order-status-sink", "stock-commands", "terminal-events",
                    "orders-dead-letters-sink"), clock),
            Named.as("order-saga"), ORDERS_STORE, SAGAS_STORE);
    intake.to(p + Model.ORDER_STATUS, emitTo("order-status-sink"));
    intake.to(p + Model.DEAD_LETTERS, emitTo("orders-dead-letters-sink"));
    KStream<String, byte[]> reserves = intake
        .mapValues(Emit::bytes, Named.as("stock-commands"))
        .repartition(Repartitioned.with(S, B).withName("stock-commands"));
    KStream<String, Emit> intakeTerminal = intake.filter((k, v) -> true, Named.as("terminal-events"));

    // The inventory: restocks and reservations.
    KStream<String, Emit> inventory = builder
        .stream(restocksTopic, Consumed.with(S, B).withName("restocks-source"))
        .merge(reserves, Named.as("inventory-inputs"))
        .process(() -> new InventoryProcessor(InventoryProcessor.Mode.MAIN, restocksTopic,
                "inventory-reservations-sink", "reservation-results", "restocks-dead-letters-sink"),
            Named.as("inventory"), STOCK_STORE, RESTOCKS_SEEN_STORE);
    inventory.to(p + Model.RESERVATIONS, emitTo("inventory-reservations-sink"));
    inventory.to(p + Model.DEAD_LETTERS, emitTo("restocks-dead-letters-sink"));
    KStream<String, byte[]> results = inventory
        .mapValues(Emit::bytes, Named.as("reservation-results"))
        .repartition(Repartitioned.with(S, B).withName("reservation-results"));

    // The order saga, results side (same stores, so the same subtopology and tasks as order-saga).
    KStream<String, Emit> gather = results.process(
        () -> new OrderSagaProcessor(OrderSagaProcessor.Mode.RESULTS,
            new OrderSagaProcessor.Children("order-status-results-sink", "stock-releases", "terminal-events-results",
                "results-dead-letters-sink"), clock),
        Named.as("order-saga-results"), ORDERS_STORE, SAGAS_STORE);
    gather.to(p + Model.ORDER_STATUS, emitTo("order-status-results-sink"));
    gather.to(p + Model.DEAD_LETTERS, emitTo("results-dead-letters-sink"));
    KStream<String, Emit> gatherTerminal = gather.filter((k, v) -> true, Named.as("terminal-events-results"));

    // Compensation: releases go back to the inventory's tasks (same stock store).
    KStream<String, Emit> releases = gather
        .mapValues(Emit::bytes, Named.as("stock-releases"))
        .repartition(Repartitioned.with(S, B).withName("stock-releases"))
        .process(() -> new InventoryProcessor(InventoryProcessor.Mode.RELEASES, restocksTopic,
                "inventory-releases-sink", null, "releases-dead-letters-sink"),
            Named.as("inventory-releases"), STOCK_STORE);
    releases.to(p + Model.RESERVATIONS, emitTo("inventory-releases-sink"));
    releases.to(p + Model.DEAD_LETTERS, emitTo("releases-dead-letters-sink"));

    // Terminal statuses: the notifier's outbox and the analytics.
    KStream<String, Emit> terminal = intakeTerminal.merge(gatherTerminal, Named.as("terminal-merge"));
    KStream<String, Emit> notices = terminal.process(
        () -> new NotifierProcessor("notifications-sink", "notifications-dlq-sink"),
        Named.as("notifier"), OUTBOX_STORE, NOTIFIER_STORE);
    notices.to(p + Model.NOTIFICATIONS, emitTo("notifications-sink"));
    notices.to(p + Model.NOTIFICATIONS_DLQ, emitTo("notifications-dlq-sink"));

    // Analytics on event time: only terminal statuses of orders that have one (a poison created_at
    // such as Long.MAX_VALUE - 60000 would overflow TimeWindows.windowsFor and kill the stream thread).
    KStream<String, TerminalEvent> events = terminal
        .filter((k, e) -> e.terminal.hasEventTime, Named.as("with-event-time"))
        .mapValues(e -> e.terminal, Named.as("terminal-values"));
    Duration grace = Duration.ofMillis(graceMs);
    String analytics = p + Model.ANALYTICS;

    // revenue_1m: tumbling 1-minute windows over every terminal status, key "all".
    events
        .groupBy((k, e) -> Model.REVENUE_KEY, Grouped.with("revenue-by-all", S, SagaRecords.TERMINAL_SERDE))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(Model.REVENUE_WINDOW_MS), grace))
        .emitStrategy(EmitStrategy.onWindowClose())
        .aggregate(() -> new long[3],
            // Saturating sums: a long cannot hold more.
            (k, e, agg) -> e.confirmed()
                ? new long[] {Model.saturatingAdd(agg[0], 1), agg[1], Model.saturatingAdd(agg[2], e.totalCents)}
                : new long[] {agg[0], Model.saturatingAdd(agg[1], 1), agg[2]},
            Named.as("revenue-aggregate"),
            Materialized.<String, long[], WindowStore<Bytes, byte[]>>as(REVENUE_STORE)
                .withKeySerde(S).withValueSerde(SagaRecords.LONGS_SERDE))
        .toStream(Named.as("revenue-windows"))
        .map((w, agg) -> KeyValue.pair(w.key(), new Json.Writer().begin()
                .field("type", Model.REVENUE_TYPE)
                .field("window_start", w.window().start())
                .field("window_end", w.window().end())
                .field("orders_confirmed", agg[0])
                .field("orders_cancelled", agg[1])
                .field("revenue_cents", agg[2]).end().toString()),
            Named.as("revenue-window-out"))
        .to(analytics, Produced.with(S, S).withName("revenue-analytics-sink"));

    // sku_sales_5m: hopping 5-minute windows advancing 1 minute, CONFIRMED orders only, key sku.
    events
        .filter((k, e) -> e.confirmed(), Named.as("confirmed-only"))
        .flatMap((k, e) -> {
          List<KeyValue<String, long[]>> sales = new ArrayList<>(e.items.size());
          for (Model.OrderItem item : e.items) {
            // A CONFIRMED order is valid: qty and price are bounded, the product fits a long.
            sales.add(KeyValue.pair(item.sku, new long[] {item.qty, item.qty * item.unitPriceCents}));
          }
          return sales;
        }, Named.as("sales-by-sku"))
        .groupByKey(Grouped.with("sku-sales", S, SagaRecords.LONGS_SERDE))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(Model.SKU_WINDOW_MS), grace)
            .advanceBy(Duration.ofMillis(Model.SKU_WINDOW_ADVANCE_MS)))
        .emitStrategy(EmitStrategy.onWindowClose())
        .aggregate(() -> new long[2],
            (k, sale, agg) -> new long[] {Model.saturatingAdd(agg[0], sale[0]), Model.saturatingAdd(agg[1], sale[1])},
            Named.as("sku-aggregate"),
            Materialized.<String, long[], WindowStore<Bytes, byte[]>>as(SKU_SALES_STORE)
                .withKeySerde(S).withValueSerde(SagaRecords.LONGS_SERDE))
        .toStream(Named.as("sku-windows"))
        .map((w, agg) -> KeyValue.pair(w.key(), new Json.Writer().begin()
                .field("type", Model.SKU_SALES_TYPE)
                .field("sku", w.key())
                .field("window_start", w.window().start())
                .field("window_end", w.window().end())
                .field("units_sold", agg[0])
                .field("revenue_cents", agg[1]).end().toString()),
            Named.as("sku-window-out"))
        .to(analytics, Produced.with(S, S).withName("sku-analytics-sink"));
  }

  private static Produced<String, Emit> emitTo(String sinkName) {
    return Produced.with(S, SagaRecords.EMIT_SERDE).withName(sinkName);
  }

  /**
   * The timestamp extractor of `orders` (ecommerce_topology.cc order_event_time), at wall-clock
   * {@code nowMs}: created_at when it is an integer within bounds (Model.isUsableEventTime); the
   * record timestamp when created_at is absent or not a number and the record timestamp is within
   * bounds; otherwise (created_at out of range, a poison pill) the partition time, 0 before the
   * partition has one: such an order has no event time, so it neither advances stream time nor lands
   * in a far-away window. Never negative: Kafka Streams would drop the record, and the order must
   * still get its CANCELLED INVALID (or its dead letter). Reads created_at without a JSON parse (the
   * way std::from_chars reads an int64); the saga's full parse decides the order's fate.
   */
  static long orderEventTime(ConsumerRecord<Object, Object> record, long partitionTime, long nowMs) {
    final long unchanged = Math.max(partitionTime, 0);
    final long fallback = Model.isUsableEventTime(record.timestamp(), nowMs) ? record.timestamp() : unchanged;
    Object value = record.value();
    if (!(value instanceof byte[])) return fallback;
    byte[] v = (byte[]) value;
    int pos = CreatedAtExtractor.indexOf(v, CreatedAtExtractor.FIELD);
    if (pos < 0) return fallback;
    pos += CreatedAtExtractor.FIELD.length;
    while (pos < v.length && v[pos] == ' ') pos++;
    boolean negative = pos < v.length && v[pos] == '-';
    int digits = negative ? pos + 1 : pos;
    int end = digits;
    long magnitude = 0;
    boolean outOfRange = false;
    while (end < v.length && v[end] >= '0' && v[end] <= '9') {
      int d = v[end] - '0';
      if (magnitude > (Long.MAX_VALUE - d) / 10) {
        outOfRange = true; // the digits still count: an integer, just not an int64
      } else if (!outOfRange) {
        magnitude = magnitude * 10 + d;
      }
      end++;
    }
    // Not a number (or a float): created_at is ill-typed, the record timestamp stands in.
    if (end == digits || (end < v.length && v[end] == '.')) return fallback;
    // An integer: created_at is the event time if it is within bounds; otherwise the order has none.
    long ts = negative ? -magnitude : magnitude;
    return !outOfRange && Model.isUsableEventTime(ts, nowMs) ? ts : unchanged;
  }

  /** {@link #orderEventTime} on the topology's clock. */
  static final class CreatedAtExtractor implements TimestampExtractor {
    static final byte[] FIELD = "\"created_at\":".getBytes(StandardCharsets.US_ASCII);
    private final LongSupplier clock;

    CreatedAtExtractor(LongSupplier clock) {
      this.clock = clock;
    }

    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      return orderEventTime(record, partitionTime, clock.getAsLong());
    }

    static int indexOf(byte[] hay, byte[] needle) {
      outer:
      for (int i = 0; i + needle.length <= hay.length; i++) {
        for (int j = 0; j < needle.length; j++) {
          if (hay[i + j] != needle[j]) continue outer;
        }
        return i;
      }
      return -1;
    }
  }
}
