// The verifier's invariant checks on in-memory record sets: the reference outputs for a load plan
// pass every invariant, and each single corruption of them is caught by the invariant it breaks.
#include "verify/checker.h"

#include <algorithm>
#include <functional>

#include <gtest/gtest.h>

#include "loadgen/load_plan.h"
#include "verify/reference_topology.h"

namespace ecommerce::verify {
namespace {

using kstreams::RawRecord;
using nlohmann::json;

constexpr int64_t kStart = 1764288000000;

loadgen::LoadOptions plan_options() {
  loadgen::LoadOptions o;
  o.orders = 400;
  o.seed = 7;
  o.skus = 12;
  o.restock_qty = 2000;
  o.out_of_stock_share = 0.1;
  o.invalid_share = 0.05;
  o.duplicate_share = 0.05;
  o.malformed_share = 0.05;
  o.created_at_start = kStart;
  o.time_step_ms = 1500;  // 10 minutes of event time: many windows close
  return o;
}

class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plan = loadgen::make_plan(plan_options(), 0);
    ASSERT_TRUE(plan.ok()) << plan.status();
    plan_ = std::move(*plan);
    assign_offsets(&plan_.orders, 3);
    assign_offsets(&plan_.restocks, 3);
    ReferenceOptions ref;
    ref.notification_fails = [](const std::string& id) { return id.find("3:") != std::string::npos; };
    set_ = reference_outputs(plan_.orders, plan_.restocks, ref);
  }

  Report run() { return check(set_); }

  // The first record of `records` whose JSON value satisfies `pred`.
  static RawRecord* find(std::vector<RawRecord>& records, const std::function<bool(const json&)>& pred,
                         bool required = true) {
    for (auto& r : records) {
      if (!r.value) continue;
      json j = json::parse(*r.value, nullptr, false);
      if (!j.is_discarded() && pred(j)) return &r;
    }
    if (required) ADD_FAILURE() << "no matching record";
    return nullptr;
  }

  static void edit(RawRecord* r, const std::function<void(json&)>& change) {
    ASSERT_NE(r, nullptr);
    json j = json::parse(*r->value);
    change(j);
    r->value = j.dump();
  }

  static void erase(std::vector<RawRecord>& records, const RawRecord* r) {
    ASSERT_NE(r, nullptr);
    records.erase(records.begin() + (r - records.data()));
  }

  // A copy of `r` appended at the end of its partition.
  static void append_copy(std::vector<RawRecord>& records, const RawRecord& r) {
    RawRecord copy = r;
    int64_t max_offset = -1;
    for (const auto& x : records) {
      if (x.partition == r.partition) max_offset = std::max(max_offset, x.offset.value());
    }
    copy.offset = kstreams::Offset(max_offset + 1);
    records.push_back(std::move(copy));
  }

  static std::function<bool(const json&)> status_is(const std::string& status) {
    return [status](const json& j) { return j["status"] == status; };
  }

  void expect_violation(const char* name) {
    Report report = run();
    EXPECT_GT(report.violations(name), 0) << report.to_text();
    EXPECT_FALSE(report.ok());
  }

  loadgen::LoadPlan plan_;
  RecordSet set_;
};

TEST_F(CheckerTest, ReferenceOutputsSatisfyEveryInvariantAndMatchThePlan) {
  Report report = run();
  ASSERT_TRUE(report.ok()) << report.to_text();
  for (const auto& inv : report.invariants) EXPECT_GT(inv.checked, 0) << inv.name << " checked nothing";
  const Stats& s = report.stats;
  const loadgen::Expectations& ex = plan_.expected;
  ASSERT_TRUE(ex.exact) << ex.shortfall;
  EXPECT_EQ(s.valid_orders, ex.normal + ex.out_of_stock);
  EXPECT_EQ(s.invalid_orders, ex.invalid);
  EXPECT_EQ(s.duplicate_orders, ex.duplicate);
  EXPECT_EQ(s.malformed_orders, ex.malformed);
  EXPECT_EQ(s.malformed_restocks, ex.restocks_malformed);
  EXPECT_EQ(s.duplicate_restocks, ex.restocks_duplicate);
  EXPECT_EQ(s.terminal_statuses, ex.terminal_statuses);
  EXPECT_EQ(s.confirmed, ex.confirmed);
  EXPECT_EQ(s.cancelled_by_reason.at("OUT_OF_STOCK"), ex.cancelled_out_of_stock);
  EXPECT_EQ(s.cancelled_by_reason.at("INVALID"), ex.cancelled_invalid);
  EXPECT_EQ(s.dead_letters_by_error, ex.dead_letters_by_error);
  EXPECT_EQ(s.notifications_delivered + s.notifications_dead_lettered, ex.terminal_statuses);
  EXPECT_GT(s.notifications_dead_lettered, 0);
  EXPECT_GT(s.revenue_windows_checked, 5);
  EXPECT_GT(s.sku_windows_checked, 20);
  int64_t revenue = 0;
  for (const auto& [start, w] : s.revenue_per_minute) revenue += w.revenue_cents;
  EXPECT_EQ(revenue, ex.confirmed_revenue_cents);
  EXPECT_EQ(count_terminal_statuses(set_.order_status), ex.terminal_statuses);
}

