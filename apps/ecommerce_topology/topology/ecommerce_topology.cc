#include "topology/ecommerce_topology.h"

#include <charconv>
#include <initializer_list>
#include <thread>
#include <tuple>

#include "topology/inventory.h"

namespace ecommerce {

using kstreams::Consumed;
using kstreams::Grouped;
using kstreams::Materialized;
using kstreams::Named;
using kstreams::Produced;
using kstreams::TimeWindows;
using kstreams::Windowed;
using std::chrono::milliseconds;

absl::StatusOr<TopologyOptions> topology_options(const kstreams::runtime::StreamsConfig& config,
                                                 const std::string& default_webhook_url) {
  TopologyOptions options;
  options.application_id = config.application_id();
  options.topic_prefix = config.get_string_or("ecommerce.topic.prefix", "");
  options.grace_ms = config.get_long_or("analytics.grace.ms", kDefaultAnalyticsGraceMs);
  NotifierSettings& n = options.notifier;
  const int64_t max_attempts = config.get_long_or("notifications.retry.max.attempts", n.max_attempts);
  const int64_t in_flight = config.get_long_or("notifications.max.in.flight", static_cast<int64_t>(n.max_in_flight));
  const int64_t pump_ms = config.get_long_or("notifications.pump.interval.ms", n.pump_interval.count());
  const int64_t workers = config.get_long_or("notifications.workers", 8);
  n.backoff_ms = config.get_long_or("notifications.retry.backoff.ms", n.backoff_ms);
  WebhookDispatcher::Options dispatcher;
  const int64_t threshold = config.get_long_or("notifications.circuit.failure.threshold", dispatcher.failure_threshold);
  dispatcher.open_ms = config.get_long_or("notifications.circuit.open.ms", dispatcher.open_ms);
  for (const auto& [name, value, low, high] : std::initializer_list<std::tuple<const char*, int64_t, int64_t, int64_t>>{
           {"notifications.retry.max.attempts", max_attempts, 1, 1000},
           {"notifications.circuit.failure.threshold", threshold, 1, 1000000},
           {"notifications.max.in.flight", in_flight, 1, 1000000},
           {"notifications.pump.interval.ms", pump_ms, 1, 60000},
           {"notifications.workers", workers, 1, 256},
           {"notifications.retry.backoff.ms", n.backoff_ms, 0, 3600000},
           {"notifications.circuit.open.ms", dispatcher.open_ms, 0, 3600000},
           {"analytics.grace.ms", options.grace_ms, 0, INT64_MAX / 4}}) {
    if (value < low || value > high) {
      return absl::InvalidArgumentError(std::string(name) + " is " + std::to_string(value) + "; it must be in [" +
                                        std::to_string(low) + ", " + std::to_string(high) + "]");
    }
  }
  n.max_attempts = static_cast<int32_t>(max_attempts);
  dispatcher.failure_threshold = static_cast<int32_t>(threshold);
  n.max_in_flight = static_cast<size_t>(in_flight);
  n.pump_interval = std::chrono::milliseconds(pump_ms);
  dispatcher.webhook_url = config.get_string_or("notifications.webhook.url", default_webhook_url);
  dispatcher.workers = static_cast<int>(workers);
  const std::string batch = config.get_string_or("notifications.http.batch.scheduling", "true");
  if (batch != "true" && batch != "false") {
    return absl::InvalidArgumentError("notifications.http.batch.scheduling is \"" + batch +
                                      "\"; it must be true or false");
  }
  dispatcher.batch_scheduling = batch == "true";
  options.dispatcher = std::make_shared<WebhookDispatcher>(dispatcher);
  return options;
}

std::string stock_commands_topic(const std::string& application_id) { return application_id + "-stock-commands"; }
std::string reservation_results_topic(const std::string& application_id) {
  return application_id + "-reservation-results";
}

namespace {

Produced emit_to(const char* sink_name) {
  Produced p = Produced::with<std::string, Emit>(kstreams::serdes::String(), std::make_shared<EmitSerde>());
  p.name = sink_name;
  return p;
}

Consumed raw_source(const char* name) {
  return Consumed::with<std::string, std::string>(kstreams::serdes::String(), kstreams::serdes::String())
      .with_name(name);
}

}  // namespace

kstreams::TimestampMs order_event_time(const kstreams::RawRecord& record, kstreams::TimestampMs partition_time,
                                       int64_t now_ms) {
  // Where a record with no usable time goes: the partition's time so far (stream time does not
  // move), 0 before the partition has any. Never negative: the task would drop the record, and the
  // order must still get its CANCELLED INVALID (or its dead letter).
  const kstreams::TimestampMs unchanged = std::max<kstreams::TimestampMs>(partition_time, 0);
  auto fallback = [&] { return is_usable_event_time(record.timestamp, now_ms) ? record.timestamp : unchanged; };
  if (!record.value) return fallback();
  constexpr std::string_view kField = "\"created_at\":";
  const std::string_view v(*record.value);
  auto pos = v.find(kField);
  if (pos == std::string_view::npos) return fallback();
  pos += kField.size();
  while (pos < v.size() && v[pos] == ' ') ++pos;
  int64_t ts = 0;
  auto r = std::from_chars(v.data() + pos, v.data() + v.size(), ts);
  const bool integer = r.ec != std::errc::invalid_argument && (r.ptr == v.data() + v.size() || *r.ptr != '.');
  if (!integer) return fallback();  // not a number: created_at is ill-typed, the record timestamp stands in
  // An integer: created_at is the event time if it is within bounds; otherwise the order has none.
  return r.ec == std::errc() && is_usable_event_time(ts, now_ms) ? ts : unchanged;
}

namespace {

kstreams::state::StoreSpec kv_store(const char* name) {
  kstreams::state::StoreSpec spec;
  spec.name = name;
  return spec;
}

}  // namespace

kstreams::Topology build_topology(const TopologyOptions& options) {
  KSTREAMS_CHECK(options.dispatcher != nullptr, "build_topology needs a WebhookDispatcher");
  const std::string& prefix = options.topic_prefix;
  const std::string commands = stock_commands_topic(options.application_id);
  const std::string results = reservation_results_topic(options.application_id);
  kstreams::StreamsBuilder builder;
  for (const char* store : {kOrdersStore, kSagasStore, kOutboxStore, kStockStore, kRestocksSeenStore}) {
    builder.add_state_store(kv_store(store));
  }

  // The order saga.
  auto orders = builder.stream<std::string, std::string>(
      prefix + kOrdersTopic,
      raw_source("orders-source")
          .with_timestamp_extractor([clock = options.clock](const kstreams::RawRecord& r, kstreams::TimestampMs pt) {
            return order_event_time(r, pt, clock->now_ms());
          }));
  if (options.on_order) {
    orders = orders.peek([hook = options.on_order](const std::string&, const std::string&) { hook(); },
                         Named::as("orders-observed"));
  }
  auto line_results = builder.stream<std::string, std::string>(results, raw_source("reservation-results-source"));
  auto dispatcher = options.dispatcher;
  auto settings = options.notifier;
  auto saga = orders.merge(line_results, Named::as("saga-inputs"))
                  .process(
                      [results, dispatcher, settings, clock = options.clock] {
                        return std::make_unique<OrderSagaProcessor>(results, dispatcher, settings, clock);
                      },
                      {kOrdersStore, kSagasStore, kOutboxStore}, Named::as("order-saga"));
  saga.to(prefix + kOrderStatusTopic, emit_to(kStatusSink));
  saga.to(commands, emit_to(kCommandSink));
  saga.to(prefix + kNotificationsTopic, emit_to(kReceiptSink));
  saga.to(prefix + kNotificationsDlqTopic, emit_to(kNotificationDlqSink));
  auto terminal = saga.map_values([](const Emit& e) { return e.terminal; }, Named::as(kTerminalEvents));

  // The inventory.
  auto restocks = builder.stream<std::string, std::string>(prefix + kRestocksTopic, raw_source("restocks-source"));
  auto stock_commands = builder.stream<std::string, std::string>(commands, raw_source("stock-commands-source"));
  auto inventory = restocks.merge(stock_commands, Named::as("inventory-inputs"))
                       .process([commands] { return std::make_unique<InventoryProcessor>(commands); },
                                {kStockStore, kRestocksSeenStore}, Named::as("inventory"));
  inventory.to(prefix + kReservationsTopic, emit_to(kLedgerSink));
  inventory.to(results, emit_to(kResultSink));

  // Analytics on event time (created_at), emitted once per window when it closes.
  const milliseconds grace(options.grace_ms);
  // Only what the revenue window needs crosses the repartition to the single "all" key.
  terminal
      .map_values(
          [](const TerminalEvent& e) {
            return RevenueDelta{e.status == OrderState::kConfirmed, e.total_cents};
          },
          Named::as("revenue-deltas"))
      .group_by([](const std::string&, const RevenueDelta&) { return std::string(kRevenueWindowKey); },
                Grouped::as("revenue-by-all"))
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(kRevenueWindowSizeMs), grace))
      .emit_strategy(kstreams::EmitStrategy::kOnWindowClose)
      .aggregate([] { return RevenueAgg{}; },
                 [](const std::string&, const RevenueDelta& e, RevenueAgg agg) {
                   // Saturating sums: int64 cannot hold more, and overflow is undefined.
                   if (e.confirmed) {
                     agg.orders_confirmed = saturating_add(agg.orders_confirmed, 1);
                     agg.revenue_cents = saturating_add(agg.revenue_cents, e.total_cents);
                   } else {
                     agg.orders_cancelled = saturating_add(agg.orders_cancelled, 1);
                   }
                   return agg;
                 },
                 Materialized::as(kRevenueStore))
      .to_stream()
      .map(
          [](const Windowed<std::string>& w, const RevenueAgg& agg) {
            RevenueWindow out{w.start, w.end, agg.orders_confirmed, agg.orders_cancelled, agg.revenue_cents};
            return std::make_pair(w.key, json_text(out));
          },
          Named::as("revenue-window-out"))
      .to(prefix + kAnalyticsTopic, Produced::as("revenue-analytics-sink"));

  terminal
      .filter([](const std::string&, const TerminalEvent& e) { return e.status == OrderState::kConfirmed; },
              Named::as("confirmed-only"))
      .flat_map(
          [](const std::string&, const TerminalEvent& e) {
            std::vector<std::pair<std::string, SkuSale>> sales;
            sales.reserve(e.items.size());
            for (const auto& item : e.items) {
              // A CONFIRMED order is valid: qty and price are bounded, the product fits int64.
              sales.emplace_back(item.sku, SkuSale{item.qty, item.qty * item.unit_price_cents});
            }
            return sales;
          },
          Named::as("sales-by-sku"))
      .group_by_key(Grouped::as("sku-sales"))
      .windowed_by(TimeWindows::of_size_and_grace(milliseconds(kSkuWindowSizeMs), grace)
                       .advance_by(milliseconds(kSkuWindowAdvanceMs)))
      .emit_strategy(kstreams::EmitStrategy::kOnWindowClose)
      .aggregate([] { return SkuAgg{}; },
                 [](const std::string&, const SkuSale& sale, SkuAgg agg) {
                   agg.units_sold = saturating_add(agg.units_sold, sale.units);
                   agg.revenue_cents = saturating_add(agg.revenue_cents, sale.revenue_cents);
                   return agg;
                 },
                 Materialized::as(kSkuSalesStore))
      .to_stream()
      .map(
          [](const Windowed<std::string>& w, const SkuAgg& agg) {
            SkuSalesWindow out{w.key, w.start, w.end, agg.units_sold, agg.revenue_cents};
            return std::make_pair(w.key, json_text(out));
          },
          Named::as("sku-window-out"))
      .to(prefix + kAnalyticsTopic, Produced::as("sku-analytics-sink"));

  return builder.build();
}

