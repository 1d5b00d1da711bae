// The immutable result of StreamsBuilder::build(): the processor graph cut into subtopologies, with
// everything the runtime needs to create internal topics and tasks.
//
// Topic names: user topics are given as named; internal (repartition) topics are stored without
// the application.id prefix ("<name>-repartition") and `full_name(application_id)` adds it.
// Changelog topics are `<application.id>-<store>-changelog`.
//
// Thread-safety: immutable after build(); share it freely (tasks instantiate their own nodes).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kstreams/common/status.h"
#include "kstreams/state/store.h"
#include "kstreams/topology/internal/graph.h"

namespace kstreams {

struct TopicName {
  std::string name;
  bool internal = false;
  [[nodiscard]] std::string full_name(const std::string& application_id) const {
    return internal ? application_id + "-" + name : name;
  }
  bool operator==(const TopicName&) const = default;
  auto operator<=>(const TopicName&) const = default;
};

[[nodiscard]] std::string changelog_topic(const std::string& application_id, const std::string& store);

class Topology {
 public:
  struct Subtopology {
    int32_t id = 0;
    std::vector<std::string> nodes;  // in creation order
    std::vector<TopicName> source_topics;
    std::vector<TopicName> sink_topics;
    std::vector<state::StoreSpec> stores;
  };
  struct RepartitionTopic {
    TopicName topic;
    int32_t partitions = 0;  // 0: take the maximum partition count of the producing subtopology's sources
    int32_t producer_subtopology = -1;
    int32_t consumer_subtopology = -1;
  };
  struct GlobalStore {
    state::StoreSpec spec;
    std::string topic;  // every partition of it feeds every instance's copy
  };

  explicit Topology(internal::Graph graph);  // validates; throws TopologyException

  [[nodiscard]] const std::vector<Subtopology>& subtopologies() const { return subtopologies_; }
  [[nodiscard]] const std::vector<RepartitionTopic>& repartition_topics() const { return repartitions_; }
  // Groups of source topics that must have the same partition count (the inputs of joins).
  [[nodiscard]] const std::vector<std::vector<TopicName>>& copartition_groups() const { return copartition_groups_; }
  [[nodiscard]] const std::vector<GlobalStore>& global_stores() const { return global_stores_; }
  // Changelog topics (full names) of every logged store with the subtopology owning it.
  [[nodiscard]] std::map<std::string, int32_t> changelog_topics(const std::string& application_id) const;
  // Every user topic read (sources of subtopologies and global stores).
  [[nodiscard]] std::vector<std::string> user_source_topics() const;

  // The partition count of every topic the topology reads or writes internally (full names): user
  // source topics as given in `user_topic_partitions`, repartition topics user-given or derived,
  // changelogs as their subtopology's. kFailedPrecondition when a user topic is missing or a
  // co-partition group disagrees.
  [[nodiscard]] absl::StatusOr<std::map<std::string, int32_t>> resolve_partitions(
      const std::string& application_id, const std::map<std::string, int32_t>& user_topic_partitions) const;

  // Kafka Streams' TopologyDescription text, Graphviz DOT, and a Mermaid flowchart.
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] std::string to_dot() const;
  [[nodiscard]] std::string to_mermaid() const;

  // Internal (tasks): the node specs by name and in creation order.
  [[nodiscard]] const internal::NodeSpec& node(const std::string& name) const;
  [[nodiscard]] const std::vector<internal::NodeSpec>& nodes() const { return graph_.nodes; }
  [[nodiscard]] const internal::Graph& graph() const { return graph_; }

 private:
  void validate() const;
  void compute_subtopologies();
  void compute_copartition_groups();
  [[nodiscard]] std::vector<std::string> children_of(const std::string& node) const;
  [[nodiscard]] std::vector<TopicName> sources_feeding(const std::string& node) const;
  [[nodiscard]] const internal::NodeSpec& node_spec_or_throw(const std::string& name) const;

  internal::Graph graph_;
  std::map<std::string, size_t> index_;
  std::vector<Subtopology> subtopologies_;
  std::vector<RepartitionTopic> repartitions_;
  std::vector<std::vector<TopicName>> copartition_groups_;
  std::vector<GlobalStore> global_stores_;
};

}  // namespace kstreams
