#include "kstreams/topology/internal/builder_core.h"

#include <cstdio>

namespace kstreams::internal {

std::string BuilderCore::new_name(std::string_view prefix) {
  char digits[16];
  std::snprintf(digits, sizeof(digits), "%010d", graph_.counter++);
  return std::string(prefix) + "-" + digits;
}

std::string BuilderCore::name_or(const std::string& given, std::string_view prefix) {
  return given.empty() ? new_name(prefix) : given;
}

void BuilderCore::add_node(NodeSpec spec) {
  for (const auto& n : graph_.nodes) {
    if (n.name == spec.name) {
      add_error("duplicate processor name '" + spec.name + "'");
      return;
    }
  }
  graph_.nodes.push_back(std::move(spec));
}

void BuilderCore::add_store(state::StoreSpec spec) {
  if (spec.name.empty()) {
    add_error("a store needs a name (Materialized::as): it names the changelog topic and queries");
    return;
  }
  if (!graph_.stores.emplace(spec.name, spec).second) add_error("duplicate store name '" + spec.name + "'");
}

std::string BuilderCore::add_repartition(const std::string& parent, const std::string& name, int32_t partitions,
                                         std::function<std::unique_ptr<NodeBase>(const std::string&)> sink_factory,
                                         std::function<std::unique_ptr<NodeBase>(const std::string&)> source_factory) {
  const std::string topic = name + "-repartition";
  for (const auto& r : graph_.repartitions) {
    if (r.topic == topic) add_error("duplicate repartition topic name '" + name + "'");
  }
  NodeSpec sink;
  sink.name = name + "-repartition-sink";
  sink.kind = NodeKind::kSink;
  sink.parents = {parent};
  sink.topics = {topic};
  sink.internal_topic = true;
  sink.factory = [f = std::move(sink_factory), n = sink.name] { return f(n); };
  NodeSpec source;
  source.name = name + "-repartition-source";
  source.kind = NodeKind::kSource;
  source.topics = {topic};
  source.internal_topic = true;
  source.factory = [f = std::move(source_factory), n = source.name] { return f(n); };
  graph_.repartitions.push_back({topic, partitions, sink.name, source.name});
  add_node(std::move(sink));
  add_node(source);
  return source.name;
}

}  // namespace kstreams::internal