TEST_F(CheckerTest, MissingPendingBreaksTheLifecycle) {
  erase(set_.order_status, find(set_.order_status, status_is("PENDING")));
  expect_violation(kStatusLifecycle);
}

TEST_F(CheckerTest, SecondTerminalStatusBreaksTheLifecycle) {
  append_copy(set_.order_status, *find(set_.order_status, status_is("CONFIRMED")));
  expect_violation(kStatusLifecycle);
}

TEST_F(CheckerTest, TerminalBeforePendingBreaksTheLifecycle) {
  RawRecord* pending = find(set_.order_status, status_is("PENDING"));
  const std::string id = json::parse(*pending->value)["order_id"];
  RawRecord* terminal =
      find(set_.order_status, [&](const json& j) { return j["order_id"] == id && j["status"] != "PENDING"; });
  std::swap(pending->offset, terminal->offset);
  expect_violation(kStatusLifecycle);
}

TEST_F(CheckerTest, ValidOrderCancelledAsInvalidBreaksTheLifecycle) {
  edit(find(set_.order_status, status_is("CONFIRMED")), [](json& j) {
    j["status"] = "CANCELLED";
    j["reason"] = "INVALID";
  });
  expect_violation(kStatusLifecycle);
}

TEST_F(CheckerTest, PendingForAnInvalidOrderIsCaught) {
  RawRecord* invalid = find(set_.order_status, [](const json& j) { return j["reason"] == "INVALID"; });
  RawRecord pending = *invalid;
  edit(&pending, [](json& j) {
    j["status"] = "PENDING";
    j["reason"] = nullptr;
  });
  pending.offset = kstreams::Offset(invalid->offset.value());
  invalid->offset = kstreams::Offset(invalid->offset.value() + 100000);
  set_.order_status.push_back(pending);
  expect_violation(kInvalidCancelled);
}

TEST_F(CheckerTest, InvalidOrderWithAnotherReasonIsCaught) {
  edit(find(set_.order_status, [](const json& j) { return j["reason"] == "INVALID"; }),
       [](json& j) { j["reason"] = "OUT_OF_STOCK"; });
  expect_violation(kInvalidCancelled);
}

TEST_F(CheckerTest, WrongTotalIsCaught) {
  edit(find(set_.order_status, status_is("CONFIRMED")),
       [](json& j) { j["total_cents"] = j["total_cents"].get<int64_t>() + 1; });
  expect_violation(kStatusContent);
}

TEST_F(CheckerTest, ReasonOnAConfirmedStatusIsCaught) {
  edit(find(set_.order_status, status_is("CONFIRMED")), [](json& j) { j["reason"] = "OUT_OF_STOCK"; });
  expect_violation(kStatusContent);
}

TEST_F(CheckerTest, StatusForAnUnknownOrderIsCaught) {
  RawRecord r = *find(set_.order_status, status_is("CONFIRMED"));
  edit(&r, [](json& j) { j["order_id"] = "o-999999"; });
  r.key = "o-999999";
  append_copy(set_.order_status, r);
  expect_violation(kNoUnknownStatus);
}

TEST_F(CheckerTest, UndecodableStatusIsCaught) {
  RawRecord r = set_.order_status.front();
  r.value = "{\"order_id\":";
  append_copy(set_.order_status, r);
  expect_violation(kNoUnknownStatus);
}

