// bench_kstreams: the kstreams contender of bench/harness/PROTOCOL.md: every scenario built with the
// kstreams DSL and run by kstreams::runtime::KafkaStreams.
//
//   bench_kstreams --scenario S --guarantee at_least_once|exactly_once_v2 --bootstrap B --app-id ID
//                  --prefix P --expect N --state-dir D [--set k=v ...]
//
// --set k=v goes to StreamsConfig unchanged (table settings, `consumer.`/`producer.`/... librdkafka
// pass-through, and the saga's application settings), after the flags, so it wins.
//
// Scenarios (String keys and values; every output value a string):
//   stateless    P-in -> filter(key not ending in '7') -> map_values("x" + v.substr(1)) -> P-out
//   count        P-in -> group_by_key(Grouped "by-key") -> count(store "counts") -> decimal -> P-out
//   tumbling     P-in -> group_by_key -> 60 s windows, grace 30 s -> count("tumbling-counts")
//                -> key "<key>@<windowStartMs>", value decimal -> P-out
//   hopping      as tumbling, 300 s windows advancing by 60 s, store "hopping-counts"
//   table_join   P-in join table(P-table, store "table") -> "<stream>|<table>" -> P-out
//   stream_join  P-in join P-in2 within 60 s, grace 30 s -> "<left>|<right>" -> P-out. kstreams needs
//                a name for the join stores (Kafka Streams generates one): "stream-join", i.e. stores
//                stream-join-this-store / stream-join-other-store.
//   saga         the ecommerce_saga library with ecommerce.topic.prefix = P (its internal topics
//                created as ecommerce_topology does); orders counted with its on_order hook.
//   restore      the count topology plus a restore listener for the restore_start / restore_done
//                events (RestoreEvents).
// Processed counter: a peek right after each stream source (P-in, P-in2; orders for the saga).
//
// Settings the contender applies itself (printed as `setting k=v` on stderr): saga only,
// errors.deadletterqueue.topic.name = P + "dead-letters" and, unless given with --set,
// notifications.webhook.url = http://127.0.0.1:8089/notifications (ecommerce_webhook's default).
//
// Events: ready when the instance first reaches RUNNING, first/done from the counter (monitor
// thread), error (then exit 1) when start() fails or a stream thread dies. SIGTERM/SIGINT: close
// (commits), exit 0.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "contenders/contender.h"
#include "kstreams/kstreams.h"
#include "topology/ecommerce_topology.h"

namespace {

using kbench::ContenderArgs;
using kstreams::KStream;
using kstreams::runtime::KafkaStreams;
using kstreams::runtime::StreamsConfig;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Counter = std::atomic<int64_t>;

constexpr const char* kDefaultWebhook = "http://127.0.0.1:8089/notifications";

// A String/String stream of `topic` whose records bump `counter`.
KStream<std::string, std::string> counted_stream(kstreams::StreamsBuilder& builder, const std::string& topic,
                                                 Counter& counter) {
  return builder.stream<std::string, std::string>(topic).peek(
      [&counter](const std::string&, const std::string&) { counter.fetch_add(1, std::memory_order_relaxed); });
}

std::pair<std::string, std::string> windowed_out(const kstreams::Windowed<std::string>& w, int64_t n) {
  return {w.key + "@" + std::to_string(w.start), std::to_string(n)};
}

void add_windowed_count(const KStream<std::string, std::string>& in, const kstreams::TimeWindows& windows,
                        const std::string& store, const std::string& out) {
  in.group_by_key().windowed_by(windows).count(kstreams::Materialized::as(store)).to_stream().map(windowed_out).to(out);
}

// Every scenario but saga and restore.
kstreams::Topology build_dsl_topology(const ContenderArgs& a, Counter& counter) {
  kstreams::StreamsBuilder builder;
  auto in = counted_stream(builder, a.in(), counter);
  const std::string& s = a.scenario;
  if (s == "stateless") {
    in.filter([](const std::string& k, const std::string&) { return k.empty() || k.back() != '7'; })
        .map_values([](const std::string& v) { return "x" + (v.empty() ? v : v.substr(1)); })
        .to(a.out());
  } else if (s == "count" || s == "restore") {
    in.group_by_key(kstreams::Grouped::as("by-key"))
        .count(kstreams::Materialized::as("counts"))
        .to_stream()
        .map_values([](int64_t n) { return std::to_string(n); })
        .to(a.out());
  } else if (s == "tumbling") {
    add_windowed_count(in, kstreams::TimeWindows::of_size_and_grace(seconds(60), seconds(30)), "tumbling-counts",
                       a.out());
  } else if (s == "hopping") {
    add_windowed_count(in, kstreams::TimeWindows::of_size_and_grace(seconds(300), seconds(30)).advance_by(seconds(60)),
                       "hopping-counts", a.out());
  } else if (s == "table_join") {
    auto table = builder.table<std::string, std::string>(a.table(), kstreams::Materialized::as("table"));
    in.join(table, [](const std::string& v, const std::string& t) { return v + "|" + t; }).to(a.out());
  } else if (s == "stream_join") {
    auto in2 = counted_stream(builder, a.in2(), counter);
    in.join(
          in2, [](const std::string& l, const std::string& r) { return l + "|" + r; },
          kstreams::JoinWindows::of_time_difference_and_grace(seconds(60), seconds(30)),
          kstreams::Joined::as("stream-join"))
        .to(a.out());
  }
  return builder.build();
}

// The saga: the ecommerce application's topology, configured as apps/ecommerce_topology/main.cc does.
kstreams::Topology build_saga_topology(const ContenderArgs& a, const StreamsConfig& config, Counter& counter) {
  auto options = ecommerce::topology_options(config, kDefaultWebhook);
  KSTREAMS_CHECK(options.ok(), std::string(options.status().message()).c_str());
  options->topic_prefix = a.prefix;
  options->on_order = [&counter] { counter.fetch_add(1, std::memory_order_relaxed); };
  return ecommerce::build_topology(*options);
}

absl::StatusOr<StreamsConfig> make_config(const ContenderArgs& a) {
  std::map<std::string, std::string> values = {{kstreams::runtime::config::kApplicationId, a.app_id},
                                               {kstreams::runtime::config::kBootstrapServers, a.bootstrap},
                                               {kstreams::runtime::config::kProcessingGuarantee, a.guarantee},
                                               {kstreams::runtime::config::kStateDir, a.state_dir}};
  std::map<std::string, std::string> own;
  if (a.scenario == "saga") {
    own[kstreams::runtime::config::kDeadLetterTopic] = a.prefix + ecommerce::kDeadLettersTopic;
    own["notifications.webhook.url"] = kDefaultWebhook;
  }
  for (const auto& [k, v] : a.sets) own.erase(k);  // --set wins and is not "applied by the contender"
  for (const auto& [k, v] : own) {
    kbench::report_setting(k, v);
    values[k] = v;
  }
  for (const auto& [k, v] : a.sets) values[k] = v;
  return StreamsConfig::from_map(values);
}

// Runs until a stop signal or a fatal error. Returns the exit code.
// restore: restore_start at the first changelog partition's start; restore_done once the instance
// is RUNNING (kstreams reaches RUNNING only when every task finished restoring), stamped with the
// last partition's end and carrying the records restored over every partition.
class RestoreEvents : public kstreams::runtime::RestoreListener {
 public:
  void on_restore_start(const std::string&, int32_t, const std::string&, int64_t, int64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_++ == 0) kbench::emit(R"({"event":"restore_start","t_ms":)" + std::to_string(kbench::now_ms()) + "}");
  }
  void on_restore_end(const std::string&, int32_t, const std::string&, int64_t total_restored) override {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ += 1;
    restored_ += total_restored;
    last_end_ms_ = kbench::now_ms();
  }
  // Called when the instance reaches RUNNING.
  void on_running() {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ == 0 || ended_ < started_ || reported_) return;
    reported_ = true;
    kbench::emit(R"({"event":"restore_done","t_ms":)" + std::to_string(last_end_ms_) + R"(,"restored":)" +
                 std::to_string(restored_) + "}");
  }

 private:
  std::mutex mu_;
  int started_ = 0;
  int ended_ = 0;
  int64_t restored_ = 0;
  int64_t last_end_ms_ = 0;
  bool reported_ = false;
};

