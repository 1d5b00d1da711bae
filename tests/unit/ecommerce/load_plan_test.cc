// The load generator's plan: deterministic, keyed as the contract says, every record in the
// category it was planned for, and expectations that agree with the reference semantics.
#include "loadgen/load_plan.h"

#include <set>

#include <gtest/gtest.h>

#include "loadgen/flags.h"
#include "model.h"
#include "verify/checker.h"
#include "verify/reference_topology.h"

namespace ecommerce::loadgen {
namespace {

// Later than every created_at of options(): the processing clock.
constexpr int64_t kNow = 1764288000000 + 3'600'000;

LoadOptions options() {
  LoadOptions o;
  o.orders = 1000;
  o.seed = 42;
  o.skus = 20;
  o.restock_qty = 5000;
  o.out_of_stock_share = 0.1;
  o.invalid_share = 0.1;
  o.duplicate_share = 0.05;
  o.malformed_share = 0.05;
  o.created_at_start = 1764288000000;
  o.time_step_ms = 100;
  return o;
}

bool same_records(const std::vector<kstreams::RawRecord>& a, const std::vector<kstreams::RawRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].value != b[i].value || a[i].timestamp != b[i].timestamp) return false;
  }
  return true;
}

TEST(LoadPlanTest, SameSeedSamePlanOtherSeedOtherPlan) {
  auto a = make_plan(options(), 1);
  auto b = make_plan(options(), 2);  // `now` is unused when created_at_start is given
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(same_records(a->orders, b->orders));
  EXPECT_TRUE(same_records(a->restocks, b->restocks));
  LoadOptions other = options();
  other.seed = 43;
  auto c = make_plan(other, 1);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(same_records(a->orders, c->orders));
}

TEST(LoadPlanTest, CategoryCountsFollowTheSharesAndRecordsClassifyAsPlanned) {
  auto plan = make_plan(options(), 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Expectations& ex = plan->expected;
  EXPECT_EQ(ex.order_records, 1000);
  EXPECT_EQ(ex.out_of_stock, 100);
  EXPECT_EQ(ex.invalid, 100);
  EXPECT_EQ(ex.duplicate, 50);
  EXPECT_EQ(ex.malformed, 50);
  EXPECT_EQ(ex.normal, 700);
  EXPECT_EQ(ex.restocks_valid, 20);
  EXPECT_EQ(ex.restocks_duplicate, 1);
  EXPECT_EQ(ex.restocks_malformed, 1);
  EXPECT_TRUE(ex.exact) << ex.shortfall;

  std::set<std::string> ids;
  std::set<std::string> invalid_reasons;
  int64_t valid = 0, invalid = 0, malformed = 0, duplicates = 0;
  int64_t previous_ts = 0;
  for (const auto& r : plan->orders) {
    EXPECT_EQ(r.topic, kOrdersTopic);
    EXPECT_GE(r.timestamp, previous_ts);
    previous_ts = r.timestamp;
    ClassifiedOrder c = classify_order(r.key, r.value, kNow);
    if (c.input_class == InputClass::kMalformed) {
      ++malformed;
      continue;
    }
    EXPECT_EQ(r.key, c.order.order_id);  // keyed by order_id
    if (!ids.insert(c.order.order_id).second) {
      ++duplicates;
      continue;
    }
    if (c.input_class == InputClass::kInvalid) {
      ++invalid;
      std::string reason = c.reason;
      std::erase_if(reason, [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) != 0; });
      invalid_reasons.insert(reason);
    } else {
      ++valid;
      if (c.has_created_at) {
        EXPECT_EQ(c.order.created_at, r.timestamp);
      }
    }
  }
  EXPECT_EQ(valid, ex.normal + ex.out_of_stock);
  EXPECT_EQ(invalid, ex.invalid);
  EXPECT_EQ(malformed, ex.malformed);
  EXPECT_EQ(duplicates, ex.duplicate);
  EXPECT_EQ(invalid_reasons.size(), 12u);  // the invalid rules rotate (qty 0 and qty < 0 read alike)
  EXPECT_EQ(ex.dead_letters_by_error.at(kDlqKeyMismatch), 6) << "one malformed order in 8 has the wrong key";
  for (const auto& r : plan->restocks) {
    EXPECT_EQ(r.topic, kRestocksTopic);
    EXPECT_LT(r.timestamp, plan->orders.front().timestamp);  // restocks precede every order in event time
    ClassifiedRestock c = classify_restock(r.key, r.value);
    if (c.input_class == InputClass::kValid) {
      EXPECT_EQ(r.key, c.restock.sku);  // keyed by sku
    }
  }
}

