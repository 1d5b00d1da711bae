// KStream<K, V>: an unbounded stream of typed records. Handles are cheap values referring to a node
// of the StreamsBuilder that created them; they are valid while that builder lives (until build()).
//
// Operators follow Kafka Streams (filter, map, group_by, join, ...). Mappers and predicates take
// (key, value) or, where Kafka Streams has a value-only variant, just (value); result types are
// deduced from the callables, so types are named once, at the source. Operators that change the key
// (map, select_key, flat_map) mark the stream as needing a repartition before the next grouping or
// join; that repartition point must be named (Grouped::as / Joined::as / repartition()).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kstreams/topology/internal/builder_core.h"
#include "kstreams/topology/internal/stateful_nodes.h"
#include "kstreams/topology/processor.h"

namespace kstreams {

template <typename K, typename V>
class KTable;
template <typename K, typename V>
class KGroupedStream;
template <typename K, typename V>
class GlobalKTable;
template <typename K, typename V>
class BranchedKStream;

namespace internal {
// Adds a processor node with a FnNode behaviour below `parent`; returns its name.
template <typename KIn, typename VIn, typename KOut, typename VOut, typename Fn>
std::string add_fn_node(BuilderCore* core, const std::string& parent, const std::string& name, Fn fn,
                        std::vector<std::string> stores = {}) {
  NodeSpec spec;
  spec.name = name;
  spec.parents = {parent};
  spec.stores = std::move(stores);
  spec.factory = [name, fn]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<FnNode<KIn, VIn, KOut, VOut, Fn>>(name, fn);
  };
  core->add_node(std::move(spec));
  return name;
}
}  // namespace internal

template <typename K, typename V>
class KStream {
 public:
  using KeyType = K;
  using ValueType = V;

  KStream(internal::BuilderCore* core, std::string node, SerdePtr<K> ks, SerdePtr<V> vs, bool needs_repartition)
      : core_(core),
        node_(std::move(node)),
        ks_(std::move(ks)),
        vs_(std::move(vs)),
        needs_repartition_(needs_repartition) {}

  // Keeps records for which pred(key, value) or pred(value) is true.
  template <typename Pred>
  KStream filter(Pred pred, const Named& named = {}) const {
    return filtered(std::move(pred), false, named, "KSTREAM-FILTER");
  }
  template <typename Pred>
  KStream filter_not(Pred pred, const Named& named = {}) const {
    return filtered(std::move(pred), true, named, "KSTREAM-FILTER");
  }

  // mapper(key, value) -> std::pair<KR, VR> or KeyValue<KR, VR>. Marks the stream for repartitioning.
  template <typename Mapper>
  auto map(Mapper mapper, const Named& named = {}) const {
    using P = std::decay_t<decltype(mapper(std::declval<const K&>(), std::declval<const V&>()))>;
    using KR = std::decay_t<decltype(internal::kv_key(std::declval<P&>()))>;
    using VR = std::decay_t<decltype(internal::kv_value(std::declval<P&>()))>;
    auto fn = [mapper](const Record<K, V>& r, const internal::Forwarder<KR, VR>& out) mutable {
      P p = mapper(r.key, r.value);
      out.forward(
          Record<KR, VR>{std::move(internal::kv_key(p)), std::move(internal::kv_value(p)), r.timestamp, r.headers});
    };
    return next<KR, VR>(fn, named, "KSTREAM-MAP", inherit<KR>(ks_), inherit<VR>(vs_), true);
  }

  // mapper(value) or mapper(key, value) -> VR. Keeps the key (no repartition).
  template <typename Mapper>
  auto map_values(Mapper mapper, const Named& named = {}) const {
    using VR = internal::kv_result_t<Mapper, K, V>;
    auto fn = [mapper](const Record<K, V>& r, const internal::Forwarder<K, VR>& out) mutable {
      out.forward(Record<K, VR>{r.key, internal::call_kv(mapper, r.key, r.value), r.timestamp, r.headers});
    };
    return next<K, VR>(fn, named, "KSTREAM-MAPVALUES", ks_, inherit<VR>(vs_), needs_repartition_);
  }

