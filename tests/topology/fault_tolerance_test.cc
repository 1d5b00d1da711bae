// Faults are invisible in the output: an aborted transaction or a crash and restart of the tasks
// (TopologyTestDriver::abort / crash_and_restart) must give exactly the output of the same input
// processed without them. Stream time, punctuation schedules and window emit progress are task
// state: committed with the offsets, rolled back by an abort, restored when a task reopens.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <sstream>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

using std::chrono::milliseconds;
using WKey = Windowed<std::string>;
using W = std::tuple<std::string, TimestampMs, TimestampMs, int64_t>;

std::vector<W> read_windows(TopologyTestDriver& d, const std::string& topic) {
  std::vector<W> out;
  for (auto& r : d.create_output_topic<WKey, int64_t>(topic).read_records_to_list()) {
    out.emplace_back(r.key.key, r.key.start, r.key.end, r.value.value_or(-1));
  }
  return out;
}

Topology emit_on_close_count(TimestampMs size, TimestampMs grace, bool in_memory = false) {
  StreamsBuilder b;
  auto m = Materialized::as("counts");
  if (in_memory) m.in_memory();
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(size), milliseconds(grace)))
      .emit_strategy(EmitStrategy::kOnWindowClose)
      .count(m)
      .to_stream()
      .to("out");
  return b.build();
}

TEST(FaultToleranceTest, AnAbortRollsBackStreamTimeAndWindowEmitProgress) {
  // Windowed count, emit-on-close, size 10, grace 0: t=5 and t=12 in one transaction close and
  // emit [0,10); the transaction aborts and both records are processed again.
  TopologyTestDriver d(emit_on_close_count(10, 0), {{"commit.every.records", "100"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 5);
  in.pipe_input("a", "x", 12);
  EXPECT_EQ(d.read_raw("out").size(), 1u);
  d.abort();
  d.commit();
  EXPECT_EQ(read_windows(d, "out"), (std::vector<W>{{"a", 0, 10, 1}}));
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 0);
}

TEST(FaultToleranceTest, ARestartedTaskDoesNotEmitAClosedWindowAgain) {
  for (bool in_memory : {false, true}) {
    SCOPED_TRACE(in_memory ? "in-memory store" : "RocksDB store");
    TopologyTestDriver d(emit_on_close_count(10, 0, in_memory));
    auto in = d.create_input_topic<std::string, std::string>("in");
    in.pipe_input("a", "x", 5);
    in.pipe_input("b", "x", 7);
    in.pipe_input("a", "x", 12);  // closes [0,10): emitted once, committed
    d.crash_and_restart();
    in.pipe_input("a", "x", 25);  // closes [10,20)
    d.commit();
    EXPECT_EQ(read_windows(d, "out"), (std::vector<W>{{"a", 0, 10, 1}, {"b", 0, 10, 1}, {"a", 10, 20, 1}}));
  }
}

TEST(FaultToleranceTest, ALateRecordAfterARestartIsJudgedAgainstTheRestoredStreamTime) {
  TopologyTestDriver d(emit_on_close_count(10, 0));
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("a", "x", 5);
  in.pipe_input("a", "x", 32);
  d.crash_and_restart();
  in.pipe_input("a", "x", 8);  // [0,10) closed at stream time 32, before the restart
  d.commit();
  EXPECT_EQ(read_windows(d, "out"), (std::vector<W>{{"a", 0, 10, 1}}));
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 1);
}

// Forwards "tick@<stream time>" from a stream-time punctuator every 10 ms, and each record.
class TickingProcessor : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void init(ProcessorContext<std::string, std::string>& ctx) override {
    ctx_ = &ctx;
    ctx.schedule(milliseconds(10), PunctuationType::kStreamTime, [this](TimestampMs t) {
      ctx_->forward(Record<std::string, std::string>{"tick", "tick@" + std::to_string(t), t, {}});
    });
  }
  void process(const Record<std::string, std::string>& r) override { ctx_->forward(r); }

 private:
  ProcessorContext<std::string, std::string>* ctx_ = nullptr;
};

Topology ticking_topology() {
  StreamsBuilder b;
  b.stream<std::string, std::string>("in").process([] { return std::make_unique<TickingProcessor>(); }).to("out");
  return b.build();
}

std::vector<std::string> read_values(TopologyTestDriver& d) {
  return d.create_output_topic<std::string, std::string>("out").read_values();
}

