// ecommerce_verify: reads every input and output topic of the contract with read_committed and
// checks every invariant (checker.h). Prints one line per invariant and the stats; exit 0 when
// everything holds, 1 on any violation, 3 when Kafka cannot be read, 2 for bad flags.
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "kstreams/runtime/clients.h"
#include "loadgen/flags.h"
#include "model.h"
#include "verify/checker.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  return std::max(1000ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

int run(int argc, char** argv) {
  std::string bootstrap = "127.0.0.1:9092";
  std::string summary_json;
  std::string prefix;
  int64_t timeout_ms = 60000;
  int64_t wait_for = 0;
  ecommerce::verify::CheckOptions options;
  int64_t max_examples = 5;
  ecommerce::tools::FlagParser flags("ecommerce_verify",
                                     "Reads every topic of the e-commerce contract (read_committed) and checks "
                                     "every invariant. Exit 0 = all hold, 1 = violations, 3 = Kafka error.");
  flags.add("--bootstrap", &bootstrap, "Kafka bootstrap servers");
  flags.add("--timeout-ms", &timeout_ms, "overall time budget for waiting and reading");
  flags.add("--wait-for-orders", &wait_for, "poll until this many terminal statuses are readable (or timeout)");
  flags.add("--grace-ms", &options.grace_ms, "analytics.grace.ms of the topology");
  flags.add("--max-examples", &max_examples, "examples printed per violated invariant");
  flags.add("--topic-prefix", &prefix, "prefix of every topic name (tests)");
  flags.add("--summary-json", &summary_json, "also write the report as JSON to this file");
  if (auto code = flags.parse(argc, argv)) return *code;
  if (timeout_ms <= 0 || wait_for < 0 || options.grace_ms < 0 || max_examples < 0) {
    std::cerr << "ecommerce_verify: error: --timeout-ms must be > 0; --wait-for-orders, --grace-ms and "
                 "--max-examples >= 0\n\n"
              << flags.usage();
    return 2;
  }
  options.max_examples = static_cast<size_t>(max_examples);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const kstreams::runtime::Properties props{{"bootstrap.servers", bootstrap}, {"isolation.level", "read_committed"}};

  int64_t terminal = 0;
  if (wait_for > 0) {
    while (true) {
      auto statuses = kstreams::runtime::read_all(props, {prefix + ecommerce::kOrderStatusTopic}, remaining(deadline));
      if (!statuses.ok()) {
        std::cerr << "ecommerce_verify: reading order-status: " << statuses.status() << "\n";
        return 3;
      }
      terminal = ecommerce::verify::count_terminal_statuses(*statuses);
      std::cerr << "waiting: " << terminal << "/" << wait_for << " terminal statuses\n";
      if (terminal >= wait_for || Clock::now() + 1s >= deadline) break;
      std::this_thread::sleep_for(1s);
    }
    // Notifications settle after their terminal status (retries, backoff, an open circuit): wait
    // until every terminal status has its receipt or dead letter, or the budget runs out.
    while (terminal >= wait_for && Clock::now() + 1s < deadline) {
      auto settled = kstreams::runtime::read_all(
          props, {prefix + ecommerce::kNotificationsTopic, prefix + ecommerce::kNotificationsDlqTopic},
          remaining(deadline));
      if (!settled.ok()) {
        std::cerr << "ecommerce_verify: reading notifications: " << settled.status() << "\n";
        return 3;
      }
      std::cerr << "waiting: " << settled->size() << "/" << terminal << " notifications settled\n";
      if (static_cast<int64_t>(settled->size()) >= terminal) break;
      std::this_thread::sleep_for(1s);
    }
  }

  std::vector<std::string> topics;
  for (const auto& t : ecommerce::input_topics()) topics.push_back(prefix + t);
  for (const auto& t : ecommerce::output_topics()) topics.push_back(prefix + t);
  auto records = kstreams::runtime::read_all(props, topics, remaining(deadline));
  if (!records.ok()) {
    std::cerr << "ecommerce_verify: reading topics: " << records.status() << "\n";
    return 3;
  }
  ecommerce::verify::RecordSet set;
  set.add(std::move(*records), prefix);
  const ecommerce::verify::Report report = ecommerce::verify::check(set, options);
  std::cout << report.to_text();
  bool waited_ok = true;
  if (wait_for > 0 && report.stats.terminal_statuses < wait_for) {
    waited_ok = false;
    std::cout << "TIMEOUT: " << report.stats.terminal_statuses << " of " << wait_for
              << " terminal statuses readable before the timeout\n";
  }
  if (!summary_json.empty()) {
    nlohmann::json j = report.to_json();
    j["wait_for_orders"] = {{"wanted", wait_for}, {"reached", waited_ok}};
    std::ofstream out(summary_json);
    out << j.dump(2) << "\n";
    if (!out) std::cerr << "ecommerce_verify: cannot write " << summary_json << "\n";
  }
  return report.ok() && waited_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
