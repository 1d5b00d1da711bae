#include "topology/inventory.h"
#include "topology/store_check.h"

namespace ecommerce {

void InventoryProcessor::init(kstreams::ProcessorContext<std::string, Emit>& ctx) {
  ctx_ = &ctx;
  stock_ = ctx.get_key_value_store<std::string, StockLevel>(kStockStore);
  restocks_seen_ = ctx.get_key_value_store<std::string, int64_t>(kRestocksSeenStore);
  KSTREAMS_CHECK(stock_ && restocks_seen_, "inventory stores are not connected");
}

void InventoryProcessor::process(const kstreams::Record<std::string, std::string>& record) {
  if (ctx_->record_metadata().topic == commands_topic_) {
    on_command(record);
  } else {
    on_restock(record);
  }
}

StockLevel InventoryProcessor::load(const std::string& sku) {
  auto level = check(stock_->get(sku), "stock.get");
  if (level) return *level;
  StockLevel fresh;  // a sku never restocked has zero stock
  fresh.sku = sku;
  return fresh;
}

void InventoryProcessor::ledger(const ReservationEntry& entry, int64_t timestamp) {
  ctx_->forward(kstreams::Record<std::string, Emit>{entry.sku, Emit{json_text(entry), {}}, timestamp, {}}, kLedgerSink);
}

void InventoryProcessor::on_restock(const kstreams::Record<std::string, std::string>& record) {
  const ClassifiedRestock classified =
      classify_restock(std::optional<std::string>(record.key), std::optional<std::string>(record.value));
  if (classified.input_class != InputClass::kValid) {
    throw kstreams::ProcessingException(classified.dlq_error, classified.reason);
  }
  const Restock& restock = classified.restock;
  if (check(restocks_seen_->get(restock.restock_id), "restocks-seen.get").has_value()) return;  // repeated
  StockLevel level = load(restock.sku);
  int64_t on_hand = 0;
  int64_t after = 0;
  if (__builtin_add_overflow(level.available, level.reserved, &on_hand) ||
      __builtin_add_overflow(on_hand, restock.qty, &after)) {
    throw kstreams::ProcessingException(kDlqStockOverflow, "restock of " + std::to_string(restock.qty) + " units of " +
                                                               restock.sku + " would take its stock beyond int64");
  }
  check(restocks_seen_->put(restock.restock_id, record.timestamp), "restocks-seen.put");
  level.available += restock.qty;  // <= after: no overflow
  check(stock_->put(restock.sku, level), "stock.put");
  ReservationEntry entry;
  entry.sku = restock.sku;
  entry.qty = restock.qty;
  entry.type = LedgerType::kRestocked;
  entry.available_after = level.available;
  entry.restock_id = restock.restock_id;
  ledger(entry, ctx_->current_system_time_ms());
}

void InventoryProcessor::on_command(const kstreams::Record<std::string, std::string>& record) {
  StockCommand cmd;
  if (binary::Reader r(record.value); !decode(r, &cmd) || !r.done()) {
    throw kstreams::ProcessingException(
        "BAD_STOCK_COMMAND", "not a binary StockCommand (" + std::to_string(record.value.size()) + " bytes)");
  }
  StockLevel level = load(cmd.sku);
  ReservationEntry entry;
  entry.order_id = cmd.order_id;
  entry.sku = cmd.sku;
  entry.qty = cmd.qty;
  const int64_t now = ctx_->current_system_time_ms();
  if (cmd.type == StockCommand::Type::kRelease) {
    int64_t available = 0;
    int64_t reserved = 0;
    if (cmd.qty <= 0 || __builtin_add_overflow(level.available, cmd.qty, &available) ||
        __builtin_sub_overflow(level.reserved, cmd.qty, &reserved)) {
      throw kstreams::ProcessingException("BAD_STOCK_COMMAND", "RELEASE of " + std::to_string(cmd.qty) + " units of " +
                                                                   cmd.sku + " does not fit the stock");
    }
    level.available = available;
    level.reserved = reserved;
    entry.type = LedgerType::kReleased;
    entry.available_after = level.available;
    check(stock_->put(cmd.sku, level), "stock.put");
    ledger(entry, now);
    return;
  }
  LineResult result{cmd.order_id, cmd.line, cmd.sku, cmd.qty, false};
  int64_t reserved = 0;
  if (cmd.qty > 0 && level.available >= cmd.qty && !__builtin_add_overflow(level.reserved, cmd.qty, &reserved)) {
    level.available -= cmd.qty;
    level.reserved = reserved;
    entry.type = LedgerType::kReserved;
    result.reserved = true;
    check(stock_->put(cmd.sku, level), "stock.put");
  } else {
    entry.type = LedgerType::kRejected;
  }
  entry.available_after = level.available;
  ledger(entry, now);
  // The result keeps the command's timestamp (the order's event time), as Kafka Streams does for
  // derived records: the saga task picks its next record by lowest timestamp, so a wall-clock stamp
  // here would queue every line result behind all newer orders.
  ctx_->forward(kstreams::Record<std::string, Emit>{cmd.order_id, Emit{to_binary(result), {}}, record.timestamp, {}},
                kResultSink);
}

}  // namespace ecommerce