TEST_F(CheckerTest, ReprocessedDuplicateIsCaught) {
  // An order submitted twice whose duplicate produced a second lifecycle.
  std::map<std::string, int> submissions;
  for (const auto& r : set_.orders) {
    if (r.key) ++submissions[*r.key];
  }
  std::string dup;
  for (const auto& [k, n] : submissions) {
    if (n < 2) continue;
    if (find(
            set_.order_status, [&k](const json& j) { return j["order_id"] == k && j["status"] == "PENDING"; }, false)) {
      dup = k;
      break;
    }
  }
  ASSERT_FALSE(dup.empty());
  std::vector<RawRecord> copies;
  for (const auto& r : set_.order_status) {
    if (r.key == dup) copies.push_back(r);
  }
  ASSERT_EQ(copies.size(), 2u);
  for (const auto& r : copies) append_copy(set_.order_status, r);
  expect_violation(kDuplicatesIgnored);
}

TEST_F(CheckerTest, MissingDeadLetterIsCaught) {
  set_.dead_letters.pop_back();
  expect_violation(kDeadLetterPerMalformed);
}

TEST_F(CheckerTest, DeadLetterTwiceIsCaught) {
  append_copy(set_.dead_letters, set_.dead_letters.front());
  expect_violation(kDeadLetterPerMalformed);
}

TEST_F(CheckerTest, DeadLetterWithChangedBytesIsCaught) {
  set_.dead_letters.front().value = set_.dead_letters.front().value.value_or("") + " ";
  expect_violation(kDeadLetterPerMalformed);
}

TEST_F(CheckerTest, DeadLetterWithoutMessageHeaderIsCaught) {
  set_.dead_letters.front().headers.remove(kDlqMessageHeader);
  expect_violation(kDeadLetterPerMalformed);
}

TEST_F(CheckerTest, DeadLetterForAWellFormedOrderIsCaught) {
  RawRecord letter = set_.dead_letters.front();
  const RawRecord& order = *find(set_.orders, [](const json& j) {
    return j.is_object() && j.contains("items") && j.contains("order_id") && j["order_id"].is_string() &&
           j["order_id"].get<std::string>().find("keymismatch") == std::string::npos;
  });
  letter.headers.set(kDlqSourceTopicHeader, order.topic);
  letter.headers.set(kDlqSourcePartitionHeader, std::to_string(order.partition.value()));
  letter.headers.set(kDlqSourceOffsetHeader, std::to_string(order.offset.value()));
  append_copy(set_.dead_letters, letter);
  expect_violation(kDeadLettersOnlyMalformed);
}

TEST_F(CheckerTest, AnOrderUnderAnotherKeyIsADeadLetterAndMustGetNoStatus) {
  // The plan holds orders whose key is not their order_id: the reference dead-letters them.
  const RawRecord* mismatched = find(set_.orders, [](const json& j) {
    return j.is_object() && j.contains("order_id") && j["order_id"].is_string() &&
           j["order_id"].get<std::string>().find("keymismatch") != std::string::npos;
  });
  ASSERT_NE(mismatched, nullptr);
  ASSERT_GT(run().stats.dead_letters_by_error.at(kDlqKeyMismatch), 0);
  // Processing it as an order (a status for it) is a violation.
  RawRecord status = *find(set_.order_status, status_is("CONFIRMED"));
  edit(&status, [&](json& j) { j["order_id"] = json::parse(*mismatched->value)["order_id"]; });
  status.key = json::parse(*status.value)["order_id"].get<std::string>();
  append_copy(set_.order_status, status);
  expect_violation(kNoUnknownStatus);
}

TEST_F(CheckerTest, StockOverflowDeadLetterForAnOrdinaryRestockIsCaught) {
  const RawRecord& restock = *find(set_.restocks, [](const json& j) { return j.is_object() && j.contains("qty"); });
  RawRecord letter = set_.dead_letters.front();
  letter.headers.set(kDlqErrorHeader, kDlqStockOverflow);
  letter.headers.set(kDlqSourceTopicHeader, restock.topic);
  letter.headers.set(kDlqSourcePartitionHeader, std::to_string(restock.partition.value()));
  letter.headers.set(kDlqSourceOffsetHeader, std::to_string(restock.offset.value()));
  append_copy(set_.dead_letters, letter);
  expect_violation(kDeadLettersOnlyMalformed);
}

