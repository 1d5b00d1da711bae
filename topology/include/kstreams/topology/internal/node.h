// Processor nodes: the instantiated graph of one task. Internal to kstreams (used by the DSL's
// templates and the runtime's tasks); applications use the DSL or the Processor API instead.
//
// A node receives `const Record<K, V>&` through a virtual call and forwards to its typed children
// directly: records stay typed inside a subtopology and nothing is allocated per record by the
// framework. Nodes are created per task from the factories in the Topology and connected by the task
// (children in the order they were added to the topology). Thread-compatible (one task, one thread).
#pragma once

#include <functional>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kstreams/common/status.h"
#include "kstreams/topology/internal/task_context.h"
#include "kstreams/topology/record.h"

namespace kstreams::internal {

class NodeBase {
 public:
  explicit NodeBase(std::string name) : name_(std::move(name)) {}
  virtual ~NodeBase() = default;
  NodeBase(const NodeBase&) = delete;
  NodeBase& operator=(const NodeBase&) = delete;

  // Called once, before the first record, after the children are connected.
  virtual void init(TaskContext& ctx) { ctx_ = &ctx; }
  // Commit phase 1: emit anything the node buffers.
  virtual void flush() {}
  virtual void close() {}
  // Connects a child; the types must match (the DSL guarantees it; checked once here).
  virtual void add_child(NodeBase* child) {
    (void)child;
    KSTREAMS_CHECK(false, "this node has no output");
  }
  [[nodiscard]] const std::string& name() const { return name_; }

 protected:
  TaskContext* ctx_ = nullptr;

 private:
  std::string name_;
};

template <typename K, typename V>
class Receiver : public NodeBase {
 public:
  using NodeBase::NodeBase;
  virtual void process(const Record<K, V>& record) = 0;
};

// The typed children of a node.
template <typename K, typename V>
class Forwarder {
 public:
  void add(NodeBase* child) {
    auto* typed = dynamic_cast<Receiver<K, V>*>(child);
    KSTREAMS_CHECK(typed != nullptr, "child node input type does not match the parent's output");
    children_.push_back(typed);
  }
  void forward(const Record<K, V>& r) const {
    for (auto* c : children_) c->process(r);
  }
  // Forwards to the child named `child` only; false when there is none.
  bool forward_to(std::string_view child, const Record<K, V>& r) const {
    for (auto* c : children_) {
      if (c->name() == child) {
        c->process(r);
        return true;
      }
    }
    return false;
  }
  void forward_to_index(size_t i, const Record<K, V>& r) const {
    if (i < children_.size()) children_[i]->process(r);
  }
  [[nodiscard]] size_t size() const { return children_.size(); }

 private:
  std::vector<Receiver<K, V>*> children_;
};

template <typename KIn, typename VIn, typename KOut, typename VOut>
class Node : public Receiver<KIn, VIn> {
 public:
  using Receiver<KIn, VIn>::Receiver;
  void add_child(NodeBase* child) override { out_.add(child); }

 protected:
  void forward(const Record<KOut, VOut>& r) const { out_.forward(r); }
  Forwarder<KOut, VOut> out_;
};

// A node whose behaviour is a callable `fn(const Record<KIn,VIn>&, const Forwarder<KOut,VOut>&)`:
// every stateless operator is one of these.
template <typename KIn, typename VIn, typename KOut, typename VOut, typename Fn>
class FnNode final : public Node<KIn, VIn, KOut, VOut> {
 public:
  FnNode(std::string name, Fn fn) : Node<KIn, VIn, KOut, VOut>(std::move(name)), fn_(std::move(fn)) {}
  void process(const Record<KIn, VIn>& r) override { fn_(r, this->out_); }

 private:
  Fn fn_;
};

// Entry point of a task for one source topic: deserializes and forwards.
class SourceNodeBase : public NodeBase {
 public:
  using NodeBase::NodeBase;
  void set_timestamp_extractor(std::function<TimestampMs(const RawRecord&, TimestampMs)> extractor) {
    extractor_ = std::move(extractor);
  }
  // The record's event time (the extractor's, else the record timestamp); < 0 means drop it.
  [[nodiscard]] TimestampMs extract_timestamp(const RawRecord& raw, TimestampMs partition_time) const {
    return extractor_ ? extractor_(raw, partition_time) : raw.timestamp;
  }
  // kDataLoss when the key or value cannot be deserialized (nothing is forwarded then).
  [[nodiscard]] virtual absl::Status process_raw(const RawRecord& raw) = 0;