absl::Status ensure_topics(const kstreams::runtime::Properties& admin_config, const std::string& application_id,
                           int32_t partitions, const std::string& prefix) {
  using kstreams::runtime::AdminClient;
  using kstreams::runtime::TopicSpec;
  const auto timeout = std::chrono::seconds(30);
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, AdminClient::create(admin_config));
  std::vector<TopicSpec> contract;
  for (const auto& t : input_topics()) contract.push_back({prefix + t, partitions, -1, {}});
  for (const auto& t : output_topics()) contract.push_back({prefix + t, partitions, -1, {}});
  KSTREAMS_RETURN_IF_ERROR(admin->create_topics(contract, /*ignore_existing=*/true, timeout));
  const std::string orders = prefix + kOrdersTopic;
  const std::string restocks = prefix + kRestocksTopic;
  std::map<std::string, int32_t> counts;
  for (int attempt = 0; attempt < 40; ++attempt) {  // freshly created topics reach the metadata shortly
    KSTREAMS_ASSIGN_OR_RETURN(counts, admin->partition_counts({orders, restocks}, timeout));
    if (counts.count(orders) && counts.count(restocks)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!counts.count(orders) || !counts.count(restocks)) return absl::UnavailableError("input topics did not appear");
  const std::map<std::string, int32_t> internal = {{stock_commands_topic(application_id), counts.at(restocks)},
                                                   {reservation_results_topic(application_id), counts.at(orders)}};
  std::vector<std::string> names;
  for (const auto& [name, n] : internal) names.push_back(name);
  KSTREAMS_ASSIGN_OR_RETURN(auto existing, admin->partition_counts(names, timeout));
  std::vector<TopicSpec> missing;
  for (const auto& [name, n] : internal) {
    auto it = existing.find(name);
    if (it == existing.end()) {
      missing.push_back({name, n, -1, {}});
    } else if (it->second != n) {
      return absl::FailedPreconditionError("topic '" + name + "' has " + std::to_string(it->second) +
                                           " partitions; it must have " + std::to_string(n) +
                                           " (co-partitioned with its input)");
    }
  }
  return admin->create_topics(missing, /*ignore_existing=*/true, timeout);
}

