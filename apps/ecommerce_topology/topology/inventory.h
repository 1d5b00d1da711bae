// InventoryProcessor: the stock of every sku, one instance per task of the `inventory-restocks` +
// `<app>-stock-commands` subtopology (co-partitioned, keyed by sku). It is the only writer of a
// sku's stock, so reservations of one sku are serialized: two orders racing for the last units get
// one RESERVED and one REJECTED, and `available` never goes below zero.
//
//   restock  -> malformed/invalid or key != sku: ProcessingException (dead-letters); repeated
//               restock_id: ignored; available + reserved + qty beyond int64: dead letter
//               STOCK_OVERFLOW (nothing applied, the restock_id stays unseen); else available += qty,
//               ledger RESTOCKED
//   RESERVE  -> available >= qty: available -= qty, reserved += qty, ledger RESERVED, result reserved
//               else ledger REJECTED, result rejected
//   RELEASE  -> available += qty, reserved -= qty, ledger RELEASED (compensation)
// Keeping available + reserved <= INT64_MAX at every restock means no reserve or release can
// overflow either (they move units between the two); the arithmetic is checked all the same.
// Thread-safety: the task's thread only.
#pragma once

#include <string>

#include "kstreams/topology/processor.h"
#include "topology/emit.h"

namespace ecommerce {

class InventoryProcessor final : public kstreams::Processor<std::string, std::string, std::string, Emit> {
 public:
  explicit InventoryProcessor(std::string commands_topic) : commands_topic_(std::move(commands_topic)) {}

  void init(kstreams::ProcessorContext<std::string, Emit>& ctx) override;
  void process(const kstreams::Record<std::string, std::string>& record) override;

 private:
  void on_restock(const kstreams::Record<std::string, std::string>& record);
  void on_command(const kstreams::Record<std::string, std::string>& record);
  StockLevel load(const std::string& sku);
  void ledger(const ReservationEntry& entry, int64_t timestamp);

  std::string commands_topic_;
  kstreams::ProcessorContext<std::string, Emit>* ctx_ = nullptr;
  kstreams::KeyValueStore<std::string, StockLevel>* stock_ = nullptr;
  kstreams::KeyValueStore<std::string, int64_t>* restocks_seen_ = nullptr;
};

}  // namespace ecommerce
