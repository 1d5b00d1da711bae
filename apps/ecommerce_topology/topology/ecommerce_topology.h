// The e-commerce topology (contract: /work/shared/contracts/ecommerce.md), built with the kstreams
// DSL and Processor API. Three parts:
//
//   orders + <app>-reservation-results  --OrderSagaProcessor-->  order-status, <app>-stock-commands,
//        (key order_id)                                           notifications(-dlq), terminal events
//   inventory-restocks + <app>-stock-commands --InventoryProcessor--> inventory-reservations,
//        (key sku)                                                    <app>-reservation-results
//   terminal events --group "all"--> tumbling 1 min revenue    --> order-analytics
//                   --by sku-------> hopping 5 min / 1 min    --> (emitted when windows close)
//
// The saga's two internal topics close a cycle (saga -> inventory -> saga) that a DSL chain cannot
// express, so they are ordinary topics the application creates (ensure_topics) with the partition
// counts of the inputs they are co-partitioned with.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kstreams/kstreams.h"
#include "kstreams/runtime/clients.h"
#include "topology/order_saga.h"

namespace ecommerce {

struct TopologyOptions {
  std::string application_id = "ecommerce";
  std::string topic_prefix;  // prefixes every contract topic (tests run several apps on one broker)
  int64_t grace_ms = kDefaultAnalyticsGraceMs;
  std::shared_ptr<WebhookDispatcher> dispatcher;  // required
  NotifierSettings notifier;
  // Optional: called once for every record read from the orders topic, on the stream thread that
  // reads it, before the saga sees it (a `peek` after the source, named "orders-observed"; absent
  // when unset, so the topology is unchanged). Must be cheap and thread-safe: every stream thread
  // calls it. The benchmark contender (bench/contenders/kstreams.cc) counts orders with it.
  std::function<void()> on_order;
  // The processing instance's wall clock: created_at may be at most 24 h ahead of it (contract,
  // `orders`). Read by the orders timestamp extractor and the saga, on stream threads. Not owned;
  // must outlive the topology.
  const kstreams::Clock* clock = &kstreams::SystemClock::instance();
};

// The application settings (besides StreamsConfig's) and their defaults, read from `config`:
//   notifications.webhook.url (default_webhook_url when absent), notifications.retry.max.attempts (3),
//   notifications.retry.backoff.ms (200), notifications.circuit.failure.threshold (5),
//   notifications.circuit.open.ms (5000), notifications.workers (8: concurrent HTTP calls of the
//   instance), notifications.max.in.flight (1024 per task), notifications.pump.interval.ms (10),
//   notifications.http.batch.scheduling (true: the webhook I/O thread runs under SCHED_BATCH, see
//   HttpPool::Options), analytics.grace.ms (30000), ecommerce.topic.prefix ("").
// Creates the WebhookDispatcher. kInvalidArgument names a setting out of range.
[[nodiscard]] absl::StatusOr<TopologyOptions> topology_options(const kstreams::runtime::StreamsConfig& config,
                                                               const std::string& default_webhook_url);

[[nodiscard]] std::string stock_commands_topic(const std::string& application_id);
[[nodiscard]] std::string reservation_results_topic(const std::string& application_id);

[[nodiscard]] kstreams::Topology build_topology(const TopologyOptions& options);

// The timestamp extractor of `orders` (public for tests), at wall-clock `now_ms`: created_at when
// it is an integer within bounds (is_usable_event_time); the record timestamp when created_at is
// absent or not a number and the record timestamp is within bounds; otherwise (created_at out of
// range, a poison pill) the partition time, 0 before the partition has one: such an order has no
// event time, so it neither advances stream time nor lands in a far-away window. Reads created_at
// without a JSON parse; the saga's full parse decides the order's fate.
[[nodiscard]] kstreams::TimestampMs order_event_time(const kstreams::RawRecord& record,
                                                     kstreams::TimestampMs partition_time, int64_t now_ms);

// Creates the contract's topics that are missing (`partitions` each) and the two internal topics
// with the partition counts of `orders` and `inventory-restocks`; an internal topic that exists with
// another count is kFailedPrecondition.
[[nodiscard]] absl::Status ensure_topics(const kstreams::runtime::Properties& admin_config,
                                         const std::string& application_id, int32_t partitions,
                                         const std::string& prefix = "");

// Deletes the application's internal topics (repartition, changelog, the saga's two topics, the
// instance directory) and, with `contract_topics`, the contract's input and output topics.
[[nodiscard]] absl::Status reset_application(const kstreams::Topology& topology,
                                             const kstreams::runtime::StreamsConfig& config, bool contract_topics,
                                             const std::string& prefix = "");

// Adds the contract's query routes (/v1/orders, /v1/inventory, /v1/analytics/...) and the query
// codecs that render the binary store values (saga_records.h) as JSON. Before start().
void add_routes(kstreams::runtime::KafkaStreams& streams);

}  // namespace ecommerce
