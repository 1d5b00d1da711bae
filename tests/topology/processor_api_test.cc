// The Processor API: context, stores, punctuators, named forwarding.
#include <gtest/gtest.h>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using std::chrono::milliseconds;

// Counts per key in a store, forwards "key=count", tags the record with its source offset, and
// emits a summary from a stream-time and a wall-clock punctuator.
class CountingProcessor : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void init(ProcessorContext<std::string, std::string>& ctx) override {
    ctx_ = &ctx;
    store_ = ctx.get_key_value_store<std::string, int64_t>("proc-counts");
    ctx.schedule(milliseconds(10), PunctuationType::kStreamTime, [this](TimestampMs t) {
      ctx_->forward(Record<std::string, std::string>{"stream-tick", std::to_string(t), t, {}}, "ticks");
    });
    ctx.schedule(milliseconds(1000), PunctuationType::kWallClockTime, [this](TimestampMs t) {
      ctx_->forward(Record<std::string, std::string>{"wall-tick", std::to_string(t), t, {}}, "ticks");
    });
  }
  void process(const Record<std::string, std::string>& r) override {
    auto old = store_->get(r.key);
    const int64_t n = old.ok() && *old ? **old + 1 : 1;
    (void)store_->put(r.key, n);
    Record<std::string, std::string> out{r.key, r.key + "=" + std::to_string(n), r.timestamp, r.headers};
    out.headers.add("offset", std::to_string(ctx_->record_metadata().offset));
    out.headers.add("topic", ctx_->record_metadata().topic);
    ctx_->forward(out, "counts");
  }

 private:
  ProcessorContext<std::string, std::string>* ctx_ = nullptr;
  KeyValueStore<std::string, int64_t>* store_ = nullptr;
};

Topology counting_topology() {
  StreamsBuilder b;
  state::StoreSpec spec;
  spec.name = "proc-counts";
  b.add_state_store(spec);
  auto processed = b.stream<std::string, std::string>("in").process(
      [] { return std::make_unique<CountingProcessor>(); }, {"proc-counts"}, Named::as("counter"));
  processed
      .filter([](const std::string& k, const std::string&) { return k != "stream-tick" && k != "wall-tick"; },
              Named::as("counts"))
      .to("counts");
  processed
      .filter([](const std::string& k, const std::string&) { return k == "stream-tick" || k == "wall-tick"; },
              Named::as("ticks"))
      .to("ticks");
  return b.build();
}

TEST(ProcessorApiTest, ProcessorUsesItsStoreRecordMetadataAndForwardsToANamedChild) {
  TopologyTestDriver d(counting_topology(), {}, /*start_wall_clock_ms=*/0);
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 1);
  in.pipe_input("a", "x", 2);
  auto counts = d.create_output_topic<std::string, std::string>("counts").read_records_to_list();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[1].value, std::optional<std::string>("a=2"));
  EXPECT_EQ(counts[1].headers.last("offset"), std::optional<std::string_view>("1"));
  EXPECT_EQ(counts[1].headers.last("topic"), std::optional<std::string_view>("in"));
  EXPECT_EQ((d.get<std::string, int64_t>("proc-counts", "a")), std::optional<int64_t>(2));
}

TEST(ProcessorApiTest, StreamTimePunctuatorFiresOncePerIntervalBoundaryStreamTimePasses) {
  // Kafka Streams: a STREAM_TIME punctuator fires as soon as there is data, then at each interval
  // boundary stream time reaches; a jump over several boundaries fires once.
  TopologyTestDriver d(counting_topology());
  auto in = d.create_input_topic<std::string, std::string>("in");
  for (TimestampMs t : {3, 5, 12, 19, 20, 55, 56}) in.pipe_input("a", "x", t);
  auto ticks = d.create_output_topic<std::string, std::string>("ticks").read_values();
  EXPECT_EQ(ticks, (std::vector<std::string>{"3", "12", "20", "55"}));
}

TEST(ProcessorApiTest, WallClockPunctuatorFiresOnlyWhenTheWallClockAdvances) {
  TopologyTestDriver d(counting_topology(), {}, /*start_wall_clock_ms=*/5000);
  auto ticks = d.create_output_topic<std::string, std::string>("ticks");
  d.advance_wall_clock_time(milliseconds(999));
  EXPECT_TRUE(ticks.is_empty());
  d.advance_wall_clock_time(milliseconds(1));
  EXPECT_EQ(ticks.read_values(), (std::vector<std::string>{"6000"}));
  d.advance_wall_clock_time(milliseconds(2500));
  EXPECT_EQ(ticks.read_values(), (std::vector<std::string>{"8500"}));
}

class ThrowingProcessor : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void init(ProcessorContext<std::string, std::string>& ctx) override { ctx_ = &ctx; }
  void process(const Record<std::string, std::string>& r) override {
    if (r.value == "bad") throw ProcessingException("MALFORMED_ORDER", "order has no items");
    if (r.value == "oops") throw std::runtime_error("unexpected");
    ctx_->forward(r);
  }

 private:
  ProcessorContext<std::string, std::string>* ctx_ = nullptr;
};