  // mapper(key, value) -> a range of pairs/KeyValues; zero or more records out per record in.
  template <typename Mapper>
  auto flat_map(Mapper mapper, const Named& named = {}) const {
    using R = std::decay_t<decltype(mapper(std::declval<const K&>(), std::declval<const V&>()))>;
    using P = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;
    using KR = std::decay_t<decltype(internal::kv_key(std::declval<P&>()))>;
    using VR = std::decay_t<decltype(internal::kv_value(std::declval<P&>()))>;
    auto fn = [mapper](const Record<K, V>& r, const internal::Forwarder<KR, VR>& out) mutable {
      for (auto& p : mapper(r.key, r.value)) {
        out.forward(
            Record<KR, VR>{std::move(internal::kv_key(p)), std::move(internal::kv_value(p)), r.timestamp, r.headers});
      }
    };
    return next<KR, VR>(fn, named, "KSTREAM-FLATMAP", inherit<KR>(ks_), inherit<VR>(vs_), true);
  }

  // mapper(value) or mapper(key, value) -> a range of VR.
  template <typename Mapper>
  auto flat_map_values(Mapper mapper, const Named& named = {}) const {
    using R = internal::kv_result_t<Mapper, K, V>;
    using VR = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;
    auto fn = [mapper](const Record<K, V>& r, const internal::Forwarder<K, VR>& out) mutable {
      for (auto& v : internal::call_kv(mapper, r.key, r.value)) {
        out.forward(Record<K, VR>{r.key, std::move(v), r.timestamp, r.headers});
      }
    };
    return next<K, VR>(fn, named, "KSTREAM-FLATMAPVALUES", ks_, inherit<VR>(vs_), needs_repartition_);
  }

  // selector(key, value) -> KR, the new key. Marks the stream for repartitioning.
  template <typename Selector>
  auto select_key(Selector selector, const Named& named = {}) const {
    using KR = std::decay_t<decltype(selector(std::declval<const K&>(), std::declval<const V&>()))>;
    auto fn = [selector](const Record<K, V>& r, const internal::Forwarder<KR, V>& out) mutable {
      out.forward(Record<KR, V>{selector(r.key, r.value), r.value, r.timestamp, r.headers});
    };
    return next<KR, V>(fn, named, "KSTREAM-KEY-SELECT", inherit<KR>(ks_), vs_, true);
  }

  // action(key, value) for every record, which passes on unchanged.
  template <typename Action>
  KStream peek(Action action, const Named& named = {}) const {
    auto fn = [action](const Record<K, V>& r, const internal::Forwarder<K, V>& out) mutable {
      action(r.key, r.value);
      out.forward(r);
    };
    return next<K, V>(fn, named, "KSTREAM-PEEK", ks_, vs_, needs_repartition_);
  }

  // Terminal: action(key, value) for every record.
  template <typename Action>
  void foreach (Action action, const Named& named = {}) const {
    auto fn = [action](const Record<K, V>& r, const internal::Forwarder<K, V>&) mutable { action(r.key, r.value); };
    internal::add_fn_node<K, V, K, V>(core_, node_, core_->name_or(named.name, "KSTREAM-FOREACH"), fn);
  }

  // Routes each record to the first branch whose predicate matches (Kafka's split()/branch()).
  BranchedKStream<K, V> split(const Named& named = {}) const;

  // Both streams' records, in processing order. The result needs repartitioning if either does.
  KStream merge(const KStream& other, const Named& named = {}) const {
    const std::string name = core_->name_or(named.name, "KSTREAM-MERGE");
    internal::NodeSpec spec;
    spec.name = name;
    spec.parents = {node_, other.node_};
    auto fn = [](const Record<K, V>& r, const internal::Forwarder<K, V>& out) { out.forward(r); };
    spec.factory = [name, fn]() -> std::unique_ptr<internal::NodeBase> {
      return std::make_unique<internal::FnNode<K, V, K, V, decltype(fn)>>(name, fn);
    };
    core_->add_node(std::move(spec));
    return KStream(core_, name, ks_, vs_, needs_repartition_ || other.needs_repartition_);
  }

