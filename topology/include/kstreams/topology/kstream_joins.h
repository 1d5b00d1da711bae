// Definitions of the windowed stream-stream joins of KStream and of the table-table joins of KTable.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "kstreams/topology/internal/join_nodes.h"
#include "kstreams/topology/ktable.h"

namespace kstreams::internal {

enum class JoinKind { kInner, kLeft, kOuter };

// fn(std::optional<V>, std::optional<VO>) -> VR in every case (the DSL adapts the user's joiner).
template <typename K, typename V, typename VO, typename Fn>
auto add_stream_stream_join(const KStream<K, V>& left_in, const KStream<K, VO>& right_in, Fn fn, const JoinWindows& w,
                            const Joined& joined, JoinKind kind) {
  using VR =
      std::decay_t<decltype(fn(std::declval<const std::optional<V>&>(), std::declval<const std::optional<VO>&>()))>;
  BuilderCore* core = left_in.core();
  const std::string& name = joined.name;
  if (name.empty()) core->add_error("a stream-stream join needs a name (Joined::as): it names the join stores");
  KStream<K, V> left = left_in.repartitioned_if_needed(name.empty() ? "" : name + "-left", "a stream-stream join");
  KStream<K, VO> right = right_in.repartitioned_if_needed(name.empty() ? "" : name + "-right", "a stream-stream join");
  auto ks = require_serde(core, left.key_serde(), "the key of join '" + name + "'");
  auto vs = require_serde(core, left.value_serde(), "the left value of join '" + name + "'");
  auto vos = require_serde(core, right.value_serde(), "the right value of join '" + name + "'");
  auto window_spec = [&](const std::string& store) {
    state::StoreSpec s;
    s.name = store;
    s.type = state::StoreType::kWindow;
    s.retain_duplicates = true;
    s.window_size_ms = w.before_ms + w.after_ms + 1;
    s.retention_ms = w.before_ms + w.after_ms + w.grace_ms + 1;
    return s;
  };
  const std::string this_store = name + "-this-store", other_store = name + "-other-store";
  core->add_store(window_spec(this_store));
  core->add_store(window_spec(other_store));
  std::string outer_store;
  if (kind != JoinKind::kInner) {
    outer_store = name + "-outer-store";
    state::StoreSpec s;
    s.name = outer_store;
    core->add_store(s);
  }
  std::vector<std::string> stores{this_store, other_store};
  if (!outer_store.empty()) stores.push_back(outer_store);

  using LeftNode = StreamStreamJoinNode<K, V, VO, VR, Fn, true>;
  typename LeftNode::Config lc{
      this_store,  other_store, outer_store, kind != JoinKind::kInner, kind == JoinKind::kOuter,
      w.before_ms, w.after_ms,  w.grace_ms};
  const std::string left_name = name + "-join-this";
  NodeSpec ln;
  ln.name = left_name;
  ln.parents = {left.node_name()};
  ln.stores = stores;
  ln.factory = [left_name, lc, ks, vs, vos, fn]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<LeftNode>(left_name, lc, ks, vs, vos, fn);
  };
  core->add_node(std::move(ln));

  using RightNode = StreamStreamJoinNode<K, VO, V, VR, Fn, false>;
  typename RightNode::Config rc{
      other_store, this_store,  outer_store, kind == JoinKind::kOuter, kind != JoinKind::kInner,
      w.after_ms,  w.before_ms, w.grace_ms};
  const std::string right_name = name + "-join-other";
  NodeSpec rn;
  rn.name = right_name;
  rn.parents = {right.node_name()};
  rn.stores = stores;
  rn.factory = [right_name, rc, ks, vos, vs, fn]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<RightNode>(right_name, rc, ks, vos, vs, fn);
  };
  core->add_node(std::move(rn));

  const std::string merge_name = name + "-join-merge";
  NodeSpec mn;
  mn.name = merge_name;
  mn.parents = {left_name, right_name};
  auto pass = [](const Record<K, VR>& r, const Forwarder<K, VR>& out) { out.forward(r); };
  mn.factory = [merge_name, pass]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<FnNode<K, VR, K, VR, decltype(pass)>>(merge_name, pass);
  };
  core->add_node(std::move(mn));
  core->add_copartition(left.node_name(), right.node_name(), name);
  return KStream<K, VR>(core, merge_name, ks, default_serde<VR>(), false);
}

