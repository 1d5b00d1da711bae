// KGroupedStream<K, V> (after group_by/group_by_key) and TimeWindowedKStream<K, V> (after
// windowed_by): aggregations into a named store, returning tables of the running results.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "kstreams/topology/kstream.h"
#include "kstreams/topology/windows.h"

namespace kstreams {

template <typename K, typename V>
class TimeWindowedKStream;
template <typename K, typename V>
class SessionWindowedKStream;
template <typename K, typename V>
class SlidingWindowedKStream;

namespace internal {
// The common path of count/reduce/aggregate: store + AggregateNode; fn(key, value, optional old).
template <typename K, typename V, typename VA, typename Fn>
KTable<K, VA> add_aggregate(const KStream<K, V>& input, const Materialized& m, SerdePtr<VA> value_serde, Fn fn,
                            const char* prefix) {
  BuilderCore* core = input.core();
  auto ks = require_serde(core, pick_serde<K>(core, m.serdes.key, input.key_serde(), "store key"),
                          "the key of store '" + m.name + "'");
  auto vs = require_serde(core, pick_serde<VA>(core, m.serdes.value, value_serde, "store value"),
                          "the value of store '" + m.name + "'");
  state::StoreSpec spec;
  spec.name = m.name;
  spec.persistent = m.persistent;
  spec.logging = m.logging;
  core->add_store(spec);
  const std::string name = core->new_name(prefix);
  NodeSpec node;
  node.name = name;
  node.parents = {input.node_name()};
  node.stores = {m.name};
  node.factory = [name, store = m.name, ks, vs, fn]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<AggregateNode<K, V, VA, Fn>>(name, store, ks, vs, fn);
  };
  core->add_node(std::move(node));
  return KTable<K, VA>(core, name, ks, vs, m.name);
}
}  // namespace internal

template <typename K, typename V>
class KGroupedStream {
 public:
  explicit KGroupedStream(KStream<K, V> input) : input_(std::move(input)) {}

  // The number of records per key (Kafka's count()).
  KTable<K, int64_t> count(const Materialized& m) const {
    auto fn = [](const K&, const V&, const std::optional<int64_t>& old) { return old.value_or(0) + 1; };
    return internal::add_aggregate<K, V, int64_t>(input_, m, serdes::Int64(), fn, "KSTREAM-AGGREGATE");
  }
  // reducer(aggregate, value) -> V; the first value of a key is its initial aggregate.
  template <typename Reducer>
  KTable<K, V> reduce(Reducer reducer, const Materialized& m) const {
    auto fn = [reducer](const K&, const V& v, const std::optional<V>& old) mutable {
      return old ? static_cast<V>(reducer(*old, v)) : v;
    };
    return internal::add_aggregate<K, V, V>(input_, m, input_.value_serde(), fn, "KSTREAM-REDUCE");
  }
  // initializer() -> VA; aggregator(key, value, aggregate) -> VA.
  template <typename Init, typename Agg>
  auto aggregate(Init initializer, Agg aggregator, const Materialized& m) const {
    using VA = std::decay_t<decltype(initializer())>;
    auto fn = [initializer, aggregator](const K& k, const V& v, const std::optional<VA>& old) mutable {
      return static_cast<VA>(aggregator(k, v, old ? *old : initializer()));
    };
    return internal::add_aggregate<K, V, VA>(input_, m, default_serde<VA>(), fn, "KSTREAM-AGGREGATE");
  }

  TimeWindowedKStream<K, V> windowed_by(const TimeWindows& windows) const {
    return TimeWindowedKStream<K, V>(input_, windows);
  }
  SessionWindowedKStream<K, V> windowed_by(const SessionWindows& windows) const {
    return SessionWindowedKStream<K, V>(input_, windows);
  }
  SlidingWindowedKStream<K, V> windowed_by(const SlidingWindows& windows) const {
    return SlidingWindowedKStream<K, V>(input_, windows);
  }