TEST(FaultToleranceTest, AnAbortRollsBackTheStreamTimePunctuationSchedule) {
  TopologyTestDriver d(ticking_topology(), {{"commit.every.records", "100"}});
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k", "r1", 3);
  d.commit();
  in.pipe_input("k", "r2", 15);  // the punctuator fires at stream time 15 (next due 20)
  d.abort();                     // and again when r2 is processed again, not skipped as done
  d.commit();
  // The driver punctuates after processing what was piped.
  EXPECT_EQ(read_values(d), (std::vector<std::string>{"r1", "tick@3", "r2", "tick@15"}));
}

TEST(FaultToleranceTest, ARestartedTaskKeepsItsStreamTimePunctuationSchedule) {
  TopologyTestDriver d(ticking_topology());
  auto in = d.create_input_topic<std::string, std::string>("in");
  in.pipe_input("k", "r1", 3);
  in.pipe_input("k", "r2", 15);
  d.crash_and_restart();
  in.pipe_input("k", "r3", 17);  // not due before 20: no tick at 17 after the restart
  in.pipe_input("k", "r4", 21);
  d.commit();
  EXPECT_EQ(read_values(d), (std::vector<std::string>{"r1", "tick@3", "r2", "tick@15", "r3", "r4", "tick@21"}));
}

TEST(FaultToleranceTest, AnAbortRollsBackTheStreamTimeOfAJoinsLateCheck) {
  StreamsBuilder b;
  b.stream<std::string, std::string>("left")
      .join(
          b.stream<std::string, std::string>("right"),
          [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_and_grace(milliseconds(5), milliseconds(0)), Joined::as("j"))
      .to("out");
  TopologyTestDriver d(b.build(), {{"commit.every.records", "100"}});
  auto l = d.create_input_topic<std::string, std::string>("left");
  auto r = d.create_input_topic<std::string, std::string>("right");
  l.pipe_input("k", "a", 10);
  r.pipe_input("k", "x", 12);       // joins a
  r.pipe_input("other", "z", 100);  // stream time 100: a record at 10 or 12 would now be late
  d.abort();                        // processed again from the start: a and x are on time again
  d.commit();
  EXPECT_EQ(read_values(d), (std::vector<std::string>{"a+x"}));
  EXPECT_EQ(d.metric("kstreams_task_dropped_records_total", {{"reason", "late"}}), 0);
}

// ---------------------------------------------------------------------------------------------
// Property tests: random inputs, random commit points, aborts and crashes; the output of every
// faulty run equals the output of the uninterrupted run.

struct Input {
  int topic = 0;  // index into the topology's input topics
  std::string key;
  std::string value;
  TimestampMs timestamp = 0;
};

struct Scenario {
  std::string name;
  std::function<Topology(bool in_memory)> topology;
  std::vector<std::string> inputs{"in"};
  std::vector<std::string> outputs{"out"};
  bool monotonic = false;  // timestamps never decrease (tasks reading two topics pick by timestamp)
  bool ordered = true;     // compare each output partition in order (else as a sorted multiset)
};

struct OutputRecord {
  int32_t partition;
  std::optional<std::string> key, value;
  TimestampMs timestamp;
  auto operator<=>(const OutputRecord&) const = default;
};

std::string printable(const std::optional<std::string>& b) {
  if (!b) return "<null>";
  std::string out;
  for (unsigned char c : *b) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

std::string describe(const std::vector<OutputRecord>& v) {
  std::ostringstream o;
  for (const auto& r : v) {
    o << "  p" << r.partition << " ts=" << r.timestamp << " key=" << printable(r.key) << " value=" << printable(r.value)
      << "\n";
  }
  return o.str();
}

std::vector<Input> random_inputs(std::mt19937_64& rng, const Scenario& s) {
  std::uniform_int_distribution<int> n_dist(5, 40);
  std::uniform_int_distribution<int> key_dist(0, 3);
  std::uniform_int_distribution<int> step(0, 6);
  std::uniform_int_distribution<int> jitter(0, 25);
  std::uniform_int_distribution<int> coin(0, 9);
  std::vector<Input> out(n_dist(rng));
  TimestampMs t = 0;
  for (auto& in : out) {
    in.topic = static_cast<int>(rng() % s.inputs.size());
    in.key = std::string(1, static_cast<char>('a' + key_dist(rng)));
    in.value = std::string(1 + rng() % 3, 'v');
    t += step(rng);
    // Out-of-order records (some late for their windows) where the scenario allows them.
    in.timestamp = (!s.monotonic && coin(rng) < 3) ? std::max<TimestampMs>(0, t - jitter(rng)) : t;
  }
  return out;
}

std::vector<OutputRecord> collect(TopologyTestDriver& d, const Scenario& s) {
  std::vector<OutputRecord> out;
  for (const auto& topic : s.outputs) {
    for (const auto& r : d.read_raw(topic)) out.push_back({r.partition.value(), r.key, r.value, r.timestamp});
  }
  for (const auto& r : d.dead_letters()) out.push_back({-1, r.key, r.value, r.timestamp});
  // Per partition in order (stable by partition), or fully sorted.
  if (s.ordered) {
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.partition < b.partition; });
  } else {
    std::sort(out.begin(), out.end());
  }
  return out;
}