  // Writes to `<application.id>-<name>-repartition` and reads it back: the records are
  // partitioned by their current key (murmur2), in a new subtopology.
  KStream repartition(const Repartitioned& options) const {
    auto ks = internal::require_serde(core_, internal::pick_serde<K>(core_, options.serdes.key, ks_, "repartition key"),
                                      "the key of repartition '" + options.name + "'");
    auto vs =
        internal::require_serde(core_, internal::pick_serde<V>(core_, options.serdes.value, vs_, "repartition value"),
                                "the value of repartition '" + options.name + "'");
    if (options.name.empty()) {
      core_->add_error("repartition() needs a name (Repartitioned::as)");
      return *this;
    }
    return KStream(core_, repartition_node(options.name, options.partitions, ks, vs), ks, vs, false);
  }

  // Writes to a topic (serdes: Produced, else the stream's, else the defaults).
  void to(const std::string& topic, const Produced& produced = {}) const {
    auto ks = internal::require_serde(core_, internal::pick_serde<K>(core_, produced.serdes.key, ks_, "sink key"),
                                      "the key of sink topic '" + topic + "'");
    auto vs = internal::require_serde(core_, internal::pick_serde<V>(core_, produced.serdes.value, vs_, "sink value"),
                                      "the value of sink topic '" + topic + "'");
    internal::NodeSpec spec;
    spec.name = core_->name_or(produced.name, "KSTREAM-SINK");
    spec.kind = internal::NodeKind::kSink;
    spec.parents = {node_};
    spec.topics = {topic};
    spec.factory = [name = spec.name, topic, ks, vs]() -> std::unique_ptr<internal::NodeBase> {
      return std::make_unique<internal::SinkNode<K, V>>(name, topic, false, ks, vs);
    };
    core_->add_node(std::move(spec));
  }

  // A user processor. `supplier()` returns std::unique_ptr<P> with P a Processor<K, V, KOut, VOut>;
  // `stores` are the names of the stores it uses (added with StreamsBuilder::add_state_store).
  template <typename Supplier>
  auto process(Supplier supplier, std::vector<std::string> stores = {}, const Named& named = {}) const {
    using P = typename std::decay_t<decltype(supplier())>::element_type;
    using KOut = typename P::KeyOut;
    using VOut = typename P::ValueOut;
    const std::string name = core_->name_or(named.name, "KSTREAM-PROCESSOR");
    internal::NodeSpec spec;
    spec.name = name;
    spec.parents = {node_};
    spec.stores = std::move(stores);
    spec.factory = [name, supplier]() -> std::unique_ptr<internal::NodeBase> {
      std::unique_ptr<Processor<K, V, KOut, VOut>> p = supplier();
      return std::make_unique<internal::UserProcessorNode<K, V, KOut, VOut>>(name, std::move(p));
    };
    core_->add_node(std::move(spec));
    // As in Kafka Streams, a processor may change keys: the result needs a repartition before grouping.
    return KStream<KOut, VOut>(core_, name, inherit<KOut>(ks_), inherit<VOut>(vs_), true);
  }

  KGroupedStream<K, V> group_by_key(const Grouped& grouped = {}) const;
  // selector(key, value) -> KR. Always repartitions (by the new key) before the aggregation.
  template <typename Selector>
  auto group_by(Selector selector, const Grouped& grouped = {}) const {
    return select_key(std::move(selector), Named{grouped.name.empty() ? "" : grouped.name + "-key-select"})
        .group_by_key(grouped);
  }

  // The latest value per key, materialized in `materialized.name`.
  KTable<K, V> to_table(const Materialized& materialized) const;