 private:
  KStream<K, V> input_;
};

template <typename K, typename V>
class TimeWindowedKStream {
 public:
  TimeWindowedKStream(KStream<K, V> input, TimeWindows windows) : input_(std::move(input)), windows_(windows) {}

  // Emit each window once, when it closes (end + grace), instead of on every update.
  TimeWindowedKStream emit_strategy(EmitStrategy e) const {
    TimeWindowedKStream copy = *this;
    copy.emit_ = e;
    return copy;
  }

  KTable<Windowed<K>, int64_t> count(const Materialized& m) const {
    auto fn = [](const K&, const V&, const std::optional<int64_t>& old) { return old.value_or(0) + 1; };
    return add<int64_t>(m, serdes::Int64(), fn, "KSTREAM-WINDOWED-COUNT");
  }
  template <typename Reducer>
  KTable<Windowed<K>, V> reduce(Reducer reducer, const Materialized& m) const {
    auto fn = [reducer](const K&, const V& v, const std::optional<V>& old) mutable {
      return old ? static_cast<V>(reducer(*old, v)) : v;
    };
    return add<V>(m, input_.value_serde(), fn, "KSTREAM-WINDOWED-REDUCE");
  }
  template <typename Init, typename Agg>
  auto aggregate(Init initializer, Agg aggregator, const Materialized& m) const {
    using VA = std::decay_t<decltype(initializer())>;
    auto fn = [initializer, aggregator](const K& k, const V& v, const std::optional<VA>& old) mutable {
      return static_cast<VA>(aggregator(k, v, old ? *old : initializer()));
    };
    return add<VA>(m, default_serde<VA>(), fn, "KSTREAM-WINDOWED-AGGREGATE");
  }

 private:
  template <typename VA, typename Fn>
  KTable<Windowed<K>, VA> add(const Materialized& m, SerdePtr<VA> value_serde, Fn fn, const char* prefix) const {
    internal::BuilderCore* core = input_.core();
    auto ks =
        internal::require_serde(core, internal::pick_serde<K>(core, m.serdes.key, input_.key_serde(), "store key"),
                                "the key of store '" + m.name + "'");
    auto vs = internal::require_serde(core, internal::pick_serde<VA>(core, m.serdes.value, value_serde, "store value"),
                                      "the value of store '" + m.name + "'");
    if (windows_.size_ms <= 0 || windows_.advance_ms <= 0 || windows_.advance_ms > windows_.size_ms) {
      core->add_error("window '" + m.name + "': size and advance must be > 0 and advance <= size");
    }
    state::StoreSpec spec;
    spec.name = m.name;
    spec.type = state::StoreType::kWindow;
    spec.persistent = m.persistent;
    spec.logging = m.logging;
    spec.window_size_ms = windows_.size_ms;
    spec.retention_ms = std::max<int64_t>(m.retention.count(), windows_.size_ms + windows_.grace_ms);
    core->add_store(spec);
    const std::string name = core->new_name(prefix);
    internal::NodeSpec node;
    node.name = name;
    node.parents = {input_.node_name()};
    node.stores = {m.name};
    node.factory = [name, store = m.name, w = windows_, e = emit_, ks, vs,
                    fn]() -> std::unique_ptr<internal::NodeBase> {
      return std::make_unique<internal::WindowAggregateNode<K, V, VA, Fn>>(name, store, w, e, ks, vs, fn);
    };
    core->add_node(std::move(node));
    return KTable<Windowed<K>, VA>(core, name, std::make_shared<WindowedSerde<K>>(ks), vs, "");
  }

  KStream<K, V> input_;
  TimeWindows windows_;
  EmitStrategy emit_ = EmitStrategy::kOnWindowUpdate;
};

