#include "kstreams/topology/topology.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <set>
#include <sstream>

#include "kstreams/topology/topology_exception.h"

namespace kstreams {

std::string changelog_topic(const std::string& application_id, const std::string& store) {
  return application_id + "-" + store + "-changelog";
}

namespace {

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

}  // namespace

Topology::Topology(internal::Graph graph) : graph_(std::move(graph)) {
  if (!graph_.errors.empty()) throw TopologyException(graph_.errors.front());
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    if (!index_.emplace(graph_.nodes[i].name, i).second) {
      throw TopologyException("duplicate processor name '" + graph_.nodes[i].name + "'");
    }
  }
  validate();
  compute_subtopologies();
  compute_copartition_groups();
  for (const auto& g : graph_.globals) global_stores_.push_back({g.spec, g.topic});
}

const internal::NodeSpec& Topology::node(const std::string& name) const {
  auto it = index_.find(name);
  KSTREAMS_CHECK(it != index_.end(), "unknown node");
  return graph_.nodes[it->second];
}

void Topology::validate() const {
  if (graph_.nodes.empty() && graph_.globals.empty()) throw TopologyException("the topology has no source");
  std::set<std::string> source_topics;
  for (const auto& n : graph_.nodes) {
    for (const auto& p : n.parents) {
      if (!index_.count(p)) throw TopologyException("node '" + n.name + "' has unknown parent '" + p + "'");
    }
    for (const auto& s : n.stores) {
      if (!graph_.stores.count(s)) throw TopologyException("node '" + n.name + "' uses unknown store '" + s + "'");
    }
    if (n.kind == internal::NodeKind::kSource) {
      for (const auto& t : n.topics) {
        if (!source_topics.insert(t).second) {
          throw TopologyException("topic '" + t + "' is read by more than one source");
        }
      }
    }
  }
  std::set<std::string> names;
  for (const auto& [name, spec] : graph_.stores) names.insert(name);
  for (const auto& g : graph_.globals) {
    if (!names.insert(g.spec.name).second) throw TopologyException("duplicate store name '" + g.spec.name + "'");
    if (!source_topics.insert(g.topic).second) {
      throw TopologyException("topic '" + g.topic + "' is read by more than one source");
    }
  }
}

std::vector<std::string> Topology::children_of(const std::string& node) const {
  std::vector<std::string> out;
  for (const auto& n : graph_.nodes) {
    if (std::find(n.parents.begin(), n.parents.end(), node) != n.parents.end()) out.push_back(n.name);
  }
  return out;
}

void Topology::compute_subtopologies() {
  // Union-find over parent edges and shared stores: nodes connected either way run in one task.
  const size_t n = graph_.nodes.size();
  std::vector<size_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  std::function<size_t(size_t)> find = [&](size_t x) { return parent[x] == x ? x : parent[x] = find(parent[x]); };
  auto unite = [&](size_t a, size_t b) { parent[find(a)] = find(b); };
  std::map<std::string, size_t> store_owner;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& p : graph_.nodes[i].parents) unite(i, index_.at(p));
    for (const auto& s : graph_.nodes[i].stores) {
      auto [it, fresh] = store_owner.emplace(s, i);
      if (!fresh) unite(i, it->second);
    }
  }
  std::map<size_t, int32_t> root_to_id;
  for (size_t i = 0; i < n; ++i) {
    size_t root = find(i);
    auto [it, fresh] = root_to_id.emplace(root, static_cast<int32_t>(subtopologies_.size()));
    if (fresh) subtopologies_.push_back(Subtopology{it->second, {}, {}, {}, {}});
    Subtopology& sub = subtopologies_[it->second];
    const auto& spec = graph_.nodes[i];
    sub.nodes.push_back(spec.name);
    if (spec.kind == internal::NodeKind::kSource) {
      for (const auto& t : spec.topics) sub.source_topics.push_back({t, spec.internal_topic});
    } else if (spec.kind == internal::NodeKind::kSink) {
      sub.sink_topics.push_back({spec.topics.at(0), spec.internal_topic});
    }
    for (const auto& s : spec.stores) {
      const bool seen = std::any_of(sub.stores.begin(), sub.stores.end(), [&](auto& x) { return x.name == s; });
      if (!seen) sub.stores.push_back(graph_.stores.at(s));
    }
  }
  for (const auto& r : graph_.repartitions) {
    RepartitionTopic rt{{r.topic, true}, r.partitions, -1, -1};
    for (const auto& sub : subtopologies_) {
      for (const auto& node : sub.nodes) {
        if (node == r.sink_node) rt.producer_subtopology = sub.id;
        if (node == r.source_node) rt.consumer_subtopology = sub.id;
      }
    }
    repartitions_.push_back(rt);
  }
}

