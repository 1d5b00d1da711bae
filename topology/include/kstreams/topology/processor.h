// The Processor API: user-defined processors with access to the record's metadata, typed state
// stores, punctuators on stream time or wall-clock time, and forwarding to all or one named child.
//
//   class Dedup : public kstreams::Processor<std::string, Order, std::string, Order> {
//     void init(kstreams::ProcessorContext<std::string, Order>& ctx) override {
//       ctx_ = &ctx; seen_ = ctx.get_key_value_store<std::string, int64_t>("seen");
//       ctx.schedule(std::chrono::seconds(10), kstreams::PunctuationType::kWallClockTime, [this](auto now) {...});
//     }
//     void process(const kstreams::Record<std::string, Order>& r) override { ... ctx_->forward(r); }
//   };
//   stream.process([] { return std::make_unique<Dedup>(); }, {"seen"});
//
// Lifetime: one processor instance per task, created by the supplier when the task starts; init()
// before the first record, close() when the task closes. The context outlives the processor's use
// of it. Thread-safety: all calls come from the task's thread. Throwing from process() is a
// processing error handled by the task's policy (ProcessingException names the dead-letter code).
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kstreams/topology/internal/node.h"
#include "kstreams/topology/topology_exception.h"
#include "kstreams/topology/typed_stores.h"

namespace kstreams {

// Thrown by user code to fail the current record with a code for the dead-letter `dlq.error` header.
class ProcessingException : public std::runtime_error {
 public:
  ProcessingException(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  [[nodiscard]] const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// A scheduled punctuator; cancel() stops it. Valid while the task runs.
class Cancellable {
 public:
  Cancellable() = default;
  Cancellable(internal::TaskContext* ctx, int64_t id) : ctx_(ctx), id_(id) {}
  void cancel() {
    if (ctx_) ctx_->cancel_punctuator(id_);
    ctx_ = nullptr;
  }

 private:
  internal::TaskContext* ctx_ = nullptr;
  int64_t id_ = -1;
};

template <typename KOut, typename VOut>
class ProcessorContext {
 public:
  ProcessorContext(internal::TaskContext& task, const internal::Forwarder<KOut, VOut>& out) : task_(task), out_(out) {}
  ProcessorContext(const ProcessorContext&) = delete;
  ProcessorContext& operator=(const ProcessorContext&) = delete;

  void forward(const Record<KOut, VOut>& r) const { out_.forward(r); }
  // Forwards to the child processor named `child` only (KSTREAMS_CHECK: it must exist).
  void forward(const Record<KOut, VOut>& r, std::string_view child) const {
    KSTREAMS_CHECK(out_.forward_to(child, r), "forward to an unknown child");
  }
  // Topic, partition and offset of the record being processed (empty topic inside a punctuator).
  [[nodiscard]] const RecordMetadata& record_metadata() const { return task_.record_metadata(); }
  [[nodiscard]] TimestampMs current_stream_time_ms() const { return task_.stream_time(); }
  [[nodiscard]] TimestampMs current_system_time_ms() const { return task_.wall_clock_ms(); }
  [[nodiscard]] TaskId task_id() const { return task_.task_id(); }
  [[nodiscard]] const std::string& application_id() const { return task_.application_id(); }

  // A typed view of the key-value store `name` (connected to this processor in process(..., stores)).
  // Serdes default to default_serde<K/V>(). Returns null when no such key-value store exists.
  template <typename K, typename V>
  KeyValueStore<K, V>* get_key_value_store(std::string_view name, SerdePtr<K> ks = default_serde<K>(),
                                           SerdePtr<V> vs = default_serde<V>()) {
    auto* bytes = dynamic_cast<state::KeyValueBytesStore*>(task_.store(name));
    if (!bytes) return nullptr;
    auto view = std::make_shared<KeyValueStore<K, V>>(bytes, std::move(ks), std::move(vs));
    views_.push_back(view);
    return view.get();
  }
  template <typename K, typename V>
  WindowStore<K, V>* get_window_store(std::string_view name, SerdePtr<K> ks = default_serde<K>(),
                                      SerdePtr<V> vs = default_serde<V>()) {
    auto* bytes = dynamic_cast<state::WindowBytesStore*>(task_.store(name));
    if (!bytes) return nullptr;
    auto view = std::make_shared<WindowStore<K, V>>(bytes, std::move(ks), std::move(vs));
    views_.push_back(view);
    return view.get();
  }
  // The byte store, for stores without a typed view.
  [[nodiscard]] state::StateStore* get_state_store(std::string_view name) { return task_.store(name); }

  // Stream-time punctuators fire when stream time passes each interval boundary (once per
  // advance, even if several intervals passed); wall-clock ones when the task is punctuated with a
  // wall-clock time at or after their next due time.
  Cancellable schedule(std::chrono::milliseconds interval, PunctuationType type, Punctuator fn) {
    return Cancellable(&task_, task_.schedule(interval, type, std::move(fn)));
  }
  // Asks the runtime to commit soon (after the current record).
  void commit() { task_.request_commit(); }

 private:
  internal::TaskContext& task_;
  const internal::Forwarder<KOut, VOut>& out_;
  std::vector<std::shared_ptr<void>> views_;  // typed views handed out (created in init, not per record)
};

template <typename KIn, typename VIn, typename KOut, typename VOut>
class Processor {
 public:
  using KeyIn = KIn;
  using ValueIn = VIn;
  using KeyOut = KOut;
  using ValueOut = VOut;
  virtual ~Processor() = default;
  virtual void init(ProcessorContext<KOut, VOut>& context) { (void)context; }
  virtual void process(const Record<KIn, VIn>& record) = 0;
  virtual void close() {}
};

namespace internal {

template <typename KIn, typename VIn, typename KOut, typename VOut>
class UserProcessorNode final : public Node<KIn, VIn, KOut, VOut> {
 public:
  UserProcessorNode(std::string name, std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> p)
      : Node<KIn, VIn, KOut, VOut>(std::move(name)), processor_(std::move(p)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    context_ = std::make_unique<ProcessorContext<KOut, VOut>>(ctx, this->out_);
    processor_->init(*context_);
  }
  void process(const Record<KIn, VIn>& r) override { processor_->process(r); }
  void close() override { processor_->close(); }

 private:
  std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor_;
  std::unique_ptr<ProcessorContext<KOut, VOut>> context_;
};

}  // namespace internal
}  // namespace kstreams