// Session-windowed aggregations: results keyed by Windowed<K> with the session's first and last
// record timestamps as start and end (inclusive). Emits on every update; merged sessions are
// forwarded as deletions (not visible after to_stream()).
template <typename K, typename V>
class SessionWindowedKStream {
 public:
  SessionWindowedKStream(KStream<K, V> input, SessionWindows windows) : input_(std::move(input)), windows_(windows) {}

  KTable<Windowed<K>, int64_t> count(const Materialized& m) const {
    auto agg = [](const K&, const V&, const std::optional<int64_t>& acc) { return acc.value_or(0) + 1; };
    auto merge = [](const K&, int64_t a, int64_t b) { return a + b; };
    return add<int64_t>(m, serdes::Int64(), agg, merge);
  }
  template <typename Reducer>
  KTable<Windowed<K>, V> reduce(Reducer reducer, const Materialized& m) const {
    auto agg = [reducer](const K&, const V& v, const std::optional<V>& acc) mutable {
      return acc ? static_cast<V>(reducer(*acc, v)) : v;
    };
    auto merge = [reducer](const K&, const V& a, const V& b) mutable { return static_cast<V>(reducer(a, b)); };
    return add<V>(m, input_.value_serde(), agg, merge);
  }
  // merger(key, aggregate1, aggregate2) -> VA combines sessions that a record bridges.
  template <typename Init, typename Aggregator, typename Merger>
  auto aggregate(Init initializer, Aggregator aggregator, Merger merger, const Materialized& m) const {
    using VA = std::decay_t<decltype(initializer())>;
    auto agg = [initializer, aggregator](const K& k, const V& v, const std::optional<VA>& acc) mutable {
      return static_cast<VA>(aggregator(k, v, acc ? *acc : initializer()));
    };
    auto merge = [merger](const K& k, const VA& a, const VA& b) mutable { return static_cast<VA>(merger(k, a, b)); };
    return add<VA>(m, default_serde<VA>(), agg, merge);
  }

 private:
  template <typename VA, typename Agg, typename Merge>
  KTable<Windowed<K>, VA> add(const Materialized& m, SerdePtr<VA> value_serde, Agg agg, Merge merge) const {
    internal::BuilderCore* core = input_.core();
    auto ks =
        internal::require_serde(core, internal::pick_serde<K>(core, m.serdes.key, input_.key_serde(), "store key"),
                                "the key of store '" + m.name + "'");
    auto vs = internal::require_serde(core, internal::pick_serde<VA>(core, m.serdes.value, value_serde, "store value"),
                                      "the value of store '" + m.name + "'");
    if (windows_.gap_ms <= 0) core->add_error("session window '" + m.name + "': the inactivity gap must be > 0");
    state::StoreSpec spec;
    spec.name = m.name;
    spec.type = state::StoreType::kSession;
    spec.persistent = m.persistent;
    spec.logging = m.logging;
    spec.retention_ms = std::max<int64_t>(m.retention.count(), windows_.gap_ms + windows_.grace_ms);
    core->add_store(spec);
    const std::string name = core->new_name("KSTREAM-SESSION-AGGREGATE");
    internal::NodeSpec node;
    node.name = name;
    node.parents = {input_.node_name()};
    node.stores = {m.name};
    node.factory = [name, store = m.name, w = windows_, ks, vs, agg, merge]() -> std::unique_ptr<internal::NodeBase> {
      return std::make_unique<internal::SessionWindowAggregateNode<K, V, VA, Agg, Merge>>(name, store, w, ks, vs, agg,
                                                                                          merge);
    };
    core->add_node(std::move(node));
    return KTable<Windowed<K>, VA>(core, name, std::make_shared<WindowedSerde<K>>(ks), vs, "");
  }

  KStream<K, V> input_;
  SessionWindows windows_;
};

// Sliding-windowed aggregations (emit on update). Besides `m.name` (the results), the node keeps
// the recent input records in the store `<m.name>-records`.
template <typename K, typename V>
class SlidingWindowedKStream {
 public:
  SlidingWindowedKStream(KStream<K, V> input, SlidingWindows windows) : input_(std::move(input)), windows_(windows) {}