std::vector<TopicName> Topology::sources_feeding(const std::string& node) const {
  std::vector<TopicName> out;
  std::set<std::string> seen;
  std::vector<std::string> todo{node};
  while (!todo.empty()) {
    std::string cur = todo.back();
    todo.pop_back();
    if (!seen.insert(cur).second) continue;
    const auto& spec = node_spec_or_throw(cur);
    if (spec.kind == internal::NodeKind::kSource) {
      for (const auto& t : spec.topics) out.push_back({t, spec.internal_topic});
    }
    for (const auto& p : spec.parents) todo.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

const internal::NodeSpec& Topology::node_spec_or_throw(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw TopologyException("unknown node '" + name + "'");
  return graph_.nodes[it->second];
}

void Topology::compute_copartition_groups() {
  for (const auto& req : graph_.copartitions) {
    std::vector<TopicName> group = sources_feeding(req.left_node);
    for (auto& t : sources_feeding(req.right_node)) group.push_back(t);
    std::sort(group.begin(), group.end());
    group.erase(std::unique(group.begin(), group.end()), group.end());
    // Repartition topics with explicit, different partition counts can never be co-partitioned.
    int32_t explicit_count = 0;
    for (const auto& t : group) {
      for (const auto& r : repartitions_) {
        if (r.topic == t && r.partitions > 0) {
          if (explicit_count > 0 && explicit_count != r.partitions) {
            throw TopologyException("join '" + req.join_node +
                                    "' reads repartition topics with different partition counts (" +
                                    std::to_string(explicit_count) + " and " + std::to_string(r.partitions) +
                                    "): its inputs cannot be co-partitioned");
          }
          explicit_count = r.partitions;
        }
      }
    }
    if (std::find(copartition_groups_.begin(), copartition_groups_.end(), group) == copartition_groups_.end()) {
      copartition_groups_.push_back(group);
    }
  }
}

std::map<std::string, int32_t> Topology::changelog_topics(const std::string& application_id) const {
  std::map<std::string, int32_t> out;
  for (const auto& sub : subtopologies_) {
    for (const auto& s : sub.stores) {
      if (s.logging) out[changelog_topic(application_id, s.name)] = sub.id;
    }
  }
  return out;
}

std::vector<std::string> Topology::user_source_topics() const {
  std::set<std::string> out;
  for (const auto& sub : subtopologies_) {
    for (const auto& t : sub.source_topics) {
      if (!t.internal) out.insert(t.name);
    }
  }
  for (const auto& g : global_stores_) out.insert(g.topic);
  return {out.begin(), out.end()};
}

absl::StatusOr<std::map<std::string, int32_t>> Topology::resolve_partitions(
    const std::string& app, const std::map<std::string, int32_t>& user) const {
  std::map<std::string, int32_t> out;
  for (const auto& t : user_source_topics()) {
    auto it = user.find(t);
    if (it == user.end() || it->second <= 0)
      return absl::FailedPreconditionError("source topic '" + t + "' does not exist");
    out[t] = it->second;
  }
  // Repartition topics: explicit, else the max over the producing subtopology's sources (which may
  // themselves be repartition topics: iterate until stable).
  std::map<std::string, int32_t> rep;
  for (const auto& r : repartitions_) {
    if (r.partitions > 0) rep[r.topic.name] = r.partitions;
  }
  for (size_t round = 0; round <= repartitions_.size(); ++round) {
    for (const auto& r : repartitions_) {
      if (rep.count(r.topic.name) || r.producer_subtopology < 0) continue;
      int32_t n = 0;
      bool known = true;
      for (const auto& t : subtopologies_[r.producer_subtopology].source_topics) {
        auto src = t.internal ? rep.find(t.name) : out.find(t.name);
        if (src == (t.internal ? rep.end() : out.end())) {
          known = false;
          break;
        }
        n = std::max(n, src->second);
      }
      if (known && n > 0) rep[r.topic.name] = n;
    }
  }
  // Co-partition groups: derived repartition topics follow the group's user topics.
  for (const auto& group : copartition_groups_) {
    int32_t want = 0;
    std::string first;
    for (const auto& t : group) {
      const bool derived = t.internal && std::none_of(repartitions_.begin(), repartitions_.end(),
                                                      [&](auto& r) { return r.topic == t && r.partitions > 0; });
      if (derived) continue;
      int32_t n = t.internal ? rep[t.name] : out[t.name];
      if (want == 0) {
        want = n;
        first = t.name;
      } else if (n != want) {
        return absl::FailedPreconditionError("topics '" + first + "' (" + std::to_string(want) + " partitions) and '" +
                                             t.name + "' (" + std::to_string(n) +
                                             " partitions) must be co-partitioned for a join");
      }
    }
    if (want > 0) {
      for (const auto& t : group) {
        if (t.internal) rep[t.name] = std::max(rep[t.name], want);
      }
    }
  }
  for (const auto& r : repartitions_) {
    if (!rep.count(r.topic.name)) return absl::FailedPreconditionError("cannot derive partitions of " + r.topic.name);
    out[r.topic.full_name(app)] = rep[r.topic.name];
  }
  for (const auto& sub : subtopologies_) {
    int32_t n = 0;
    for (const auto& t : sub.source_topics) n = std::max(n, t.internal ? rep[t.name] : out[t.name]);
    for (const auto& s : sub.stores) {
      if (s.logging) out[changelog_topic(app, s.name)] = n;
    }
  }
  return out;
}

std::string Topology::describe() const {
  std::ostringstream o;
  o << "Topologies:\n";
  for (const auto& sub : subtopologies_) {
    o << "   Sub-topology: " << sub.id << "\n";
    for (const auto& name : sub.nodes) {
      const auto& n = node(name);
      std::vector<std::string> kids = children_of(name);
      switch (n.kind) {
        case internal::NodeKind::kSource:
          o << "    Source: " << name << " (topics: [" << join_names(n.topics) << "])\n";
          break;
        case internal::NodeKind::kProcessor:
          o << "    Processor: " << name << " (stores: [" << join_names(n.stores) << "])\n";
          break;
        case internal::NodeKind::kSink:
          o << "    Sink: " << name << " (topic: " << n.topics.at(0) << ")\n";
          break;
      }
      if (n.kind != internal::NodeKind::kSink) o << "      --> " << (kids.empty() ? "none" : join_names(kids)) << "\n";
      if (n.kind != internal::NodeKind::kSource) o << "      <-- " << join_names(n.parents) << "\n";
    }
    o << "\n";
  }
  int32_t gid = static_cast<int32_t>(subtopologies_.size());
  for (const auto& g : graph_.globals) {
    o << "   Sub-topology: " << gid++ << " for global store (will not generate tasks)\n";
    o << "    Source: " << g.source_node << " (topics: [" << g.topic << "])\n";
    o << "      --> " << g.source_node << "-processor\n";
    o << "    Processor: " << g.source_node << "-processor (stores: [" << g.spec.name << "])\n";
    o << "      --> none\n      <-- " << g.source_node << "\n\n";
  }
  return o.str();
}

std::string Topology::to_dot() const {
  std::ostringstream o;
  o << "digraph topology {\n  rankdir=LR;\n";
  for (const auto& sub : subtopologies_) {
    o << "  subgraph cluster_" << sub.id << " {\n    label=\"Sub-topology " << sub.id << "\";\n";
    for (const auto& name : sub.nodes) {
      const auto& n = node(name);
      const char* shape = n.kind == internal::NodeKind::kProcessor ? "box" : "ellipse";
      o << "    \"" << name << "\" [shape=" << shape << "];\n";
      for (const auto& s : n.stores) o << "    \"" << name << "\" -> \"store:" << s << "\" [style=dashed, dir=both];\n";
    }
    o << "  }\n";
  }
  for (const auto& n : graph_.nodes) {
    for (const auto& p : n.parents) o << "  \"" << p << "\" -> \"" << n.name << "\";\n";
    for (const auto& t : n.topics) {
      if (n.kind == internal::NodeKind::kSource) o << "  \"topic:" << t << "\" -> \"" << n.name << "\";\n";
      if (n.kind == internal::NodeKind::kSink) o << "  \"" << n.name << "\" -> \"topic:" << t << "\";\n";
    }
  }
  for (const auto& g : graph_.globals) o << "  \"topic:" << g.topic << "\" -> \"store:" << g.spec.name << "\";\n";
  o << "}\n";
  return o.str();
}

std::string Topology::to_mermaid() const {
  std::ostringstream o;
  std::map<std::string, std::string> ids;
  auto id = [&](const std::string& key) {
    auto [it, fresh] = ids.emplace(key, "n" + std::to_string(ids.size()));
    return it->second;
  };
  o << "flowchart LR\n";
  for (const auto& sub : subtopologies_) {
    o << "  subgraph sub" << sub.id << " [\"Sub-topology " << sub.id << "\"]\n";
    for (const auto& name : sub.nodes) o << "    " << id(name) << "[\"" << name << "\"]\n";
    o << "  end\n";
  }
  for (const auto& n : graph_.nodes) {
    for (const auto& p : n.parents) o << "  " << id(p) << " --> " << id(n.name) << "\n";
    for (const auto& t : n.topics) {
      std::string tid = id("topic:" + t);
      o << "  " << tid << "[(\"" << t << "\")]\n";
      if (n.kind == internal::NodeKind::kSource) o << "  " << tid << " --> " << id(n.name) << "\n";
      if (n.kind == internal::NodeKind::kSink) o << "  " << id(n.name) << " --> " << tid << "\n";
    }
    for (const auto& s : n.stores) o << "  " << id(n.name) << " -.- " << id("store:" + s) << "[(\"" << s << "\")]\n";
  }
  for (const auto& g : graph_.globals) {
    o << "  " << id("topic:" + g.topic) << "[(\"" << g.topic << "\")] --> " << id("store:" + g.spec.name) << "[(\""
      << g.spec.name << "\")]\n";
  }
  return o.str();
}

}  // namespace kstreams
