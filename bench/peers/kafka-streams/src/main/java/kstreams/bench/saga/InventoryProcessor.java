package kstreams.bench.saga;

import com.fasterxml.jackson.databind.JsonNode;
import kstreams.bench.saga.SagaRecords.Emit;
import kstreams.bench.saga.SagaRecords.StockLevel;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The stock of every sku (topology/inventory.cc), keyed by sku: the only writer of a sku's stock,
 * so reservations of one sku are serialized and `available` never goes below zero.
 *
 * <pre>
 *   restock -> malformed/invalid or key != sku: dead-letters; repeated restock_id: ignored;
 *              available + reserved + qty beyond a long: dead letter STOCK_OVERFLOW (nothing applied,
 *              the restock_id stays unseen); else available += qty, RESTOCKED
 *   RESERVE -> available >= qty: available -= qty, reserved += qty, RESERVED, result reserved
 *              else REJECTED, result rejected
 *   RELEASE -> available += qty, reserved -= qty, RELEASED (compensation)
 * </pre>
 *
 * Keeping available + reserved <= Long.MAX_VALUE at every restock means no reserve or release can
 * overflow either (they move units between the two); the arithmetic is checked all the same.
 *
 * Two nodes of this class share the store "stock" (one subtopology, one task per partition): the
 * MAIN node reads inventory-restocks merged with the RESERVE commands, the RELEASES node the RELEASE
 * commands, which the saga emits downstream of MAIN's results and which therefore travel through a
 * repartition topic of their own (see OrderSagaProcessor). Thread-safety: the task's thread only.
 */
final class InventoryProcessor implements Processor<String, byte[], String, Emit> {
  enum Mode { MAIN, RELEASES }

  private final Mode mode;
  private final String ledgerSink;
  private final String resultsChild; // MAIN only
  private final String deadLetters;
  private ProcessorContext<String, Emit> ctx;
  private KeyValueStore<String, String> stock;
  private KeyValueStore<String, Long> restocksSeen;
  private String restocksTopic;

  InventoryProcessor(Mode mode, String restocksTopic, String ledgerSink, String resultsChild, String deadLetters) {
    this.mode = mode;
    this.restocksTopic = restocksTopic;
    this.ledgerSink = ledgerSink;
    this.resultsChild = resultsChild;
    this.deadLetters = deadLetters;
  }

  @Override
  public void init(ProcessorContext<String, Emit> context) {
    ctx = context;
    stock = context.getStateStore(SagaTopology.STOCK_STORE);
    if (mode == Mode.MAIN) restocksSeen = context.getStateStore(SagaTopology.RESTOCKS_SEEN_STORE);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    try {
      RecordMetadata meta = ctx.recordMetadata().orElse(null);
      if (mode == Mode.MAIN && meta != null && meta.topic().equals(restocksTopic)) {
        onRestock(record);
      } else {
        onCommand(record);
      }
    } catch (Json.BadRecord e) {
      DeadLetters.forward(ctx, record, deadLetters, e.errorClass, e.getMessage());
    }
  }

  private StockLevel load(String sku) {
    return StockLevel.fromJson(sku, stock.get(sku));
  }

  private void ledger(String sku, String entryJson, long timestamp) {
    ctx.forward(new Record<>(sku, Emit.json(entryJson), timestamp), ledgerSink);
  }

  private void onRestock(Record<String, byte[]> record) {
    Model.Restock restock = Model.classifyRestock(record.key(), record.value());
    if (restocksSeen.get(restock.restockId) != null) return; // repeated
    StockLevel level = load(restock.sku);
    try {
      Math.addExact(Math.addExact(level.available, level.reserved), restock.qty);
    } catch (ArithmeticException e) {
      throw new Json.BadRecord(Model.DLQ_STOCK_OVERFLOW,
          "restock of " + restock.qty + " units of " + restock.sku + " would take its stock beyond int64");
    }
    restocksSeen.put(restock.restockId, record.timestamp());
    level.available += restock.qty; // <= available + reserved + qty: no overflow
    stock.put(restock.sku, level.toJson());
    ledger(restock.sku,
        Model.ledgerEntry(null, restock.sku, restock.qty, Model.RESTOCKED, level.available, restock.restockId),
        ctx.currentSystemTimeMs());
  }

  private void onCommand(Record<String, byte[]> record) {
    String bad = SagaRecords.BAD_STOCK_COMMAND;
    JsonNode j = Json.parseInternal(record.value(), bad);
    String type = Json.requireString(j, "type", bad);
    String orderId = Json.requireString(j, "order_id", bad);
    String sku = Json.requireString(j, "sku", bad);
    long qty = Json.requireLong(j, "qty", bad);
    long line = Json.requireLong(j, "line", bad);
    if (!type.equals("RESERVE") && !type.equals("RELEASE")) throw new Json.BadRecord(bad, "unknown command " + type);
    StockLevel level = load(sku);
    long now = ctx.currentSystemTimeMs();
    if (type.equals("RELEASE")) {
      long available;
      long reservedAfter;
      try {
        if (qty <= 0) throw new ArithmeticException("qty <= 0");
        available = Math.addExact(level.available, qty);
        reservedAfter = Math.subtractExact(level.reserved, qty);
      } catch (ArithmeticException e) {
        throw new Json.BadRecord(bad, "RELEASE of " + qty + " units of " + sku + " does not fit the stock");
      }
      level.available = available;
      level.reserved = reservedAfter;
      stock.put(sku, level.toJson());
      ledger(sku, Model.ledgerEntry(orderId, sku, qty, Model.RELEASED, level.available, null), now);
      return;
    }
    if (mode != Mode.MAIN) throw new Json.BadRecord(bad, "RESERVE on the releases topic");
    boolean reserved = qty > 0 && level.available >= qty && level.reserved <= Long.MAX_VALUE - qty;
    if (reserved) {
      level.available -= qty;
      level.reserved += qty; // checked above: no overflow
      stock.put(sku, level.toJson());
    }
    ledger(sku, Model.ledgerEntry(orderId, sku, qty, reserved ? Model.RESERVED : Model.REJECTED, level.available,
        null), now);
    // The result keeps the command's timestamp (the order's event time): the saga task picks its
    // next record by lowest timestamp, so a wall-clock stamp would queue every line result behind
    // all newer orders.
    ctx.forward(new Record<>(orderId, Emit.json(SagaRecords.lineResult(orderId, line, sku, qty, reserved)),
        record.timestamp()), resultsChild);
  }
}
