// The logical graph the DSL builds: node specs with their factories, stores, repartition points and
// co-partition requirements. Internal: the StreamsBuilder fills it, Topology freezes it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kstreams/state/store.h"
#include "kstreams/topology/internal/node.h"

namespace kstreams::internal {

enum class NodeKind { kSource, kProcessor, kSink };

struct NodeSpec {
  std::string name;
  NodeKind kind = NodeKind::kProcessor;
  std::vector<std::string> parents;
  std::vector<std::string> stores;
  std::vector<std::string> topics;  // source: the topics read; sink: the one topic written
  bool internal_topic = false;      // the topic is a repartition topic (prefixed with application.id)
  std::function<std::unique_ptr<NodeBase>()> factory;
};

struct RepartitionDef {
  std::string topic;       // without the application.id prefix: "<name>-repartition"
  int32_t partitions = 0;  // 0: derived from the upstream sources
  std::string sink_node;
  std::string source_node;
};

// Both sides of a join must read co-partitioned topics.
struct CoPartitionRequest {
  std::string left_node;
  std::string right_node;
  std::string join_node;
};

struct GlobalStoreDef {
  state::StoreSpec spec;
  std::string topic;
  std::string source_node;
};

struct Graph {
  std::vector<NodeSpec> nodes;
  std::map<std::string, state::StoreSpec> stores;
  std::vector<RepartitionDef> repartitions;
  std::vector<CoPartitionRequest> copartitions;
  std::vector<GlobalStoreDef> globals;
  std::vector<std::string> errors;  // DSL misuse found while building; build() throws the first
  int counter = 0;
};

}  // namespace kstreams::internal