 private:
  std::function<TimestampMs(const RawRecord&, TimestampMs)> extractor_;
};

template <typename K, typename V>
class SourceNode final : public SourceNodeBase {
 public:
  SourceNode(std::string name, SerdePtr<K> ks, SerdePtr<V> vs)
      : SourceNodeBase(std::move(name)), ks_(std::move(ks)), vs_(std::move(vs)) {}
  void add_child(NodeBase* child) override { out_.add(child); }
  // A Kafka null key or value becomes a default-constructed K or V (documented in docs/dsl.md);
  // table sources see null values as deletions before this node (KTableSourceNode).
  [[nodiscard]] absl::Status process_raw(const RawRecord& raw) override {
    if (raw.key) {
      KSTREAMS_RETURN_IF_ERROR(ks_->deserialize(*raw.key, &rec_.key));
    } else {
      rec_.key = K{};
    }
    if (raw.value) {
      KSTREAMS_RETURN_IF_ERROR(vs_->deserialize(*raw.value, &rec_.value));
    } else {
      rec_.value = V{};
    }
    rec_.timestamp = raw.timestamp;
    rec_.headers = raw.headers;
    out_.forward(rec_);
    return absl::OkStatus();
  }

 private:
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  Forwarder<K, V> out_;
  Record<K, V> rec_;  // reused: deserializing into it keeps its buffers (no allocation per record)
};

// A table source: null values are deletions. Forwards Change<V> (old value from the store when
// materialized, nullopt otherwise).
template <typename K, typename V>
class TableSourceNode final : public SourceNodeBase {
 public:
  TableSourceNode(std::string name, SerdePtr<K> ks, SerdePtr<V> vs, std::string store)
      : SourceNodeBase(std::move(name)), ks_(std::move(ks)), vs_(std::move(vs)), store_name_(std::move(store)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    if (!store_name_.empty()) {
      store_ = dynamic_cast<state::KeyValueBytesStore*>(ctx.store(store_name_));
      KSTREAMS_CHECK(store_ != nullptr, "table source store missing");
    }
  }
  void add_child(NodeBase* child) override { out_.add(child); }
  [[nodiscard]] absl::Status process_raw(const RawRecord& raw) override {
    if (!raw.key) {
      ctx_->record_dropped("null_key");
      return absl::OkStatus();
    }
    KSTREAMS_RETURN_IF_ERROR(ks_->deserialize(*raw.key, &rec_.key));
    rec_.value.new_value.reset();
    rec_.value.old_value.reset();
    if (raw.value) {
      V v{};
      KSTREAMS_RETURN_IF_ERROR(vs_->deserialize(*raw.value, &v));
      rec_.value.new_value = std::move(v);
    }
    if (store_) {
      auto old = store_->get(*raw.key);
      if (!old.ok()) return old.status();
      if (*old) {
        V ov{};
        KSTREAMS_RETURN_IF_ERROR(vs_->deserialize(**old, &ov));
        rec_.value.old_value = std::move(ov);
      }
      absl::Status st = raw.value ? store_->put(*raw.key, *raw.value) : store_->remove(*raw.key);
      KSTREAMS_RETURN_IF_ERROR(st);
    }
    rec_.timestamp = raw.timestamp;
    rec_.headers = raw.headers;
    out_.forward(rec_);
    return absl::OkStatus();
  }

 private:
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  std::string store_name_;
  state::KeyValueBytesStore* store_ = nullptr;
  Forwarder<K, Change<V>> out_;
  Record<K, Change<V>> rec_;
};

// Serializes and hands the record to the task's collector. Topic names are resolved at init
// (internal topics get the application.id prefix).
template <typename K, typename V>
class SinkNode final : public Receiver<K, V> {
 public:
  SinkNode(std::string name, std::string topic, bool internal, SerdePtr<K> ks, SerdePtr<V> vs)
      : Receiver<K, V>(std::move(name)),
        topic_(std::move(topic)),
        internal_(internal),
        ks_(std::move(ks)),
        vs_(std::move(vs)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    resolved_ = ctx.resolve_topic(topic_, internal_);
  }
  void process(const Record<K, V>& r) override {
    std::string k;
    std::string v;
    ks_->serialize(r.key, &k);
    vs_->serialize(r.value, &v);
    this->ctx_->send(resolved_, std::move(k), std::move(v), r.headers, r.timestamp, -1);
  }

 private:
  std::string topic_;
  bool internal_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  std::string resolved_;
};

}  // namespace kstreams::internal