// Inputs have one partition (one task per subtopology): records that several tasks write to one
// output partition interleave in an order that depends on when each task runs, which a commit or
// an abort legitimately changes. Outputs have two.
std::map<std::string, std::string> driver_config(const Scenario& s, int64_t commit_every) {
  std::map<std::string, std::string> config{{"commit.every.records", std::to_string(commit_every)},
                                            {"default.topic.partitions", "2"}};
  // Thousands of RocksDB opens and closes: on tmpfs where there is one (fsyncs cost nothing there).
  if (std::filesystem::is_directory("/dev/shm")) config["state.dir"] = "/dev/shm";
  for (const auto& in : s.inputs) config["topic.partitions." + in] = "1";
  return config;
}

std::vector<OutputRecord> run(const Scenario& s, bool in_memory, const std::vector<Input>& inputs,
                              std::mt19937_64* faults, int64_t commit_every, std::string* trace) {
  TopologyTestDriver d(s.topology(in_memory), driver_config(s, commit_every));
  std::uniform_int_distribution<int> fault(0, 99);
  for (const auto& in : inputs) {
    d.pipe_raw(s.inputs[in.topic], in.key, in.value, in.timestamp);
    if (faults == nullptr) continue;
    const int f = fault(*faults);
    if (f < 12) {
      d.abort();
      *trace += "abort ";
    } else if (f < 20) {
      d.crash_and_restart();
      *trace += "crash ";
    } else if (f < 25) {
      d.commit();
      *trace += "commit ";
    } else {
      *trace += ". ";
    }
  }
  d.commit();
  EXPECT_TRUE(d.status().ok()) << d.status();
  return collect(d, s);
}

class TopologyProcessor : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void init(ProcessorContext<std::string, std::string>& ctx) override {
    ctx_ = &ctx;
    store_ = ctx.get_key_value_store<std::string, int64_t>("seen");
    ctx.schedule(milliseconds(10), PunctuationType::kStreamTime, [this](TimestampMs t) {
      auto n = store_->get("all");
      const int64_t seen = n.ok() && *n ? **n : 0;
      ctx_->forward(Record<std::string, std::string>{"tick", std::to_string(t) + ":" + std::to_string(seen), t, {}});
    });
  }
  void process(const Record<std::string, std::string>& r) override {
    auto n = store_->get("all");
    (void)store_->put("all", (n.ok() && *n ? **n : 0) + 1);
    ctx_->forward(r);
  }

 private:
  ProcessorContext<std::string, std::string>* ctx_ = nullptr;
  KeyValueStore<std::string, int64_t>* store_ = nullptr;
};

