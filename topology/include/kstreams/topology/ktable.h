// KTable<K, V>: a changelog stream interpreted as the latest value per key. Internally a table node
// forwards Change<V> (new value, nullopt = deleted; and the old value when known).
//
// A table is "materialized" when it has a store (builder.table, to_table, aggregations, or
// filter/map_values given a Materialized); joins need materialized tables.
// GlobalKTable<K, V>: a table whose store holds every partition of its topic on every instance.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "kstreams/topology/kgrouped_stream.h"

namespace kstreams {

template <typename K, typename V>
class KGroupedTable;

template <typename K, typename V>
class KTable {
 public:
  using KeyType = K;
  using ValueType = V;
  KTable(internal::BuilderCore* core, std::string node, SerdePtr<K> ks, SerdePtr<V> vs, std::string store)
      : core_(core), node_(std::move(node)), ks_(std::move(ks)), vs_(std::move(vs)), store_(std::move(store)) {}

  // The table's updates as a stream of (key, new value). Deletions (tombstones) are not forwarded:
  // a stream record has no null value in kstreams (see docs/dsl.md).
  KStream<K, V> to_stream(const Named& named = {}) const {
    auto fn = [](const Record<K, Change<V>>& r, const internal::Forwarder<K, V>& out) {
      if (r.value.new_value) out.forward(Record<K, V>{r.key, *r.value.new_value, r.timestamp, r.headers});
    };
    std::string name =
        internal::add_fn_node<K, Change<V>, K, V>(core_, node_, core_->name_or(named.name, "KTABLE-TOSTREAM"), fn);
    return KStream<K, V>(core_, std::move(name), ks_, vs_, false);
  }

  // Kafka's KTableFilter: a value that does not pass becomes a deletion; an update where neither
  // the new nor the old value passes is not forwarded.
  template <typename Pred>
  KTable filter(Pred pred, const Materialized& m = {}) const {
    return filtered(std::move(pred), false, m);
  }
  template <typename Pred>
  KTable filter_not(Pred pred, const Materialized& m = {}) const {
    return filtered(std::move(pred), true, m);
  }

  // mapper(value) or mapper(key, value) -> VR, applied to new and old values.
  template <typename Mapper>
  auto map_values(Mapper mapper, const Materialized& m = {}) const {
    using VR = internal::kv_result_t<Mapper, K, V>;
    auto fn = [mapper](const Record<K, Change<V>>& r, const internal::Forwarder<K, Change<VR>>& out) mutable {
      Record<K, Change<VR>> o{r.key, {}, r.timestamp, r.headers};
      if (r.value.new_value) o.value.new_value = internal::call_kv(mapper, r.key, *r.value.new_value);
      if (r.value.old_value) o.value.old_value = internal::call_kv(mapper, r.key, *r.value.old_value);
      out.forward(o);
    };
    std::string name =
        internal::add_fn_node<K, Change<V>, K, Change<VR>>(core_, node_, core_->new_name("KTABLE-MAPVALUES"), fn);
    SerdePtr<VR> vs;
    if constexpr (std::is_same_v<VR, V>)
      vs = vs_;
    else
      vs = default_serde<VR>();
    return KTable<K, VR>(core_, name, ks_, vs, "").materialize_if(m);
  }

  // selector(key, value) -> KeyValue/std::pair (new key, new value): regroups the table for
  // count/reduce/aggregate with adder and subtractor. Repartitions through `Grouped::as(name)`.
  template <typename Selector>
  auto group_by(Selector selector, const Grouped& grouped) const;

  // Table-table joins (Kafka's KTableKTableJoin): an update on either side joins with the other
  // side's current value and forwards the new and old joined values. Both tables must be
  // materialized. joiner(v, vo) for join; (v, std::optional<VO>) for left_join;
  // (std::optional<V>, std::optional<VO>) for outer_join. A side missing where the join kind needs
  // it yields a deletion.
  template <typename VO, typename Joiner>
  auto join(const KTable<K, VO>& other, Joiner joiner, const Materialized& m = {}) const;
  template <typename VO, typename Joiner>
  auto left_join(const KTable<K, VO>& other, Joiner joiner, const Materialized& m = {}) const;
  template <typename VO, typename Joiner>
  auto outer_join(const KTable<K, VO>& other, Joiner joiner, const Materialized& m = {}) const;