TEST_F(CheckerTest, APoisonCreatedAtIsCancelledInvalidAndInNoWindow) {
  // The plan's invalid orders include a created_at near INT64_MAX; the reference counts it nowhere.
  int64_t poisoned = 0;
  for (const auto& r : set_.orders) {
    const json j = json::parse(r.value.value_or(""), nullptr, false);
    if (j.is_object() && j.contains("created_at") && j["created_at"].is_number_integer() &&
        j["created_at"].get<int64_t>() > kStart + 86'400'000) {
      ++poisoned;
    }
  }
  ASSERT_GT(poisoned, 0);
  const Report report = run();
  ASSERT_TRUE(report.ok()) << report.to_text();
  int64_t counted = 0;
  for (const auto& [start, w] : report.stats.revenue_per_minute) counted += w.orders_confirmed + w.orders_cancelled;
  EXPECT_EQ(counted, report.stats.terminal_statuses - poisoned);
  for (const auto& [start, w] : report.stats.revenue_per_minute) EXPECT_LT(start, kStart + 86'400'000);
}

TEST_F(CheckerTest, DeadLetterWithoutSourceHeadersIsCaught) {
  RawRecord letter = set_.dead_letters.front();
  letter.headers.remove(kDlqSourceOffsetHeader);
  append_copy(set_.dead_letters, letter);
  expect_violation(kDeadLettersOnlyMalformed);
}

TEST_F(CheckerTest, UndecodableLedgerEntryIsCaught) {
  RawRecord r = set_.reservations.front();
  r.value = "[]";
  append_copy(set_.reservations, r);
  expect_violation(kLedgerWellFormed);
}

TEST_F(CheckerTest, RestockedEntryWithAnOrderIdIsCaught) {
  edit(find(set_.reservations, [](const json& j) { return j["type"] == "RESTOCKED"; }),
       [](json& j) { j["order_id"] = "o-000001"; });
  expect_violation(kLedgerWellFormed);
}

TEST_F(CheckerTest, InconsistentAvailableAfterIsCaught) {
  edit(find(set_.reservations, [](const json& j) { return j["type"] == "RESERVED"; }),
       [](json& j) { j["available_after"] = j["available_after"].get<int64_t>() + 1; });
  expect_violation(kLedgerRunningBalance);
}

TEST_F(CheckerTest, RejectionWhileStockSufficesIsCaught) {
  edit(find(set_.reservations, [](const json& j) { return j["type"] == "RESERVED"; }), [](json& j) {
    j["type"] = "REJECTED";
    j["available_after"] = j["available_after"].get<int64_t>() + j["qty"].get<int64_t>();
  });
  expect_violation(kLedgerRunningBalance);
}

TEST_F(CheckerTest, OversellingIsCaughtEvenWhenTheRunningValueIsConsistent) {
  RecordSet set;
  auto add = [](std::vector<RawRecord>& v, const std::string& topic, const std::string& key, const json& value) {
    RawRecord r;
    r.topic = topic;
    r.key = key;
    r.value = value.dump();
    r.offset = kstreams::Offset(static_cast<int64_t>(v.size()));
    v.push_back(r);
  };
  add(set.restocks, kRestocksTopic, "s", Restock{"r-1", "s", 1});
  add(set.orders, kOrdersTopic, "o-1", Order{"o-1", "c", kStart, {{"s", 2, 10}}});
  add(set.reservations, kReservationsTopic, "s",
      ReservationEntry{std::nullopt, "s", 1, LedgerType::kRestocked, 1, "r-1"});
  add(set.reservations, kReservationsTopic, "s", ReservationEntry{"o-1", "s", 2, LedgerType::kReserved, -1});
  Report report = check(set);
  EXPECT_EQ(report.violations(kLedgerRunningBalance), 1) << report.to_text();
  EXPECT_NE(report.find(kLedgerRunningBalance)->examples[0].find("oversold"), std::string::npos);
}

TEST_F(CheckerTest, MissingRestockEntryIsCaught) {
  erase(set_.reservations, find(set_.reservations, [](const json& j) { return j["type"] == "RESTOCKED"; }));
  expect_violation(kLedgerRestocks);
}

TEST_F(CheckerTest, RestockAppliedTwiceIsCaught) {
  append_copy(set_.reservations, *find(set_.reservations, [](const json& j) { return j["type"] == "RESTOCKED"; }));
  expect_violation(kLedgerRestocks);
}