  // Stream-table joins (Kafka's KStreamKTableJoin): each stream record looks its key up in the
  // table. joiner(value, table_value) -> VR; left_join's joiner gets std::optional<VT>.
  template <typename VT, typename Joiner>
  auto join(const KTable<K, VT>& table, Joiner joiner, const Joined& joined = {}) const;
  template <typename VT, typename Joiner>
  auto left_join(const KTable<K, VT>& table, Joiner joiner, const Joined& joined = {}) const;

  // Windowed stream-stream joins (Kafka's KStreamKStreamJoin): records of both streams with the
  // same key and |t1 - t2| within `windows` are joined; the result has timestamp max(t1, t2).
  // joiner(v, vo) for join; (v, std::optional<VO>) for left_join; (std::optional<V>,
  // std::optional<VO>) for outer_join. Unmatched records of left/outer joins are emitted once their
  // window closed. `joined.name` is required: it names the stores (`<name>-this-store`,
  // `<name>-other-store`, `<name>-outer-store`).
  template <typename VO, typename Joiner>
  auto join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows, const Joined& joined) const;
  template <typename VO, typename Joiner>
  auto left_join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows, const Joined& joined) const;
  template <typename VO, typename Joiner>
  auto outer_join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows, const Joined& joined) const;

  // Stream-global-table joins: selector(key, value) -> the table's key, looked up in the local full
  // copy of the table (no co-partitioning needed). left_join's joiner gets std::optional<VT>.
  template <typename GK, typename VT, typename Selector, typename Joiner>
  auto join(const GlobalKTable<GK, VT>& table, Selector selector, Joiner joiner, const Named& named = {}) const;
  template <typename GK, typename VT, typename Selector, typename Joiner>
  auto left_join(const GlobalKTable<GK, VT>& table, Selector selector, Joiner joiner, const Named& named = {}) const;

  // Internal accessors (used by the other DSL classes).
  [[nodiscard]] const std::string& node_name() const { return node_; }
  [[nodiscard]] internal::BuilderCore* core() const { return core_; }
  [[nodiscard]] const SerdePtr<K>& key_serde() const { return ks_; }
  [[nodiscard]] const SerdePtr<V>& value_serde() const { return vs_; }
  [[nodiscard]] bool needs_repartition() const { return needs_repartition_; }

  // Adds the repartition sink+source below this stream; returns the new source node.
  std::string repartition_node(const std::string& name, int32_t partitions, SerdePtr<K> ks, SerdePtr<V> vs) const {
    return core_->add_repartition(
        node_, name, partitions,
        [ks, vs, topic = name + "-repartition"](const std::string& n) -> std::unique_ptr<internal::NodeBase> {
          return std::make_unique<internal::SinkNode<K, V>>(n, topic, true, ks, vs);
        },
        [ks, vs](const std::string& n) -> std::unique_ptr<internal::NodeBase> {
          return std::make_unique<internal::SourceNode<K, V>>(n, ks, vs);
        });
  }

  // This stream, repartitioned by its key under `name` if an earlier operator changed the key
  // (Kafka's automatic repartitioning before groupings and joins). `why` explains a missing name.
  KStream repartitioned_if_needed(const std::string& name, const std::string& why) const {
    if (!needs_repartition_) return *this;
    if (name.empty()) {
      core_->add_error(why + " needs a repartition after a key change: name it (" +
                       "Grouped::as / Joined::as / repartition())");
      return *this;
    }
    auto ks = internal::require_serde(core_, ks_, "the key of repartition '" + name + "'");
    auto vs = internal::require_serde(core_, vs_, "the value of repartition '" + name + "'");
    return KStream(core_, repartition_node(name, 0, ks, vs), ks, vs, false);
  }

 private:
  template <typename T, typename Same>
  static SerdePtr<T> inherit(const SerdePtr<Same>& s) {
    if constexpr (std::is_same_v<T, Same>) {
      return s;
    } else {
      return default_serde<T>();
    }
  }

  template <typename Pred>
  KStream filtered(Pred pred, bool negate, const Named& named, const char* prefix) const {
    auto fn = [pred, negate](const Record<K, V>& r, const internal::Forwarder<K, V>& out) mutable {
      if (static_cast<bool>(internal::call_kv(pred, r.key, r.value)) != negate) out.forward(r);
    };
    return next<K, V>(fn, named, prefix, ks_, vs_, needs_repartition_);
  }

  template <typename KR, typename VR, typename Fn>
  KStream<KR, VR> next(Fn fn, const Named& named, const char* prefix, SerdePtr<KR> ks, SerdePtr<VR> vs,
                       bool needs_repartition) const {
    std::string name = internal::add_fn_node<K, V, KR, VR>(core_, node_, core_->name_or(named.name, prefix), fn);
    return KStream<KR, VR>(core_, std::move(name), std::move(ks), std::move(vs), needs_repartition);
  }

  internal::BuilderCore* core_;
  std::string node_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  bool needs_repartition_;
};

