// The stock ledger (`inventory-reservations`): well-formed entries, a running balance that never
// goes negative, restocks applied once, and reservations consistent with the order outcomes.
#include <map>
#include <set>

#include "verify/check_context.h"

namespace ecommerce::verify::internal {
namespace {

std::string entry_text(const LedgerRecord& l) {
  return where(*l.record) + " " + std::string(to_string(l.entry.type)) + " " + l.entry.sku + " qty " +
         std::to_string(l.entry.qty) + " order " + l.entry.order_id.value_or("null") + " available_after " +
         std::to_string(l.entry.available_after);
}

void check_well_formed(Context& ctx, std::map<std::string, std::vector<const LedgerRecord*>>* by_sku) {
  for (const auto* r : ctx.undecodable_ledger) {
    ctx.checked(kLedgerWellFormed);
    ctx.violation(kLedgerWellFormed, where(*r) + ": undecodable ledger entry");
  }
  std::map<std::string, int32_t> partition_of_sku;
  for (const auto& l : ctx.ledger) {
    ctx.checked(kLedgerWellFormed);
    const ReservationEntry& e = l.entry;
    std::string problem;
    const bool restocked = e.type == LedgerType::kRestocked;
    if (restocked && (e.order_id || !e.restock_id)) problem = "RESTOCKED needs restock_id and a null order_id";
    if (!restocked && !e.order_id) problem = "order_id missing";
    if (e.qty <= 0) problem = "qty must be > 0";
    if (l.record->key != e.sku) problem = "key is not the sku";
    auto [it, inserted] = partition_of_sku.try_emplace(e.sku, l.record->partition.value());
    if (!inserted && it->second != l.record->partition.value()) problem = "sku spread over several partitions";
    if (!problem.empty()) ctx.violation(kLedgerWellFormed, entry_text(l) + ": " + problem);
    (*by_sku)[e.sku].push_back(&l);
  }
}

void check_running_balance(Context& ctx, const std::map<std::string, std::vector<const LedgerRecord*>>& by_sku) {
  for (const auto& [sku, entries] : by_sku) {
    int64_t available = 0;
    for (const LedgerRecord* l : entries) {
      ctx.checked(kLedgerRunningBalance);
      const ReservationEntry& e = l->entry;
      const int64_t expected = available + e.delta();
      if (e.type == LedgerType::kRejected && e.qty <= available) {
        ctx.violation(kLedgerRunningBalance,
                      entry_text(*l) + ": rejected although " + std::to_string(available) + " were available");
      } else if (e.available_after != expected) {
        ctx.violation(kLedgerRunningBalance, entry_text(*l) + ": expected available_after " + std::to_string(expected));
      } else if (e.available_after < 0) {
        ctx.violation(kLedgerRunningBalance, entry_text(*l) + ": stock below zero (oversold)");
      }
      available = e.available_after;  // continue from what the ledger says, so one error is reported once
    }
  }
}

void check_restocks(Context& ctx) {
  std::map<std::string, std::vector<const LedgerRecord*>> by_restock;
  for (const auto& l : ctx.ledger) {
    if (l.entry.type == LedgerType::kRestocked && l.entry.restock_id) by_restock[*l.entry.restock_id].push_back(&l);
  }
  for (const auto& [id, restock] : ctx.input_restocks) {
    ctx.checked(kLedgerRestocks);
    auto it = by_restock.find(id);
    if (it == by_restock.end()) {
      ctx.violation(kLedgerRestocks, "restock " + id + " (" + restock.sku + " +" + std::to_string(restock.qty) +
                                         "): no RESTOCKED entry");
    } else if (it->second.size() != 1) {
      ctx.violation(kLedgerRestocks,
                    "restock " + id + ": " + std::to_string(it->second.size()) + " RESTOCKED entries (applied twice)");
    } else if (it->second[0]->entry.sku != restock.sku || it->second[0]->entry.qty != restock.qty) {
      ctx.violation(kLedgerRestocks, entry_text(*it->second[0]) + ": does not match restock " + id + " (" +
                                         restock.sku + " +" + std::to_string(restock.qty) + ")");
    }
  }
  for (const auto& [id, entries] : by_restock) {
    if (!ctx.input_restocks.count(id)) {
      ctx.violation(kLedgerRestocks, entry_text(*entries[0]) + ": unknown restock_id " + id);
    }
  }
}

struct LineTally {
  int reserved = 0, released = 0, rejected = 0;
  int64_t reserved_qty = 0, released_qty = 0, rejected_qty = 0;
};

void check_confirmed(Context& ctx, const std::string& id, const Order& order,
                     const std::map<std::string, LineTally>& lines) {
  ctx.checked(kLedgerConfirmedReserved);
  for (const OrderItem& item : order.items) {
    auto it = lines.find(item.sku);
    const LineTally t = it == lines.end() ? LineTally{} : it->second;
    if (t.reserved != 1 || t.reserved_qty != item.qty || t.released != 0 || t.rejected != 0) {
      ctx.violation(kLedgerConfirmedReserved, id + " CONFIRMED, line " + item.sku + " x" + std::to_string(item.qty) +
                                                  ": " + std::to_string(t.reserved) + " RESERVED (qty " +
                                                  std::to_string(t.reserved_qty) + "), " + std::to_string(t.released) +
                                                  " RELEASED, " + std::to_string(t.rejected) + " REJECTED");
      return;
    }
  }
}

void check_cancelled(Context& ctx, const std::string& id, const Order& order,
                     const std::map<std::string, LineTally>& lines) {
  ctx.checked(kLedgerCancelledReleased);
  int rejected = 0;
  for (const OrderItem& item : order.items) {
    auto it = lines.find(item.sku);
    if (it == lines.end()) continue;
    const LineTally& t = it->second;
    rejected += t.rejected;
    if (t.reserved > 1 || t.reserved != t.released || t.reserved_qty != t.released_qty ||
        (t.reserved == 1 && t.reserved_qty != item.qty) || (t.rejected > 0 && t.rejected_qty != item.qty)) {
      ctx.violation(kLedgerCancelledReleased,
                    id + " CANCELLED/OUT_OF_STOCK, line " + item.sku + ": " + std::to_string(t.reserved) +
                        " RESERVED (qty " + std::to_string(t.reserved_qty) + ") vs " + std::to_string(t.released) +
                        " RELEASED (qty " + std::to_string(t.released_qty) + ")");
      return;
    }
  }
  if (rejected == 0) ctx.violation(kLedgerCancelledReleased, id + " CANCELLED/OUT_OF_STOCK without a REJECTED line");
}

void check_order_lines(Context& ctx) {
  std::map<std::string, std::map<std::string, LineTally>> by_order;
  for (const auto& l : ctx.ledger) {
    const ReservationEntry& e = l.entry;
    if (e.type == LedgerType::kRestocked || !e.order_id) continue;
    ctx.checked(kLedgerNoOrphans);
    auto order = ctx.input_orders.find(*e.order_id);
    if (order == ctx.input_orders.end() || order->second.classified.input_class != InputClass::kValid) {
      ctx.violation(kLedgerNoOrphans, entry_text(l) + ": not a valid order");
      continue;
    }
    bool in_order = false;
    for (const auto& item : order->second.classified.order.items) in_order = in_order || item.sku == e.sku;
    if (!in_order) {
      ctx.violation(kLedgerNoOrphans, entry_text(l) + ": the order has no line for this sku");
      continue;
    }
    LineTally& t = by_order[*e.order_id][e.sku];
    if (e.type == LedgerType::kReserved) {
      ++t.reserved;
      t.reserved_qty += e.qty;
    } else if (e.type == LedgerType::kReleased) {
      ++t.released;
      t.released_qty += e.qty;
    } else {
      ++t.rejected;
      t.rejected_qty += e.qty;
    }
  }
  static const std::map<std::string, LineTally> kNoLines;
  for (const auto& [id, status] : ctx.terminal) {
    auto order = ctx.input_orders.find(id);
    if (order == ctx.input_orders.end() || order->second.classified.input_class != InputClass::kValid) continue;
    auto lines = by_order.find(id);
    const auto& tally = lines == by_order.end() ? kNoLines : lines->second;
    if (status->status.status == OrderState::kConfirmed) {
      check_confirmed(ctx, id, order->second.classified.order, tally);
    } else if (status->status.reason == CancelReason::kOutOfStock) {
      check_cancelled(ctx, id, order->second.classified.order, tally);
    }
  }
}

}  // namespace

void check_ledger(Context& ctx) {
  std::map<std::string, std::vector<const LedgerRecord*>> by_sku;
  check_well_formed(ctx, &by_sku);
  check_running_balance(ctx, by_sku);
  check_restocks(ctx);
  check_order_lines(ctx);
}

}  // namespace ecommerce::verify::internal