  KTable<Windowed<K>, int64_t> count(const Materialized& m) const {
    auto fn = [](const K&, const V&, const std::optional<int64_t>& old) { return old.value_or(0) + 1; };
    return add<int64_t>(m, serdes::Int64(), fn);
  }
  template <typename Reducer>
  KTable<Windowed<K>, V> reduce(Reducer reducer, const Materialized& m) const {
    auto fn = [reducer](const K&, const V& v, const std::optional<V>& old) mutable {
      return old ? static_cast<V>(reducer(*old, v)) : v;
    };
    return add<V>(m, input_.value_serde(), fn);
  }
  template <typename Init, typename Agg>
  auto aggregate(Init initializer, Agg aggregator, const Materialized& m) const {
    using VA = std::decay_t<decltype(initializer())>;
    auto fn = [initializer, aggregator](const K& k, const V& v, const std::optional<VA>& old) mutable {
      return static_cast<VA>(aggregator(k, v, old ? *old : initializer()));
    };
    return add<VA>(m, default_serde<VA>(), fn);
  }

 private:
  template <typename VA, typename Fn>
  KTable<Windowed<K>, VA> add(const Materialized& m, SerdePtr<VA> value_serde, Fn fn) const {
    internal::BuilderCore* core = input_.core();
    auto ks =
        internal::require_serde(core, internal::pick_serde<K>(core, m.serdes.key, input_.key_serde(), "store key"),
                                "the key of store '" + m.name + "'");
    auto vs = internal::require_serde(core, input_.value_serde(), "the records of store '" + m.name + "'");
    auto as = internal::require_serde(core, internal::pick_serde<VA>(core, m.serdes.value, value_serde, "store value"),
                                      "the value of store '" + m.name + "'");
    if (windows_.time_difference_ms <= 0) core->add_error("sliding window '" + m.name + "': difference must be > 0");
    const int64_t retention =
        std::max<int64_t>(m.retention.count(), 2 * windows_.time_difference_ms + windows_.grace_ms + 2);
    state::StoreSpec spec;
    spec.name = m.name;
    spec.type = state::StoreType::kWindow;
    spec.persistent = m.persistent;
    spec.logging = m.logging;
    spec.window_size_ms = windows_.time_difference_ms + 1;
    spec.retention_ms = retention;
    core->add_store(spec);
    state::StoreSpec records = spec;
    records.name = m.name.empty() ? "" : m.name + "-records";
    records.retain_duplicates = true;
    records.window_size_ms = 1;
    core->add_store(records);
    const std::string name = core->new_name("KSTREAM-SLIDING-AGGREGATE");
    internal::NodeSpec node;
    node.name = name;
    node.parents = {input_.node_name()};
    node.stores = {m.name, records.name};
    node.factory = [name, store = m.name, rs = records.name, w = windows_, ks, vs, as,
                    fn]() -> std::unique_ptr<internal::NodeBase> {
      return std::make_unique<internal::SlidingWindowAggregateNode<K, V, VA, Fn>>(name, store, rs, w, ks, vs, as, fn);
    };
    core->add_node(std::move(node));
    return KTable<Windowed<K>, VA>(core, name, std::make_shared<WindowedSerde<K>>(ks), as, "");
  }

  KStream<K, V> input_;
  SlidingWindows windows_;
};

template <typename K, typename V>
KGroupedStream<K, V> KStream<K, V>::group_by_key(const Grouped& grouped) const {
  auto ks = internal::pick_serde<K>(core_, grouped.serdes.key, ks_, "grouping key");
  auto vs = internal::pick_serde<V>(core_, grouped.serdes.value, vs_, "grouping value");
  KStream with_serdes(core_, node_, ks, vs, needs_repartition_);
  return KGroupedStream<K, V>(with_serdes.repartitioned_if_needed(grouped.name, "a grouping"));
}

}  // namespace kstreams