// The builder returned by KStream::split().
template <typename K, typename V>
class BranchedKStream {
 public:
  BranchedKStream(KStream<K, V> parent, std::string prefix)
      : parent_(std::move(parent)), prefix_(std::move(prefix)), state_(std::make_shared<State>()) {}

  // Adds a branch named `prefix + name` taking records that match pred(key, value) and no earlier branch.
  template <typename Pred>
  BranchedKStream& branch(Pred pred, const std::string& name) {
    state_->predicates.push_back(
        [pred](const K& k, const V& v) mutable { return static_cast<bool>(internal::call_kv(pred, k, v)); });
    state_->names.push_back(prefix_ + name);
    return *this;
  }
  // Records matching no branch go to `prefix + name` (or are dropped without a default branch).
  // Ends the split: returns the branches by name.
  std::map<std::string, KStream<K, V>> default_branch(const std::string& name = "0") {
    state_->has_default = true;
    state_->names.push_back(prefix_ + name);
    return finish();
  }
  std::map<std::string, KStream<K, V>> no_default_branch() { return finish(); }

 private:
  struct State {
    std::vector<std::function<bool(const K&, const V&)>> predicates;
    std::vector<std::string> names;
    bool has_default = false;
  };
  std::map<std::string, KStream<K, V>> finish() {
    auto* core = parent_.core();
    const std::string split_name = core->name_or(prefix_.empty() ? "" : prefix_ + "split", "KSTREAM-BRANCH");
    auto preds = state_->predicates;
    const bool has_default = state_->has_default;
    auto fn = [preds, has_default](const Record<K, V>& r, const internal::Forwarder<K, V>& out) mutable {
      for (size_t i = 0; i < preds.size(); ++i) {
        if (preds[i](r.key, r.value)) return out.forward_to_index(i, r);
      }
      if (has_default) out.forward_to_index(preds.size(), r);
    };
    internal::add_fn_node<K, V, K, V>(core, parent_.node_name(), split_name, fn);
    std::map<std::string, KStream<K, V>> result;
    for (const auto& name : state_->names) {
      auto pass = [](const Record<K, V>& r, const internal::Forwarder<K, V>& out) { out.forward(r); };
      std::string child = internal::add_fn_node<K, V, K, V>(
          core, split_name, prefix_.empty() ? core->new_name("KSTREAM-BRANCHCHILD") : name, pass);
      result.emplace(
          name, KStream<K, V>(core, child, parent_.key_serde(), parent_.value_serde(), parent_.needs_repartition()));
    }
    return result;
  }

  KStream<K, V> parent_;
  std::string prefix_;
  std::shared_ptr<State> state_;
};

template <typename K, typename V>
BranchedKStream<K, V> KStream<K, V>::split(const Named& named) const {
  return BranchedKStream<K, V>(*this, named.name);
}

}  // namespace kstreams
