// KGroupedTable<K, V> (after KTable::group_by): aggregations of a table re-keyed by a selector.
// Each update of the source table subtracts the old value from its old group and adds the new value
// to its new group (Kafka's KTableAggregate with adder and subtractor). Always repartitions, through
// `<application.id>-<Grouped name>-repartition`.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "kstreams/topology/ktable.h"

namespace kstreams {

namespace internal {

// add(key, value, optional aggregate) -> VA; sub(key, value, aggregate) -> VA.
template <typename K, typename V, typename VA, typename Add, typename Sub>
class TableAggregateNode final : public Node<K, Change<V>, K, Change<VA>> {
 public:
  TableAggregateNode(std::string name, std::string store, SerdePtr<K> ks, SerdePtr<VA> vs, Add add, Sub sub)
      : Node<K, Change<V>, K, Change<VA>>(std::move(name)),
        store_name_(std::move(store)),
        ks_(std::move(ks)),
        vs_(std::move(vs)),
        add_(std::move(add)),
        sub_(std::move(sub)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::KeyValueBytesStore>(ctx, store_name_);
  }
  void process(const Record<K, Change<V>>& r) override {
    ks_->serialize(r.key, &kbuf_);
    auto old = store_->get(kbuf_);
    if (!old.ok()) return this->ctx_->fail(old.status());
    std::optional<VA> prev;
    if (*old) {
      VA p{};
      if (!decode(this->ctx_, vs_, **old, &p)) return;
      prev = std::move(p);
    }
    std::optional<VA> acc = prev;
    if (r.value.old_value && acc) acc = sub_(r.key, *r.value.old_value, *acc);
    if (r.value.new_value) acc = add_(r.key, *r.value.new_value, acc);
    if (!acc) return;
    vs_->serialize(*acc, &vbuf_);
    absl::Status st = store_->put(kbuf_, vbuf_);
    if (!st.ok()) return this->ctx_->fail(st);
    this->forward(Record<K, Change<VA>>{r.key, Change<VA>{std::move(acc), std::move(prev)}, r.timestamp, r.headers});
  }

 private:
  std::string store_name_;
  SerdePtr<K> ks_;
  SerdePtr<VA> vs_;
  Add add_;
  Sub sub_;
  state::KeyValueBytesStore* store_ = nullptr;
  std::string kbuf_, vbuf_;
};

}  // namespace internal

template <typename K, typename V>
class KGroupedTable {
 public:
  // `input` forwards Change<V> keyed by the new grouping key (already repartitioned).
  KGroupedTable(internal::BuilderCore* core, std::string node, SerdePtr<K> ks, SerdePtr<V> vs)
      : core_(core), node_(std::move(node)), ks_(std::move(ks)), vs_(std::move(vs)) {}

  KTable<K, int64_t> count(const Materialized& m) const {
    auto add = [](const K&, const V&, const std::optional<int64_t>& acc) { return acc.value_or(0) + 1; };
    auto sub = [](const K&, const V&, int64_t acc) { return acc - 1; };
    return aggregate_impl<int64_t>(m, serdes::Int64(), add, sub);
  }
  // adder(aggregate, value) / subtractor(aggregate, value) -> V; the first value starts the aggregate.
  template <typename Adder, typename Subtractor>
  KTable<K, V> reduce(Adder adder, Subtractor subtractor, const Materialized& m) const {
    auto add = [adder](const K&, const V& v, const std::optional<V>& acc) mutable {
      return acc ? static_cast<V>(adder(*acc, v)) : v;
    };
    auto sub = [subtractor](const K&, const V& v, const V& acc) mutable { return static_cast<V>(subtractor(acc, v)); };
    return aggregate_impl<V>(m, vs_, add, sub);
  }
  // initializer() -> VA; adder(key, value, aggregate) / subtractor(key, value, aggregate) -> VA.
  template <typename Init, typename Adder, typename Subtractor>
  auto aggregate(Init initializer, Adder adder, Subtractor subtractor, const Materialized& m) const {
    using VA = std::decay_t<decltype(initializer())>;
    auto add = [initializer, adder](const K& k, const V& v, const std::optional<VA>& acc) mutable {
      return static_cast<VA>(adder(k, v, acc ? *acc : initializer()));
    };
    auto sub = [subtractor](const K& k, const V& v, const VA& acc) mutable {
      return static_cast<VA>(subtractor(k, v, acc));
    };
    return aggregate_impl<VA>(m, default_serde<VA>(), add, sub);
  }