  // Stores this table's values in `m.name` (if m has a name) so that it can be joined and queried.
  KTable materialize_if(const Materialized& m) const {
    if (m.name.empty()) return *this;
    auto ks = internal::require_serde(core_, internal::pick_serde<K>(core_, m.serdes.key, ks_, "store key"),
                                      "the key of store '" + m.name + "'");
    auto vs = internal::require_serde(core_, internal::pick_serde<V>(core_, m.serdes.value, vs_, "store value"),
                                      "the value of store '" + m.name + "'");
    state::StoreSpec spec;
    spec.name = m.name;
    spec.persistent = m.persistent;
    spec.logging = m.logging;
    core_->add_store(spec);
    const std::string name = core_->new_name("KTABLE-MATERIALIZE");
    internal::NodeSpec node;
    node.name = name;
    node.parents = {node_};
    node.stores = {m.name};
    node.factory = [name, store = m.name, ks, vs]() -> std::unique_ptr<internal::NodeBase> {
      return std::make_unique<internal::MaterializeNode<K, V>>(name, store, ks, vs);
    };
    core_->add_node(std::move(node));
    return KTable(core_, name, ks, vs, m.name);
  }

  [[nodiscard]] const std::string& node_name() const { return node_; }
  [[nodiscard]] const std::string& store_name() const { return store_; }
  [[nodiscard]] internal::BuilderCore* core() const { return core_; }
  [[nodiscard]] const SerdePtr<K>& key_serde() const { return ks_; }
  [[nodiscard]] const SerdePtr<V>& value_serde() const { return vs_; }

 private:
  template <typename Pred>
  KTable filtered(Pred pred, bool negate, const Materialized& m) const {
    auto fn = [pred, negate](const Record<K, Change<V>>& r, const internal::Forwarder<K, Change<V>>& out) mutable {
      auto keep = [&](const std::optional<V>& v) {
        return v && static_cast<bool>(internal::call_kv(pred, r.key, *v)) != negate;
      };
      Record<K, Change<V>> o{r.key, {}, r.timestamp, r.headers};
      if (keep(r.value.new_value)) o.value.new_value = r.value.new_value;
      if (keep(r.value.old_value)) o.value.old_value = r.value.old_value;
      if (!o.value.new_value && !o.value.old_value) return;
      out.forward(o);
    };
    std::string name =
        internal::add_fn_node<K, Change<V>, K, Change<V>>(core_, node_, core_->new_name("KTABLE-FILTER"), fn);
    return KTable(core_, name, ks_, vs_, "").materialize_if(m);
  }

  internal::BuilderCore* core_;
  std::string node_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  std::string store_;
};

template <typename K, typename V>
class GlobalKTable {
 public:
  GlobalKTable(std::string store, SerdePtr<K> ks, SerdePtr<V> vs)
      : store_(std::move(store)), ks_(std::move(ks)), vs_(std::move(vs)) {}
  [[nodiscard]] const std::string& store_name() const { return store_; }
  [[nodiscard]] const SerdePtr<K>& key_serde() const { return ks_; }
  [[nodiscard]] const SerdePtr<V>& value_serde() const { return vs_; }

 private:
  std::string store_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
};

namespace internal {

// KStream-GlobalKTable join: selector(key, value) -> global key, looked up in the global store,
// which holds the topic's bytes as they are.
template <typename K, typename V, typename GK, typename VT, typename VR, typename Sel, typename Fn>
class GlobalJoinNode final : public Node<K, V, K, VR> {
 public:
  GlobalJoinNode(std::string name, std::string store, bool left, SerdePtr<GK> ks, SerdePtr<VT> vs, Sel sel, Fn fn)
      : Node<K, V, K, VR>(std::move(name)),
        store_name_(std::move(store)),
        left_(left),
        ks_(std::move(ks)),
        vs_(std::move(vs)),
        sel_(std::move(sel)),
        fn_(std::move(fn)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::KeyValueBytesStore>(ctx, store_name_);
  }
  void process(const Record<K, V>& r) override {
    ks_->serialize(sel_(r.key, r.value), &kbuf_);
    auto found = store_->get(kbuf_);
    if (!found.ok()) return this->ctx_->fail(found.status());
    std::optional<VT> t;
    if (*found) {
      VT v{};
      if (!decode(this->ctx_, vs_, **found, &v)) return;
      t = std::move(v);
    } else if (!left_) {
      return;
    }
    this->forward(Record<K, VR>{r.key, fn_(r.value, t), r.timestamp, r.headers});
  }