int run(const kstreams::Topology& topology, const StreamsConfig& config, const Counter& counter, int64_t expect,
        bool restore_events) {
  KafkaStreams streams(topology, config);
  std::atomic<bool> ready{false};
  auto restore = std::make_shared<RestoreEvents>();
  streams.set_state_listener([&ready, restore, restore_events](KafkaStreams::State now, KafkaStreams::State) {
    if (now != KafkaStreams::State::kRunning) return;
    if (restore_events) restore->on_running();
    if (!ready.exchange(true)) kbench::emit_ready();
  });
  if (restore_events) streams.set_restore_listener(restore);
  if (auto st = streams.start(); !st.ok()) {
    std::fprintf(stderr, "bench_kstreams: %s\n", st.ToString().c_str());
    kbench::emit_error(std::string(st.message()));
    return 1;
  }
  kbench::ProgressMonitor monitor(counter, expect);
  while (!kbench::stop_requested() && streams.state() != KafkaStreams::State::kError &&
         streams.state() != KafkaStreams::State::kNotRunning) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  monitor.stop();
  if (streams.state() == KafkaStreams::State::kError) {
    const absl::Status error = streams.error();
    std::fprintf(stderr, "bench_kstreams: %s\n", error.ToString().c_str());
    kbench::emit_error(std::string(error.message()));
    streams.close();
    return 1;
  }
  if (!streams.close()) {
    kbench::emit_error("the stream threads did not stop within 60 s");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = kbench::parse_args(argc, argv, /*needs_state_dir=*/true);
  if (!args.ok()) {
    std::fprintf(stderr, "bench_kstreams: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  auto config = make_config(*args);
  if (!config.ok()) {
    std::fprintf(stderr, "bench_kstreams: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  kbench::install_stop_signals();
  Counter counter{0};
  try {
    if (args->scenario == "saga") {
      kstreams::Topology topology = build_saga_topology(*args, *config, counter);
      const auto partitions = static_cast<int32_t>(config->get_long_or("ecommerce.partitions", 3));
      if (auto st = ecommerce::ensure_topics(config->client_settings("admin."), config->application_id(), partitions,
                                             args->prefix);
          !st.ok()) {
        std::fprintf(stderr, "bench_kstreams: %s\n", st.ToString().c_str());
        kbench::emit_error(std::string(st.message()));
        return 1;
      }
      return run(topology, *config, counter, args->expect, false);
    }
    kstreams::Topology topology = build_dsl_topology(*args, counter);
    return run(topology, *config, counter, args->expect, args->scenario == "restore");
  } catch (const std::exception& e) {  // kstreams::TopologyException: a DSL misuse in this file
    std::fprintf(stderr, "bench_kstreams: %s\n", e.what());
    kbench::emit_error(e.what());
    return 1;
  }
}