 private:
  template <typename VA, typename Add, typename Sub>
  KTable<K, VA> aggregate_impl(const Materialized& m, SerdePtr<VA> value_serde, Add add, Sub sub) const {
    auto ks = internal::require_serde(core_, internal::pick_serde<K>(core_, m.serdes.key, ks_, "store key"),
                                      "the key of store '" + m.name + "'");
    auto vs =
        internal::require_serde(core_, internal::pick_serde<VA>(core_, m.serdes.value, value_serde, "store value"),
                                "the value of store '" + m.name + "'");
    state::StoreSpec spec;
    spec.name = m.name;
    spec.persistent = m.persistent;
    spec.logging = m.logging;
    core_->add_store(spec);
    const std::string name = core_->new_name("KTABLE-AGGREGATE");
    internal::NodeSpec node;
    node.name = name;
    node.parents = {node_};
    node.stores = {m.name};
    node.factory = [name, store = m.name, ks, vs, add, sub]() -> std::unique_ptr<internal::NodeBase> {
      return std::make_unique<internal::TableAggregateNode<K, V, VA, Add, Sub>>(name, store, ks, vs, add, sub);
    };
    core_->add_node(std::move(node));
    return KTable<K, VA>(core_, name, ks, vs, m.name);
  }

  internal::BuilderCore* core_;
  std::string node_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
};

template <typename K, typename V>
template <typename Selector>
auto KTable<K, V>::group_by(Selector selector, const Grouped& grouped) const {
  using P = std::decay_t<decltype(selector(std::declval<const K&>(), std::declval<const V&>()))>;
  using KR = std::decay_t<decltype(internal::kv_key(std::declval<P&>()))>;
  using VR = std::decay_t<decltype(internal::kv_value(std::declval<P&>()))>;
  if (grouped.name.empty()) core_->add_error("KTable::group_by needs a name for its repartition topic (Grouped::as)");
  auto fn = [selector](const Record<K, Change<V>>& r, const internal::Forwarder<KR, Change<VR>>& out) mutable {
    if (r.value.old_value) {
      P p = selector(r.key, *r.value.old_value);
      out.forward(Record<KR, Change<VR>>{std::move(internal::kv_key(p)),
                                         Change<VR>{std::nullopt, std::move(internal::kv_value(p))}, r.timestamp,
                                         r.headers});
    }
    if (r.value.new_value) {
      P p = selector(r.key, *r.value.new_value);
      out.forward(Record<KR, Change<VR>>{std::move(internal::kv_key(p)),
                                         Change<VR>{std::move(internal::kv_value(p)), std::nullopt}, r.timestamp,
                                         r.headers});
    }
  };
  const std::string select = internal::add_fn_node<K, Change<V>, KR, Change<VR>>(
      core_, node_, grouped.name.empty() ? core_->new_name("KTABLE-SELECT") : grouped.name + "-select", fn);
  SerdePtr<KR> ks = internal::pick_serde<KR>(core_, grouped.serdes.key, nullptr, "grouping key");
  SerdePtr<VR> vs = internal::pick_serde<VR>(core_, grouped.serdes.value, nullptr, "grouping value");
  if constexpr (std::is_same_v<KR, K>) {
    if (!grouped.serdes.key.has_value()) ks = ks_;
  }
  if constexpr (std::is_same_v<VR, V>) {
    if (!grouped.serdes.value.has_value()) vs = vs_;
  }
  ks = internal::require_serde(core_, ks, "the key of repartition '" + grouped.name + "'");
  vs = internal::require_serde(core_, vs, "the value of repartition '" + grouped.name + "'");
  SerdePtr<Change<VR>> change_serde = vs ? std::make_shared<ChangeSerde<VR>>(vs) : nullptr;
  KStream<KR, Change<VR>> selected(core_, select, ks, change_serde, true);
  const std::string source =
      grouped.name.empty() ? select : selected.repartition_node(grouped.name, 0, ks, change_serde);
  return KGroupedTable<KR, VR>(core_, source, ks, vs);
}

}  // namespace kstreams