absl::Status reset_application(const kstreams::Topology& topology, const kstreams::runtime::StreamsConfig& config,
                               bool contract_topics, const std::string& prefix) {
  const std::string& app = config.application_id();
  std::vector<std::string> topics = {stock_commands_topic(app), reservation_results_topic(app), app + "-instances"};
  for (const auto& [changelog, sub] : topology.changelog_topics(app)) topics.push_back(changelog);
  for (const auto& r : topology.repartition_topics()) topics.push_back(r.topic.full_name(app));
  if (contract_topics) {
    for (const auto& t : input_topics()) topics.push_back(prefix + t);
    for (const auto& t : output_topics()) topics.push_back(prefix + t);
  }
  KSTREAMS_ASSIGN_OR_RETURN(auto admin, kstreams::runtime::AdminClient::create(config.client_settings("admin.")));
  KSTREAMS_RETURN_IF_ERROR(admin->delete_topics(topics, std::chrono::seconds(30)));
  // Deletion completes asynchronously: wait until the topics are gone, so that a start right after
  // the reset creates fresh ones instead of racing with the deletion.
  for (int attempt = 0; attempt < 120; ++attempt) {
    KSTREAMS_ASSIGN_OR_RETURN(auto left, admin->partition_counts(topics, std::chrono::seconds(10)));
    if (left.empty()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return absl::DeadlineExceededError("topics still exist 30 s after their deletion");
}

namespace {

// from/to query parameters: integers, from <= to. Missing ones default to the widest range.
bool parse_range(const kstreams::runtime::HttpQuery& q, int64_t* from, int64_t* to, std::string* error) {
  *from = 0;
  *to = INT64_MAX / 2;
  for (auto [name, out] : {std::pair<const char*, int64_t*>{"from", from}, {"to", to}}) {
    auto it = q.query.find(name);
    if (it == q.query.end()) continue;
    const std::string& v = it->second;
    auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
    if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || *out < 0) {
      *error = std::string("'") + name + "' must be a non-negative integer (epoch ms)";
      return false;
    }
  }
  if (*from > *to) {
    *error = "'from' is after 'to'";
    return false;
  }
  return true;
}

// Binary store values (saga_records.h) rendered as their JSON view for the query endpoint.
template <typename T>
kstreams::runtime::QueryCodec binary_store_codec() {
  kstreams::runtime::QueryCodec codec;
  codec.key_from_text = [](const std::string& text) -> absl::StatusOr<std::string> { return text; };
  codec.key_to_text = [](std::string_view bytes) { return std::string(bytes); };
  codec.value_to_json = [](std::string_view bytes) {
    auto value = kstreams::default_serde<T>()->from_bytes(bytes);
    if (!value.ok()) return nlohmann::json{{"error", std::string(value.status().message())}}.dump();
    return nlohmann::json(*value).dump();
  };
  return codec;
}

kstreams::runtime::HttpReply bad_request(const std::string& message) {
  return {400, nlohmann::json{{"error", "bad_request"}, {"message", message}}.dump()};
}

}  // namespace

void add_routes(kstreams::runtime::KafkaStreams& streams) {
  using kstreams::runtime::HttpQuery;
  using kstreams::runtime::WindowValue;
  streams.set_query_codec(kSagasStore, binary_store_codec<SagaState>());
  streams.set_query_codec(kOutboxStore, binary_store_codec<OutboxEntry>());
  streams.set_query_codec(kStockStore, binary_store_codec<StockLevel>());
  streams.set_query_codec(kRevenueStore, binary_store_codec<RevenueAgg>());
  streams.set_query_codec(kSkuSalesStore, binary_store_codec<SkuAgg>());
  streams.add_route("/v1/orders/{order_id}", [&streams](const HttpQuery& q) {
    return streams.lookup(kOrdersStore, q.path_params.at("order_id"), q, q.query.count("stale") > 0);
  });
  streams.add_route("/v1/inventory/{sku}", [&streams](const HttpQuery& q) {
    return streams.lookup(kStockStore, q.path_params.at("sku"), q, q.query.count("stale") > 0);
  });
  streams.add_route("/v1/analytics/revenue", [&streams](const HttpQuery& q) {
    int64_t from = 0;
    int64_t to = 0;
    std::string error;
    if (!parse_range(q, &from, &to, &error)) return bad_request(error);
    return streams.lookup_windows(kRevenueStore, kRevenueWindowKey, from, to, q, false,
                                  [](const std::vector<WindowValue>& windows) {
                                    nlohmann::json out = nlohmann::json::array();
                                    for (const auto& w : windows) {
                                      const auto agg = nlohmann::json::parse(w.value_json).get<RevenueAgg>();
                                      out.push_back({{"window_start", w.window_start},
                                                     {"window_end", w.window_end},
                                                     {"orders_confirmed", agg.orders_confirmed},
                                                     {"orders_cancelled", agg.orders_cancelled},
                                                     {"revenue_cents", agg.revenue_cents}});
                                    }
                                    return out.dump();
                                  });
  });
  streams.add_route("/v1/analytics/skus/{sku}", [&streams](const HttpQuery& q) {
    int64_t from = 0;
    int64_t to = 0;
    std::string error;
    if (!parse_range(q, &from, &to, &error)) return bad_request(error);
    const std::string sku = q.path_params.at("sku");
    return streams.lookup_windows(kSkuSalesStore, sku, from, to, q, false,
                                  [sku](const std::vector<WindowValue>& windows) {
                                    nlohmann::json out = nlohmann::json::array();
                                    for (const auto& w : windows) {
                                      const auto agg = nlohmann::json::parse(w.value_json).get<SkuAgg>();
                                      out.push_back({{"sku", sku},
                                                     {"window_start", w.window_start},
                                                     {"window_end", w.window_end},
                                                     {"units_sold", agg.units_sold},
                                                     {"revenue_cents", agg.revenue_cents}});
                                    }
                                    return out.dump();
                                  });
  });
}

}  // namespace ecommerce
