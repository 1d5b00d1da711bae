// StreamsBuilder: the entry point of the DSL. Types are named once, at the sources:
//
//   kstreams::StreamsBuilder builder;
//   auto orders = builder.stream<std::string, Order>("orders");          // JSON by default for Order
//   orders.filter([](const Order& o) { return o.total > 0; })
//         .group_by_key()
//         .count(kstreams::Materialized::as("order-counts"))
//         .to_stream()
//         .to("order-counts");
//   kstreams::Topology topology = builder.build();                         // throws TopologyException
//
// Serdes: Consumed/Produced/Grouped/Materialized, else the stream's, else default_serde<T>().
// Lifetime: stream/table handles refer to the builder; use them only while it lives and before
// build(). Not thread-safe (build a topology on one thread; the Topology is then immutable).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kstreams/topology/kgrouped_table.h"
#include "kstreams/topology/kstream_joins.h"
#include "kstreams/topology/ktable.h"
#include "kstreams/topology/topology.h"

namespace kstreams {

class StreamsBuilder {
 public:
  StreamsBuilder() : core_(std::make_unique<internal::BuilderCore>()) {}

  // A stream of the records of `topics` (one source node reading all of them).
  template <typename K, typename V>
  KStream<K, V> stream(const std::vector<std::string>& topics, const Consumed& consumed = {}) {
    auto* core = core_.get();
    auto ks = internal::require_serde(core, internal::pick_serde<K>(core, consumed.serdes.key, nullptr, "source key"),
                                      "the key of source " + topics.at(0));
    auto vs =
        internal::require_serde(core, internal::pick_serde<V>(core, consumed.serdes.value, nullptr, "source value"),
                                "the value of source " + topics.at(0));
    internal::NodeSpec spec;
    spec.name = core->name_or(consumed.name, "KSTREAM-SOURCE");
    spec.kind = internal::NodeKind::kSource;
    spec.topics = topics;
    spec.factory = [name = spec.name, ks, vs,
                    ex = consumed.timestamp_extractor]() -> std::unique_ptr<internal::NodeBase> {
      auto node = std::make_unique<internal::SourceNode<K, V>>(name, ks, vs);
      node->set_timestamp_extractor(ex);
      return node;
    };
    std::string name = spec.name;
    core->add_node(std::move(spec));
    return KStream<K, V>(core, std::move(name), ks, vs, false);
  }
  template <typename K, typename V>
  KStream<K, V> stream(const std::string& topic, const Consumed& consumed = {}) {
    return stream<K, V>(std::vector<std::string>{topic}, consumed);
  }

  // A table of `topic` (null values delete), materialized in `m.name` (required).
  template <typename K, typename V>
  KTable<K, V> table(const std::string& topic, const Materialized& m, const Consumed& consumed = {}) {
    auto* core = core_.get();
    auto ks = internal::require_serde(core, internal::pick_serde<K>(core, consumed.serdes.key, nullptr, "source key"),
                                      "the key of table " + topic);
    auto vs =
        internal::require_serde(core, internal::pick_serde<V>(core, consumed.serdes.value, nullptr, "source value"),
                                "the value of table " + topic);
    state::StoreSpec store;
    store.name = m.name;
    store.persistent = m.persistent;
    store.logging = m.logging;
    core->add_store(store);
    internal::NodeSpec spec;
    spec.name = core->name_or(consumed.name, "KTABLE-SOURCE");
    spec.kind = internal::NodeKind::kSource;
    spec.topics = {topic};
    spec.stores = {m.name};
    spec.factory = [name = spec.name, ks, vs, s = m.name,
                    ex = consumed.timestamp_extractor]() -> std::unique_ptr<internal::NodeBase> {
      auto node = std::make_unique<internal::TableSourceNode<K, V>>(name, ks, vs, s);
      node->set_timestamp_extractor(ex);
      return node;
    };
    std::string name = spec.name;
    core->add_node(std::move(spec));
    return KTable<K, V>(core, std::move(name), ks, vs, m.name);
  }

  // A table holding every partition of `topic` on every instance, in store `m.name`. Its store is
  // fed by a global-state task, not by the stream tasks.
  template <typename K, typename V>
  GlobalKTable<K, V> global_table(const std::string& topic, const Materialized& m, const Consumed& consumed = {}) {
    auto* core = core_.get();
    auto ks = internal::require_serde(core, internal::pick_serde<K>(core, consumed.serdes.key, nullptr, "source key"),
                                      "the key of global table " + topic);
    auto vs =
        internal::require_serde(core, internal::pick_serde<V>(core, consumed.serdes.value, nullptr, "source value"),
                                "the value of global table " + topic);
    if (m.name.empty()) core->add_error("a global table needs a store name (Materialized::as)");
    internal::GlobalStoreDef def;
    def.spec.name = m.name;
    def.spec.persistent = m.persistent;
    def.spec.logging = false;  // the source topic is the changelog
    def.topic = topic;
    def.source_node = core->name_or(consumed.name, "KSTREAM-GLOBAL-SOURCE");
    core->add_global(std::move(def));
    return GlobalKTable<K, V>(m.name, ks, vs);
  }

  // A store for Processor API processors (connect it by name in KStream::process()).
  void add_state_store(const state::StoreSpec& spec) { core_->add_store(spec); }

  // Validates and freezes the graph. Throws TopologyException on misuse (missing serde, duplicate
  // names, unnamed repartition points or stores, joins that cannot be co-partitioned).
  // The builder is empty afterwards.
  Topology build();

 private:
  std::unique_ptr<internal::BuilderCore> core_;
};

}  // namespace kstreams