TEST_F(CheckerTest, ConfirmedOrderWithoutReservationIsCaught) {
  erase(set_.reservations, find(set_.reservations, [](const json& j) { return j["type"] == "RESERVED"; }));
  expect_violation(kLedgerConfirmedReserved);
}

TEST_F(CheckerTest, CancelledOrderWithoutReleaseIsCaught) {
  erase(set_.reservations, find(set_.reservations, [](const json& j) { return j["type"] == "RELEASED"; }));
  expect_violation(kLedgerCancelledReleased);
}

TEST_F(CheckerTest, CancelledOrderWithoutRejectionIsCaught) {
  erase(set_.reservations, find(set_.reservations, [](const json& j) { return j["type"] == "REJECTED"; }));
  expect_violation(kLedgerCancelledReleased);
}

TEST_F(CheckerTest, LedgerLineForAnUnknownOrderIsCaught) {
  RawRecord r = *find(set_.reservations, [](const json& j) { return j["type"] == "REJECTED"; });
  edit(&r, [](json& j) { j["order_id"] = "o-424242"; });
  append_copy(set_.reservations, r);
  expect_violation(kLedgerNoOrphans);
}

TEST_F(CheckerTest, LedgerLineForAnInvalidOrderIsCaught) {
  const std::string invalid_id =
      json::parse(*find(set_.order_status, [](const json& j) { return j["reason"] == "INVALID"; })->value)["order_id"];
  RawRecord r = *find(set_.reservations, [](const json& j) { return j["type"] == "REJECTED"; });
  edit(&r, [&](json& j) { j["order_id"] = invalid_id; });
  append_copy(set_.reservations, r);
  expect_violation(kLedgerNoOrphans);
}

TEST_F(CheckerTest, MissingNotificationIsCaught) {
  set_.notifications.erase(set_.notifications.begin());
  expect_violation(kNotificationPerTerminal);
}

TEST_F(CheckerTest, NotificationBothDeliveredAndDeadLetteredIsCaught) {
  const json receipt = json::parse(*set_.notifications.front().value);
  RawRecord dlq = set_.notifications_dlq.front();
  edit(&dlq, [&](json& j) {
    j["notification_id"] = receipt["notification_id"];
    j["order_id"] = receipt["order_id"];
    j["event"] = receipt["event"];
  });
  dlq.key = receipt["order_id"].get<std::string>();
  append_copy(set_.notifications_dlq, dlq);
  expect_violation(kNotificationPerTerminal);
}

TEST_F(CheckerTest, NotificationWithWrongEventIsCaught) {
  edit(&set_.notifications.front(),
       [](json& j) { j["event"] = j["event"] == "ORDER_CONFIRMED" ? "ORDER_CANCELLED" : "ORDER_CONFIRMED"; });
  expect_violation(kNotificationsWellFormed);
}

TEST_F(CheckerTest, ReceiptWithoutAnAttemptIsCaughtButADeadLetterMayHaveNone) {
  edit(&set_.notifications_dlq.front(), [](json& j) { j["attempts"] = 0; });  // skipped by an open circuit
  EXPECT_TRUE(run().ok());
  edit(&set_.notifications.front(), [](json& j) { j["attempts"] = 0; });
  expect_violation(kNotificationsWellFormed);
}

TEST_F(CheckerTest, ReceiptThatIsNotDeliveredIsCaught) {
  edit(&set_.notifications.front(), [](json& j) { j["status"] = "FAILED"; });
  expect_violation(kNotificationsWellFormed);
}

TEST_F(CheckerTest, NotificationForNoTerminalStatusIsCaught) {
  RawRecord r = set_.notifications.front();
  edit(&r, [](json& j) { j["notification_id"] = j["order_id"].get<std::string>() + ":PENDING"; });
  append_copy(set_.notifications, r);
  expect_violation(kNotificationsWellFormed);
}

TEST_F(CheckerTest, UnknownAnalyticsTypeIsCaught) {
  RawRecord r = set_.analytics.front();
  edit(&r, [](json& j) { j["type"] = "revenue_2m"; });
  append_copy(set_.analytics, r);
  expect_violation(kAnalyticsWellFormed);
}

TEST_F(CheckerTest, WindowEmittedTwiceIsCaught) {
  append_copy(set_.analytics, *find(set_.analytics, [](const json& j) { return j["type"] == "sku_sales_5m"; }));
  expect_violation(kAnalyticsNoDuplicates);
}

