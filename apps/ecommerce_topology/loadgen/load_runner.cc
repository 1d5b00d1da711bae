#include "loadgen/load_runner.h"

#include <thread>

#include "kstreams/common/clock.h"
#include "model.h"
#include "verify/checker.h"

namespace ecommerce::loadgen {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class Sender {
 public:
  Sender(kstreams::runtime::ProducerClient& producer, const SendOptions& options, int64_t total)
      : producer_(producer), options_(options), started_(Clock::now()), last_report_(started_) {
    progress_.total = total;
  }

  absl::Status send(kstreams::RawRecord& r) {
    r.headers.set(verify::kSentAtHeader, std::to_string(kstreams::SystemClock::instance().now_ms()));
    while (true) {
      absl::Status st = producer_.send(r);
      if (st.ok()) break;
      if (st.code() != absl::StatusCode::kUnavailable) return st;
      producer_.poll(10ms);  // local queue full: serve delivery reports and retry
    }
    ++progress_.sent;
    producer_.poll(0ms);
    maybe_report(false);
    return absl::OkStatus();
  }

  // Sleeps until order number `n` (0-based) is due at `rate` per second.
  void pace(int64_t n, Clock::time_point orders_started) {
    if (options_.rate <= 0) return;
    const auto due = orders_started + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(static_cast<double>(n) / options_.rate));
    while (Clock::now() < due) {
      producer_.poll(std::min<std::chrono::milliseconds>(
          std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()) + 1ms, 50ms));
      maybe_report(false);
    }
  }

  absl::Status flush() {
    absl::Status st = producer_.flush(options_.flush_timeout);
    if (st.ok()) return st;
    return absl::Status(st.code(), "flushing the producer: " + std::string(st.message()));
  }

  SendResult finish() {
    maybe_report(true);
    SendResult r;
    r.sent = progress_.sent;
    r.acked = producer_.delivered_count();
    r.errors = producer_.failed_count();
    r.first_error = producer_.first_delivery_error();
    r.elapsed_s = std::chrono::duration<double>(Clock::now() - started_).count();
    return r;
  }

 private:
  void maybe_report(bool final) {
    const auto now = Clock::now();
    if (!final && now - last_report_ < options_.progress_interval) return;
    const double secs = std::chrono::duration<double>(now - last_report_).count();
    progress_.rate = secs > 0 ? static_cast<double>(progress_.sent - sent_at_last_report_) / secs : 0;
    if (final) {
      const double total_secs = std::chrono::duration<double>(now - started_).count();
      progress_.rate = total_secs > 0 ? static_cast<double>(progress_.sent) / total_secs : 0;
    }
    progress_.acked = producer_.delivered_count();
    progress_.errors = producer_.failed_count();
    progress_.final = final;
    last_report_ = now;
    sent_at_last_report_ = progress_.sent;
    if (options_.on_progress) options_.on_progress(progress_);
  }

  kstreams::runtime::ProducerClient& producer_;
  const SendOptions& options_;
  const Clock::time_point started_;
  Clock::time_point last_report_;
  int64_t sent_at_last_report_ = 0;
  SendProgress progress_;
};

}  // namespace

absl::Status ensure_topics(kstreams::runtime::AdminClient& admin, const std::string& prefix, int32_t partitions,
                           std::vector<std::string>* warnings) {
  std::vector<std::string> names;
  for (const auto& t : input_topics()) names.push_back(prefix + t);
  for (const auto& t : output_topics()) names.push_back(prefix + t);
  std::vector<kstreams::runtime::TopicSpec> specs;
  for (const auto& n : names) specs.push_back({n, partitions, -1, {}});  // -1: the broker default
  KSTREAMS_RETURN_IF_ERROR(admin.create_topics(specs, /*ignore_existing=*/true, 30s));
  KSTREAMS_ASSIGN_OR_RETURN(auto counts, admin.partition_counts(names, 30s));
  for (const auto& n : names) {
    auto it = counts.find(n);
    if (it == counts.end()) return absl::UnavailableError("topic " + n + " not visible after creation");
    if (it->second != partitions) {
      warnings->push_back("topic " + n + " exists with " + std::to_string(it->second) + " partitions (asked " +
                          std::to_string(partitions) + ")");
    }
  }
  return absl::OkStatus();
}

kstreams::runtime::Properties producer_properties(const std::string& bootstrap) {
  return {{"bootstrap.servers", bootstrap},
          {"enable.idempotence", "true"},
          {"acks", "all"},
          {"linger.ms", "5"},
          {"compression.type", "lz4"}};
}

absl::StatusOr<SendResult> send_plan(LoadPlan& plan, kstreams::runtime::ProducerClient& producer,
                                     const SendOptions& options) {
  // Topic metadata first: the send times stamped on the orders must not include librdkafka's
  // once-a-second lookup of a topic it has not seen (the first second of orders arrived ~1 s late).
  std::vector<std::string> topics;
  for (const auto* records : {&plan.restocks, &plan.orders}) {
    if (!records->empty()) topics.push_back(records->front().topic);
  }
  KSTREAMS_RETURN_IF_ERROR(producer.warm_up(topics, options.flush_timeout));
  Sender sender(producer, options, static_cast<int64_t>(plan.restocks.size() + plan.orders.size()));
  for (auto& r : plan.restocks) KSTREAMS_RETURN_IF_ERROR(sender.send(r));
  KSTREAMS_RETURN_IF_ERROR(sender.flush());
  const auto orders_started = Clock::now();
  for (size_t i = 0; i < plan.orders.size(); ++i) {
    sender.pace(static_cast<int64_t>(i), orders_started);
    KSTREAMS_RETURN_IF_ERROR(sender.send(plan.orders[i]));
  }
  KSTREAMS_RETURN_IF_ERROR(sender.flush());
  return sender.finish();
}

}  // namespace ecommerce::loadgen