 private:
  std::string store_name_;
  bool left_;
  SerdePtr<GK> ks_;
  SerdePtr<VT> vs_;
  Sel sel_;
  Fn fn_;
  state::KeyValueBytesStore* store_ = nullptr;
  std::string kbuf_;
};

template <typename K, typename V, typename VT, typename Joiner>
auto add_stream_table_join(const KStream<K, V>& stream_in, const KTable<K, VT>& table, Joiner joiner, bool left,
                           const Joined& joined) {
  using VR = std::decay_t<decltype(joiner(std::declval<const V&>(), std::declval<const std::optional<VT>&>()))>;
  BuilderCore* core = stream_in.core();
  if (table.store_name().empty()) {
    core->add_error("a stream-table join needs a materialized table (pass Materialized::as to the table)");
  }
  KStream<K, V> stream = stream_in.repartitioned_if_needed(joined.name, "a stream-table join");
  const std::string name = core->name_or(joined.name.empty() ? "" : joined.name + "-join", "KSTREAM-JOIN");
  auto ks = require_serde(core, table.key_serde(), "the table key of join '" + name + "'");
  auto vs = require_serde(core, table.value_serde(), "the table value of join '" + name + "'");
  NodeSpec node;
  node.name = name;
  node.parents = {stream.node_name()};
  node.stores = {table.store_name()};
  node.factory = [name, store = table.store_name(), left, ks, vs, joiner]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<StreamTableJoinNode<K, V, VT, VR, Joiner>>(name, store, left, ks, vs, joiner);
  };
  core->add_node(std::move(node));
  core->add_copartition(stream.node_name(), table.node_name(), name);
  return KStream<K, VR>(core, name, stream.key_serde(), default_serde<VR>(), false);
}

template <typename K, typename V, typename GK, typename VT, typename Sel, typename Joiner>
auto add_global_join(const KStream<K, V>& stream, const GlobalKTable<GK, VT>& table, Sel sel, Joiner joiner, bool left,
                     const Named& named) {
  using VR = std::decay_t<decltype(joiner(std::declval<const V&>(), std::declval<const std::optional<VT>&>()))>;
  BuilderCore* core = stream.core();
  const std::string name = core->name_or(named.name, "KSTREAM-GLOBAL-JOIN");
  NodeSpec node;
  node.name = name;
  node.parents = {stream.node_name()};
  node.factory = [name, store = table.store_name(), left, ks = table.key_serde(), vs = table.value_serde(), sel,
                  joiner]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<GlobalJoinNode<K, V, GK, VT, VR, Sel, Joiner>>(name, store, left, ks, vs, sel, joiner);
  };
  core->add_node(std::move(node));
  return KStream<K, VR>(core, name, stream.key_serde(), default_serde<VR>(), stream.needs_repartition());
}

}  // namespace internal

template <typename K, typename V>
KTable<K, V> KStream<K, V>::to_table(const Materialized& m) const {
  KStream input = repartitioned_if_needed(m.name, "to_table()");
  auto fn = [](const Record<K, V>& r, const internal::Forwarder<K, Change<V>>& out) {
    out.forward(Record<K, Change<V>>{r.key, Change<V>{r.value, std::nullopt}, r.timestamp, r.headers});
  };
  std::string name =
      internal::add_fn_node<K, V, K, Change<V>>(core_, input.node_name(), core_->new_name("KSTREAM-TOTABLE"), fn);
  if (m.name.empty()) core_->add_error("to_table() needs a store name (Materialized::as)");
  return KTable<K, V>(core_, name, input.key_serde(), input.value_serde(), "").materialize_if(m);
}

template <typename K, typename V>
template <typename VT, typename Joiner>
auto KStream<K, V>::join(const KTable<K, VT>& table, Joiner joiner, const Joined& joined) const {
  auto inner = [joiner](const V& v, const std::optional<VT>& t) mutable { return joiner(v, *t); };
  return internal::add_stream_table_join(*this, table, inner, false, joined);
}

template <typename K, typename V>
template <typename VT, typename Joiner>
auto KStream<K, V>::left_join(const KTable<K, VT>& table, Joiner joiner, const Joined& joined) const {
  return internal::add_stream_table_join(*this, table, joiner, true, joined);
}

template <typename K, typename V>
template <typename GK, typename VT, typename Selector, typename Joiner>
auto KStream<K, V>::join(const GlobalKTable<GK, VT>& table, Selector selector, Joiner joiner,
                         const Named& named) const {
  auto inner = [joiner](const V& v, const std::optional<VT>& t) mutable { return joiner(v, *t); };
  return internal::add_global_join(*this, table, selector, inner, false, named);
}

template <typename K, typename V>
template <typename GK, typename VT, typename Selector, typename Joiner>
auto KStream<K, V>::left_join(const GlobalKTable<GK, VT>& table, Selector selector, Joiner joiner,
                              const Named& named) const {
  return internal::add_global_join(*this, table, selector, joiner, true, named);
}

}  // namespace kstreams