TEST(LoadPlanTest, ExpectationsAgreeWithTheReferenceSemantics) {
  auto plan = make_plan(options(), 0);
  ASSERT_TRUE(plan.ok());
  verify::assign_offsets(&plan->orders, 4);
  verify::assign_offsets(&plan->restocks, 4);
  const verify::Report report = verify::check(verify::reference_outputs(plan->orders, plan->restocks, {4}));
  ASSERT_TRUE(report.ok()) << report.to_text();
  const Expectations& ex = plan->expected;
  EXPECT_EQ(report.stats.confirmed, ex.confirmed);
  EXPECT_EQ(report.stats.cancelled_by_reason.at("OUT_OF_STOCK"), ex.cancelled_out_of_stock);
  EXPECT_EQ(report.stats.cancelled_by_reason.at("INVALID"), ex.cancelled_invalid);
  EXPECT_EQ(report.stats.terminal_statuses, ex.terminal_statuses);
  EXPECT_EQ(report.stats.dead_letters_by_error, ex.dead_letters_by_error);
  int64_t revenue = 0;
  for (const auto& [start, w] : report.stats.revenue_per_minute) revenue += w.revenue_cents;
  EXPECT_EQ(revenue, ex.confirmed_revenue_cents);
}

TEST(LoadPlanTest, TightStockMakesTheOutcomeInexact) {
  LoadOptions o = options();
  o.restock_qty = 5;
  auto plan = make_plan(o, 0);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->expected.exact);
  EXPECT_NE(plan->expected.shortfall.find("--restock-qty"), std::string::npos);
}

TEST(LoadPlanTest, BadOptionsAreRejected) {
  auto bad = [](const std::function<void(LoadOptions&)>& change) {
    LoadOptions o = options();
    change(o);
    return validate(o).code() == absl::StatusCode::kInvalidArgument && !make_plan(o, 0).ok();
  };
  EXPECT_TRUE(bad([](LoadOptions& o) { o.invalid_share = 1.5; }));
  EXPECT_TRUE(bad([](LoadOptions& o) { o.malformed_share = -0.1; }));
  EXPECT_TRUE(bad([](LoadOptions& o) { o.invalid_share = 0.6, o.out_of_stock_share = 0.6; }));
  EXPECT_TRUE(bad([](LoadOptions& o) { o.skus = 1; }));
  EXPECT_TRUE(bad([](LoadOptions& o) { o.restock_qty = 0; }));
  EXPECT_TRUE(bad([](LoadOptions& o) { o.orders = -1; }));
  EXPECT_TRUE(bad([](LoadOptions& o) {
    o.duplicate_share = 1.0, o.invalid_share = 0, o.out_of_stock_share = 0, o.malformed_share = 0;
  }));
  EXPECT_TRUE(validate(options()).ok());
}

TEST(LoadPlanTest, NowIsTheDefaultStart) {
  LoadOptions o = options();
  o.created_at_start = -1;
  auto plan = make_plan(o, 1'800'000'000'000);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->orders.front().timestamp, 1'800'000'000'000);
  EXPECT_EQ(plan->orders.back().timestamp, 1'800'000'000'000 + 999 * o.time_step_ms);
}

TEST(LoadPlanTest, TopicAndIdPrefixesApply) {
  LoadOptions o = options();
  o.topic_prefix = "t1-";
  o.id_prefix = "run2-";
  auto plan = make_plan(o, 0);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->orders.front().topic, "t1-orders");
  EXPECT_EQ(plan->restocks.front().topic, "t1-inventory-restocks");
  int64_t prefixed = 0;
  for (const auto& r : plan->orders) prefixed += r.key->rfind("run2-", 0) == 0 ? 1 : 0;
  EXPECT_EQ(prefixed, plan->expected.order_records - plan->expected.malformed);
}

// ---- flags ------------------------------------------------------------------------------------

TEST(FlagParserTest, ParsesBothSyntaxesAndRejectsBadInput) {
  std::string s = "a";
  int64_t n = 1;
  double d = 0.5;
  bool b = false;
  auto parser = [&] {
    tools::FlagParser p("tool", "does things");
    p.add("--name", &s, "a name");
    p.add("--count", &n, "a count");
    p.add("--share", &d, "a share");
    p.add("--verbose", &b, "talk");
    return p;
  };
  {
    tools::FlagParser p = parser();
    const char* argv[] = {"tool", "--name", "x", "--count=7", "--share", "0.25", "--verbose"};
    EXPECT_EQ(p.parse(7, argv), std::nullopt);
    EXPECT_EQ(s, "x");
    EXPECT_EQ(n, 7);
    EXPECT_DOUBLE_EQ(d, 0.25);
    EXPECT_TRUE(b);
    EXPECT_TRUE(p.given("--count"));
  }
  const std::vector<std::vector<const char*>> bad = {
      {"tool", "--nope"},       {"tool", "--count"},         {"tool", "--count", "seven"}, {"tool", "--count=1.5"},
      {"tool", "--share", "x"}, {"tool", "--verbose=maybe"}, {"tool", "positional"}};
  for (const auto& argv : bad) {
    tools::FlagParser p = parser();
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(p.parse(static_cast<int>(argv.size()), argv.data()), 2) << argv[1];
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("usage: tool"), std::string::npos);
  }
  tools::FlagParser p = parser();
  const char* help[] = {"tool", "--help"};
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(p.parse(2, help), 0);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("--count VALUE"), std::string::npos);
}

}  // namespace
}  // namespace ecommerce::loadgen