Topology throwing_topology() {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").process([] { return std::make_unique<ThrowingProcessor>(); }).to("out");
  return b.build();
}

TEST(ErrorHandlingTest, ProcessingErrorsGoToTheDeadLetterTopicWithTheirCodeAndProcessingGoesOn) {
  TopologyTestDriver d(throwing_topology(), {{"application.id", "app"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k1", "bad", 1);
  in.pipe_input("k2", "oops", 2);
  in.pipe_input("k3", "good", 3);
  EXPECT_TRUE(d.status().ok());
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()), (std::vector<std::string>{"good"}));
  auto dlq = d.read_raw("app-dead-letters");
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(dlq[0].key, std::optional<std::string>("k1"));
  EXPECT_EQ(dlq[0].value, std::optional<std::string>("bad"));
  EXPECT_EQ(dlq[0].headers.last("dlq.error"), std::optional<std::string_view>("MALFORMED_ORDER"));
  EXPECT_EQ(dlq[0].headers.last("dlq.message"), std::optional<std::string_view>("order has no items"));
  EXPECT_EQ(dlq[1].headers.last("dlq.error"), std::optional<std::string_view>("PROCESSING"));
  EXPECT_EQ(dlq[1].headers.last("dlq.source.offset"), std::optional<std::string_view>("1"));
  EXPECT_EQ(d.metric("kstreams_task_dead_lettered_records_total"), 2);
}

TEST(ErrorHandlingTest, FailPolicyStopsProcessingWithTheError) {
  TopologyTestDriver d(throwing_topology(), {{"processing.exception.handler", "fail"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k1", "good", 1);
  in.pipe_input("k2", "oops", 2);
  in.pipe_input("k3", "good", 3);
  EXPECT_FALSE(d.status().ok());
  EXPECT_NE(d.status().message().find("unexpected"), std::string_view::npos);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()), (std::vector<std::string>{"good"}));
}

TEST(ErrorHandlingTest, ContinuePolicySkipsTheRecordWithoutDeadLetter) {
  TopologyTestDriver d(throwing_topology(), {{"processing.exception.handler", "continue"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k1", "oops", 1);
  in.pipe_input("k2", "good", 2);
  EXPECT_TRUE(d.dead_letters().empty());
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "processing_error"}}), 1);
  EXPECT_EQ((d.create_output_topic<std::string, std::string>("out").read_values()), (std::vector<std::string>{"good"}));
}

struct Order {
  std::string id;
  int64_t qty = 0;
};
void to_json(nlohmann::json& j, const Order& o) { j = nlohmann::json{{"id", o.id}, {"qty", o.qty}}; }
void from_json(const nlohmann::json& j, Order& o) {
  j.at("id").get_to(o.id);
  j.at("qty").get_to(o.qty);
}

TEST(ErrorHandlingTest, MalformedJsonIsDeadLetteredWithTheOriginalBytesAndSourcePosition) {
  StreamsBuilder b;
  b.stream<std::string, Order>("orders").map_values([](const Order& o) { return o.qty; }).to("qty");
  TopologyTestDriver d(b.build(), {{"application.id", "shop"}, {"topic.partitions.orders", "2"}});
  Headers h;
  h.add("trace", "t-1");
  d.pipe_raw("orders", std::string("o1"), std::string("{not json"), 10, h, 1);
  d.create_input_topic<std::string, Order>("orders").pipe_input("o2", Order{"o2", 3}, 11);
  auto dlq = d.dead_letters();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].topic, "shop-dead-letters");
  EXPECT_EQ(dlq[0].value, std::optional<std::string>("{not json"));
  EXPECT_EQ(dlq[0].timestamp, 10);
  EXPECT_EQ(dlq[0].headers.last("trace"), std::optional<std::string_view>("t-1"));
  EXPECT_EQ(dlq[0].headers.last("dlq.error"), std::optional<std::string_view>("DESERIALIZATION"));
  EXPECT_EQ(dlq[0].headers.last("dlq.source.topic"), std::optional<std::string_view>("orders"));
  EXPECT_EQ(dlq[0].headers.last("dlq.source.partition"), std::optional<std::string_view>("1"));
  EXPECT_EQ(dlq[0].headers.last("dlq.source.offset"), std::optional<std::string_view>("0"));
  EXPECT_NE(dlq[0].headers.last("dlq.message")->find("malformed JSON"), std::string_view::npos);
  EXPECT_EQ((d.create_output_topic<std::string, int64_t>("qty").read_values()), (std::vector<int64_t>{3}));
  EXPECT_EQ(d.metric("kstreams_task_process_total"), 2);
}

}  // namespace
}  // namespace kstreams