std::vector<Scenario> scenarios() {
  std::vector<Scenario> out;
  out.push_back({"tumbling count, emit on close", [](bool mem) { return emit_on_close_count(10, 5, mem); }});
  out.push_back(
      {"hopping sum, emit on update", [](bool mem) {
         StreamsBuilder b;
         auto m = Materialized::as("sums");
         if (mem) m.in_memory();
         b.stream<std::string, std::string>("in")
             .group_by_key()
             .windowed_by(
                 TimeWindows::of_size_and_grace(milliseconds(20), milliseconds(10)).advance_by(milliseconds(5)))
             .aggregate([] { return int64_t{0}; },
                        [](const std::string&, const std::string& v, int64_t agg) {
                          return agg + static_cast<int64_t>(v.size());
                        },
                        m)
             .to_stream()
             .to("out");
         return b.build();
       }});
  out.push_back(
      {"hopping count, emit on close", [](bool mem) {
         StreamsBuilder b;
         auto m = Materialized::as("hop-close");
         if (mem) m.in_memory();
         b.stream<std::string, std::string>("in")
             .group_by_key()
             .windowed_by(TimeWindows::of_size_and_grace(milliseconds(15), milliseconds(3)).advance_by(milliseconds(5)))
             .emit_strategy(EmitStrategy::kOnWindowClose)
             .count(m)
             .to_stream()
             .to("out");
         return b.build();
       }});
  out.push_back({"session count", [](bool mem) {
                   StreamsBuilder b;
                   auto m = Materialized::as("sessions");
                   if (mem) m.in_memory();
                   b.stream<std::string, std::string>("in")
                       .group_by_key()
                       .windowed_by(SessionWindows::with_inactivity_gap_and_grace(milliseconds(5), milliseconds(8)))
                       .count(m)
                       .to_stream()
                       .to("out");
                   return b.build();
                 }});
  out.push_back({"sliding count", [](bool mem) {
                   StreamsBuilder b;
                   auto m = Materialized::as("sliding");
                   if (mem) m.in_memory();
                   b.stream<std::string, std::string>("in")
                       .group_by_key()
                       .windowed_by(SlidingWindows::with_time_difference_and_grace(milliseconds(10), milliseconds(6)))
                       .count(m)
                       .to_stream()
                       .to("out");
                   return b.build();
                 }});
  out.push_back({"processor with a store and a stream-time punctuator", [](bool mem) {
                   StreamsBuilder b;
                   state::StoreSpec spec;
                   spec.name = "seen";
                   spec.persistent = !mem;
                   b.add_state_store(spec);
                   b.stream<std::string, std::string>("in")
                       .process([] { return std::make_unique<TopologyProcessor>(); }, {"seen"})
                       .to("out");
                   return b.build();
                 }});
  Scenario join{
      "left stream-stream join", [](bool) {
        StreamsBuilder b;
        b.stream<std::string, std::string>("left")
            .left_join(
                b.stream<std::string, std::string>("right"),
                [](const std::string& l, const std::optional<std::string>& r) { return l + "+" + r.value_or("null"); },
                JoinWindows::of_time_difference_and_grace(milliseconds(8), milliseconds(4)), Joined::as("lj"))
            .to("out");
        return b.build();
      }};
  join.inputs = {"left", "right"};
  join.monotonic = true;
  join.ordered = false;
  out.push_back(join);
  return out;
}

// Cases per topology: 300 (2,100 in all); KSTREAMS_PROPERTY_CASES=N for more or fewer. Under the
// sanitizers (make sanitize), 40 per topology: that tier looks for memory errors on these paths,
// the release tier covers the thousands of cases.
int property_cases() {
  if (const char* env = std::getenv("KSTREAMS_PROPERTY_CASES")) return std::atoi(env);
#if defined(__SANITIZE_ADDRESS__)
  return 40;
#else
  return 300;
#endif
}

// One test per topology, so that ctest runs them in parallel.
class FaultTolerancePropertyTest : public ::testing::TestWithParam<int> {};

TEST_P(FaultTolerancePropertyTest, AbortsAndCrashesAtRandomPointsGiveTheOutputOfTheUninterruptedRun) {
  const char* env_seed = std::getenv("KSTREAMS_PROPERTY_SEED");
  const uint64_t base_seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : 20261207;
  const int cases_per_scenario = env_seed ? 1 : property_cases();
  const auto all = scenarios();
  ASSERT_LT(static_cast<size_t>(GetParam()), all.size());
  const Scenario& s = all[static_cast<size_t>(GetParam())];
  int cases = 0;
  for (int i = 0; i < cases_per_scenario; ++i) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(i);
    std::mt19937_64 rng(seed);
    const bool in_memory = (rng() % 2) == 0;
    const auto inputs = random_inputs(rng, s);
    std::string trace;
    const auto expected = run(s, in_memory, inputs, nullptr, 1, &trace);
    const int64_t commit_every = 1 + static_cast<int64_t>(rng() % 4);
    const auto actual = run(s, in_memory, inputs, &rng, commit_every, &trace);
    ++cases;
    ASSERT_TRUE(actual == expected) << "scenario '" << s.name << "' (" << (in_memory ? "in-memory" : "RocksDB")
                                    << " stores, commit every " << commit_every << " records): rerun with "
                                    << "KSTREAMS_PROPERTY_SEED=" << seed << " --gtest_filter='*Property*/" << GetParam()
                                    << "'\nfaults after each input: " << trace << "\nexpected:\n"
                                    << describe(expected) << "actual:\n"
                                    << describe(actual);
  }
  EXPECT_GT(cases, 0);
}

constexpr int kScenarios = 7;
INSTANTIATE_TEST_SUITE_P(Topologies, FaultTolerancePropertyTest, ::testing::Range(0, kScenarios));

TEST(FaultTolerancePropertyTest, EveryTopologyHasItsInstance) { EXPECT_EQ(scenarios().size(), size_t{kScenarios}); }

}  // namespace
}  // namespace kstreams
