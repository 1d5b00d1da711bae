// The mutable state behind StreamsBuilder and every KStream/KTable handle it returns. Internal.
#pragma once

#include <any>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "kstreams/topology/internal/graph.h"
#include "kstreams/topology/options.h"

namespace kstreams::internal {

class BuilderCore {
 public:
  // A unique generated name, Kafka Streams style: "KSTREAM-FILTER-0000000003".
  std::string new_name(std::string_view prefix);
  // `given` when non-empty (a user name), else new_name(prefix).
  std::string name_or(const std::string& given, std::string_view prefix);
  void add_node(NodeSpec spec);
  void add_store(state::StoreSpec spec);
  void add_error(std::string message) { graph_.errors.push_back(std::move(message)); }
  // Adds a repartition point: sink to "<name>-repartition" and a new source reading it.
  // Returns the new source's name.
  std::string add_repartition(const std::string& parent, const std::string& name, int32_t partitions,
                              std::function<std::unique_ptr<NodeBase>(const std::string&)> sink_factory,
                              std::function<std::unique_ptr<NodeBase>(const std::string&)> source_factory);
  void add_copartition(std::string left, std::string right, std::string join) {
    graph_.copartitions.push_back({std::move(left), std::move(right), std::move(join)});
  }
  void add_global(GlobalStoreDef def) { graph_.globals.push_back(std::move(def)); }
  [[nodiscard]] bool has_store(const std::string& name) const { return graph_.stores.count(name) > 0; }
  // Moves the graph out (StreamsBuilder::build()).
  Graph take() { return std::move(graph_); }

 private:
  Graph graph_;
};

// The serde `given` in options (std::any holding SerdePtr<T>), else `inherited`, else the default.
// A serde of the wrong type, or none at all, is recorded as an error that build() throws.
template <typename T>
SerdePtr<T> pick_serde(BuilderCore* core, const std::any& given, const SerdePtr<T>& inherited,
                       const std::string& where) {
  if (given.has_value()) {
    if (const auto* p = std::any_cast<SerdePtr<T>>(&given)) return *p;
    core->add_error("serde of the wrong type for " + where);
    return nullptr;
  }
  if (inherited) return inherited;
  return default_serde<T>();
}

template <typename T>
SerdePtr<T> require_serde(BuilderCore* core, SerdePtr<T> serde, const std::string& where) {
  if (!serde) {
    core->add_error("missing serde for " + where + " (type " + typeid(T).name() +
                    " has no default serde: pass one in Consumed/Produced/Grouped/Materialized)");
  }
  return serde;
}

// Calls a value mapper/predicate given either (value) or (key, value).
template <typename F, typename K, typename V>
decltype(auto) call_kv(F& f, const K& k, const V& v) {
  if constexpr (std::is_invocable_v<F&, const K&, const V&>) {
    return f(k, v);
  } else {
    return f(v);
  }
}
template <typename F, typename K, typename V>
using kv_result_t =
    std::decay_t<decltype(call_kv(std::declval<F&>(), std::declval<const K&>(), std::declval<const V&>()))>;

// Key and value of a KeyValue or std::pair.
template <typename P>
auto& kv_key(P& p) {
  if constexpr (requires { p.first; }) {
    return p.first;
  } else {
    return p.key;
  }
}
template <typename P>
auto& kv_value(P& p) {
  if constexpr (requires { p.second; }) {
    return p.second;
  } else {
    return p.value;
  }
}

}  // namespace kstreams::internal