template <typename K, typename V, typename VO, typename Fn>
auto add_table_table_join(const KTable<K, V>& left, const KTable<K, VO>& right, Fn fn, JoinKind kind,
                          const Materialized& m) {
  using VR =
      std::decay_t<decltype(fn(std::declval<const std::optional<V>&>(), std::declval<const std::optional<VO>&>()))>;
  BuilderCore* core = left.core();
  if (left.store_name().empty() || right.store_name().empty()) {
    core->add_error("a table-table join needs both tables materialized (Materialized::as)");
  }
  auto ks = require_serde(core, left.key_serde(), "the key of a table-table join");
  auto vs = require_serde(core, left.value_serde(), "the left value of a table-table join");
  auto vos = require_serde(core, right.value_serde(), "the right value of a table-table join");
  using Kind = typename TableTableJoinNode<K, V, VO, VR, Fn, true>::Kind;
  const auto node_kind = kind == JoinKind::kInner ? Kind::kInner : kind == JoinKind::kLeft ? Kind::kLeft : Kind::kOuter;
  const std::string base = m.name.empty() ? core->new_name("KTABLE-JOIN") : m.name + "-join";
  NodeSpec ln;
  ln.name = base + "-this";
  ln.parents = {left.node_name()};
  ln.stores = {right.store_name()};
  ln.factory = [n = ln.name, s = right.store_name(), node_kind, ks, vos, fn]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<TableTableJoinNode<K, V, VO, VR, Fn, true>>(n, s, node_kind, ks, vos, fn);
  };
  NodeSpec rn;
  rn.name = base + "-other";
  rn.parents = {right.node_name()};
  rn.stores = {left.store_name()};
  using RKind = typename TableTableJoinNode<K, VO, V, VR, Fn, false>::Kind;
  const auto rkind = static_cast<RKind>(static_cast<int>(node_kind));
  rn.factory = [n = rn.name, s = left.store_name(), rkind, ks, vs, fn]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<TableTableJoinNode<K, VO, V, VR, Fn, false>>(n, s, rkind, ks, vs, fn);
  };
  const std::string ln_name = ln.name, rn_name = rn.name;
  core->add_node(std::move(ln));
  core->add_node(std::move(rn));
  NodeSpec mn;
  mn.name = base + "-merge";
  mn.parents = {ln_name, rn_name};
  auto pass = [](const Record<K, Change<VR>>& r, const Forwarder<K, Change<VR>>& out) { out.forward(r); };
  mn.factory = [n = mn.name, pass]() -> std::unique_ptr<NodeBase> {
    return std::make_unique<FnNode<K, Change<VR>, K, Change<VR>, decltype(pass)>>(n, pass);
  };
  const std::string merge_name = mn.name;
  core->add_node(std::move(mn));
  core->add_copartition(left.node_name(), right.node_name(), base);
  return KTable<K, VR>(core, merge_name, ks, default_serde<VR>(), "").materialize_if(m);
}

}  // namespace kstreams::internal

namespace kstreams {

template <typename K, typename V>
template <typename VO, typename Joiner>
auto KStream<K, V>::join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& w, const Joined& j) const {
  auto fn = [joiner](const std::optional<V>& a, const std::optional<VO>& b) mutable { return joiner(*a, *b); };
  return internal::add_stream_stream_join(*this, other, fn, w, j, internal::JoinKind::kInner);
}
template <typename K, typename V>
template <typename VO, typename Joiner>
auto KStream<K, V>::left_join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& w, const Joined& j) const {
  auto fn = [joiner](const std::optional<V>& a, const std::optional<VO>& b) mutable { return joiner(*a, b); };
  return internal::add_stream_stream_join(*this, other, fn, w, j, internal::JoinKind::kLeft);
}
template <typename K, typename V>
template <typename VO, typename Joiner>
auto KStream<K, V>::outer_join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& w,
                               const Joined& j) const {
  return internal::add_stream_stream_join(*this, other, joiner, w, j, internal::JoinKind::kOuter);
}

template <typename K, typename V>
template <typename VO, typename Joiner>
auto KTable<K, V>::join(const KTable<K, VO>& other, Joiner joiner, const Materialized& m) const {
  auto fn = [joiner](const std::optional<V>& a, const std::optional<VO>& b) mutable { return joiner(*a, *b); };
  return internal::add_table_table_join(*this, other, fn, internal::JoinKind::kInner, m);
}
template <typename K, typename V>
template <typename VO, typename Joiner>
auto KTable<K, V>::left_join(const KTable<K, VO>& other, Joiner joiner, const Materialized& m) const {
  auto fn = [joiner](const std::optional<V>& a, const std::optional<VO>& b) mutable { return joiner(*a, b); };
  return internal::add_table_table_join(*this, other, fn, internal::JoinKind::kLeft, m);
}
template <typename K, typename V>
template <typename VO, typename Joiner>
auto KTable<K, V>::outer_join(const KTable<K, VO>& other, Joiner joiner, const Materialized& m) const {
  return internal::add_table_table_join(*this, other, joiner, internal::JoinKind::kOuter, m);
}

}  // namespace kstreams