TEST_F(CheckerTest, WrongRevenueIsCaught) {
  edit(find(set_.analytics, [](const json& j) { return j["type"] == "revenue_1m"; }),
       [](json& j) { j["orders_cancelled"] = j["orders_cancelled"].get<int64_t>() + 1; });
  expect_violation(kAnalyticsRevenue);
}

TEST_F(CheckerTest, ClosedRevenueWindowNeverEmittedIsCaught) {
  erase(set_.analytics, find(set_.analytics, [](const json& j) { return j["type"] == "revenue_1m"; }));
  expect_violation(kAnalyticsRevenue);
}

TEST_F(CheckerTest, WrongSkuSalesAreCaught) {
  edit(find(set_.analytics, [](const json& j) { return j["type"] == "sku_sales_5m"; }),
       [](json& j) { j["units_sold"] = j["units_sold"].get<int64_t>() - 1; });
  expect_violation(kAnalyticsSkuSales);
}

TEST_F(CheckerTest, ClosedSkuWindowNeverEmittedIsCaught) {
  erase(set_.analytics, find(set_.analytics, [](const json& j) { return j["type"] == "sku_sales_5m"; }));
  expect_violation(kAnalyticsSkuSales);
}

TEST_F(CheckerTest, OpenWindowsNeedNotBeEmitted) {
  // With a grace longer than the whole event-time span no window has certainly closed: nothing is
  // missing even though nothing was emitted.
  CheckOptions options;
  options.grace_ms = 10 * 60'000;
  set_.analytics.clear();
  Report report = check(set_, options);
  EXPECT_TRUE(report.ok()) << report.to_text();
}

TEST_F(CheckerTest, LatencyUsesTheSentAtHeader) {
  for (auto& r : set_.orders) r.headers.set(kSentAtHeader, std::to_string(r.timestamp - 100));
  Report report = run();
  ASSERT_TRUE(report.ok()) << report.to_text();
  // The reference decides at record timestamp + 7 ms.
  EXPECT_EQ(report.stats.latency_updated_at.p50, 107);
  EXPECT_EQ(report.stats.latency_updated_at.p99, 107);
  EXPECT_EQ(report.stats.latency_updated_at.count, plan_.expected.terminal_statuses);
  const std::string text = report.to_text();
  EXPECT_NE(text.find("p50 107 ms"), std::string::npos) << text;
  EXPECT_TRUE(report.to_json()["ok"].get<bool>());
}

// The reference calls the webhook 20 ms (delivered) / 30 ms (dead-lettered) after the decision and
// settles 50 ms / 1000 ms after it.
TEST_F(CheckerTest, NotificationLatencyIsReportedFromTheDecision) {
  Report report = run();
  ASSERT_TRUE(report.ok()) << report.to_text();
  const Stats& s = report.stats;
  EXPECT_EQ(s.notification_settled.count, plan_.expected.terminal_statuses);
  EXPECT_EQ(s.notification_settled.p50, 50);
  EXPECT_EQ(s.notification_settled.max, 1000);
  EXPECT_EQ(s.notification_first_attempt.count, plan_.expected.terminal_statuses);
  EXPECT_EQ(s.notification_first_attempt.p50, 20);
  EXPECT_EQ(s.notification_first_attempt.max, 30);
  const std::string text = report.to_text();
  EXPECT_NE(text.find("to the first webhook call:   p50 20 ms"), std::string::npos) << text;
  EXPECT_EQ(report.to_json()["notification_latency_ms"]["settled"]["max"], 1000);
  // Receipts without first_attempt_at (other implementations) count for "settled" only.
  for (auto& r : set_.notifications) edit(&r, [](json& j) { j.erase("first_attempt_at"); });
  report = run();
  ASSERT_TRUE(report.ok()) << report.to_text();
  EXPECT_EQ(report.stats.notification_first_attempt.count, s.notifications_dead_lettered);
  EXPECT_EQ(report.stats.notification_settled.count, plan_.expected.terminal_statuses);
}

TEST_F(CheckerTest, RecordOrderInTheVectorsDoesNotMatter) {
  std::reverse(set_.order_status.begin(), set_.order_status.end());
  std::reverse(set_.reservations.begin(), set_.reservations.end());
  Report report = run();
  EXPECT_TRUE(report.ok()) << report.to_text();
}

}  // namespace
}  // namespace ecommerce::verify
