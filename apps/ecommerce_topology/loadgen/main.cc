// ecommerce_loadgen: creates the contract's topics and produces a deterministic mix of restocks and
// orders (see load_plan.h for the categories). Progress on stderr; the JSON summary on stdout (and
// in --summary-json FILE).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "kstreams/common/clock.h"
#include "kstreams/runtime/clients.h"
#include "loadgen/flags.h"
#include "loadgen/load_plan.h"
#include "loadgen/load_runner.h"

namespace {

using ecommerce::loadgen::LoadOptions;
using ecommerce::loadgen::SendProgress;

void print_progress(const SendProgress& p, bool tty) {
  char line[256];
  std::snprintf(line, sizeof(line), "sent %lld/%lld  acked %lld  errors %lld  rate %.0f rec/s",
                static_cast<long long>(p.sent), static_cast<long long>(p.total), static_cast<long long>(p.acked),
                static_cast<long long>(p.errors), p.rate);
  if (tty) {
    std::fprintf(stderr, "\r%-78s%s", line, p.final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s%s\n", p.final ? "done: " : "", line);
  }
}

int run(int argc, char** argv) {
  LoadOptions o;
  std::string bootstrap = "127.0.0.1:9092";
  std::string summary_json;
  double rate = 0;
  int32_t partitions = 3;
  ecommerce::tools::FlagParser flags("ecommerce_loadgen",
                                     "Produces restocks, then orders (normal, out-of-stock, invalid, duplicate, "
                                     "malformed) for the e-commerce topology.");
  flags.add("--bootstrap", &bootstrap, "Kafka bootstrap servers");
  flags.add("--orders", &o.orders, "records to produce on `orders`, every category included");
  flags.add("--rate", &rate, "orders per second; 0 = as fast as possible");
  flags.add("--seed", &o.seed, "random seed: the same seed produces the same records");
  flags.add("--skus", &o.skus, "number of restocked skus (sku-0000 ...)");
  flags.add("--restock-qty", &o.restock_qty, "units restocked per sku");
  flags.add("--out-of-stock-share", &o.out_of_stock_share, "share of orders that cannot be satisfied");
  flags.add("--invalid-share", &o.invalid_share, "share of orders that break a validation rule");
  flags.add("--duplicate-share", &o.duplicate_share, "share of orders re-submitting an earlier order_id");
  flags.add("--malformed-share", &o.malformed_share,
            "share of orders that are malformed (also: of skus with a malformed restock)");
  flags.add("--created-at-start", &o.created_at_start, "created_at of the first order, epoch ms; < 0 = now");
  flags.add("--time-step-ms", &o.time_step_ms, "created_at step between consecutive orders");
  flags.add("--partitions", &partitions, "partitions of the topics created when missing");
  flags.add("--topic-prefix", &o.topic_prefix, "prefix of every topic name (tests)");
  flags.add("--id-prefix", &o.id_prefix, "prefix of the order ids (another one per run on the same topics)");
  flags.add("--summary-json", &summary_json, "also write the JSON summary to this file");
  if (auto code = flags.parse(argc, argv)) return *code;
  if (rate < 0) {
    std::fprintf(stderr, "ecommerce_loadgen: error: --rate must be >= 0\n\n%s", flags.usage().c_str());
    return 2;
  }
  if (partitions <= 0) {
    std::fprintf(stderr, "ecommerce_loadgen: error: --partitions must be > 0\n\n%s", flags.usage().c_str());
    return 2;
  }
  if (absl::Status st = ecommerce::loadgen::validate(o); !st.ok()) {
    std::fprintf(stderr, "ecommerce_loadgen: error: %s\n\n%s", std::string(st.message()).c_str(),
                 flags.usage().c_str());
    return 2;
  }

  auto plan = ecommerce::loadgen::make_plan(o, kstreams::SystemClock::instance().now_ms());
  if (!plan.ok()) {
    std::cerr << "ecommerce_loadgen: " << plan.status() << "\n";
    return 1;
  }
  if (!plan->expected.exact) std::cerr << "warning: outcomes not exact: " << plan->expected.shortfall << "\n";

  auto admin = kstreams::runtime::AdminClient::create({{"bootstrap.servers", bootstrap}});
  if (!admin.ok()) {
    std::cerr << "ecommerce_loadgen: admin client: " << admin.status() << "\n";
    return 1;
  }
  std::vector<std::string> warnings;
  if (absl::Status st = ecommerce::loadgen::ensure_topics(**admin, o.topic_prefix, partitions, &warnings); !st.ok()) {
    std::cerr << "ecommerce_loadgen: creating topics: " << st << "\n";
    return 1;
  }
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";

  auto producer = kstreams::runtime::ProducerClient::create(ecommerce::loadgen::producer_properties(bootstrap));
  if (!producer.ok()) {
    std::cerr << "ecommerce_loadgen: producer: " << producer.status() << "\n";
    return 1;
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  ecommerce::loadgen::SendOptions send;
  send.rate = rate;
  send.progress_interval = tty ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000);
  send.on_progress = [tty](const SendProgress& p) { print_progress(p, tty); };
  auto result = ecommerce::loadgen::send_plan(*plan, **producer, send);
  if (!result.ok()) {
    std::cerr << "ecommerce_loadgen: sending: " << result.status() << "\n";
    return 1;
  }

  nlohmann::json summary = ecommerce::loadgen::to_json(plan->expected);
  summary["sent"] = {{"records", result->sent},
                     {"acked", result->acked},
                     {"errors", result->errors},
                     {"first_error", result->first_error},
                     {"elapsed_s", result->elapsed_s},
                     {"rate", result->elapsed_s > 0 ? static_cast<double>(result->sent) / result->elapsed_s : 0.0}};
  summary["options"] = {{"orders", o.orders},
                        {"seed", o.seed},
                        {"skus", o.skus},
                        {"restock_qty", o.restock_qty},
                        {"created_at_start", plan->orders.empty() ? o.created_at_start : plan->orders[0].timestamp},
                        {"time_step_ms", o.time_step_ms},
                        {"topic_prefix", o.topic_prefix},
                        {"id_prefix", o.id_prefix}};
  std::cout << summary.dump(2) << std::endl;
  if (!summary_json.empty()) {
    std::ofstream out(summary_json);
    out << summary.dump(2) << "\n";
    if (!out) {
      std::cerr << "ecommerce_loadgen: cannot write " << summary_json << "\n";
      return 1;
    }
  }
  return result->errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
