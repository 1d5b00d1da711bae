// Built-in stateful processor nodes: aggregations, tables, windowed aggregations and joins.
// Internal; instantiated by the DSL. Store errors fail the current record through TaskContext::fail.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kstreams/topology/internal/node.h"
#include "kstreams/topology/windows.h"

namespace kstreams::internal {

template <typename T>
bool decode(TaskContext* ctx, const SerdePtr<T>& serde, std::string_view bytes, T* out) {
  absl::Status st = serde->deserialize(bytes, out);
  if (!st.ok()) ctx->fail(st);
  return st.ok();
}

template <typename S>
S* find_store(TaskContext& ctx, const std::string& name) {
  auto* s = dynamic_cast<S*>(ctx.store(name));
  KSTREAMS_CHECK(s != nullptr, "a store of the topology is missing from the task");
  return s;
}

// Key-value aggregation: fn(key, value, optional old aggregate) -> new aggregate; forwards Change.
// count, reduce and aggregate are all this node (Kafka's KStreamAggregate / KStreamReduce).
template <typename K, typename V, typename VA, typename Fn>
class AggregateNode final : public Node<K, V, K, Change<VA>> {
 public:
  AggregateNode(std::string name, std::string store, SerdePtr<K> ks, SerdePtr<VA> vs, Fn fn)
      : Node<K, V, K, Change<VA>>(std::move(name)),
        store_name_(std::move(store)),
        ks_(std::move(ks)),
        vs_(std::move(vs)),
        fn_(std::move(fn)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::KeyValueBytesStore>(ctx, store_name_);
  }
  void process(const Record<K, V>& r) override {
    ks_->serialize(r.key, &kbuf_);
    auto old = store_->get(kbuf_);
    if (!old.ok()) return this->ctx_->fail(old.status());
    out_.key = r.key;
    out_.value.old_value.reset();
    if (*old) {
      VA prev{};
      if (!decode(this->ctx_, vs_, **old, &prev)) return;
      out_.value.old_value = std::move(prev);
    }
    out_.value.new_value = fn_(r.key, r.value, out_.value.old_value);
    vs_->serialize(*out_.value.new_value, &vbuf_);
    absl::Status st = store_->put(kbuf_, vbuf_);
    if (!st.ok()) return this->ctx_->fail(st);
    out_.timestamp = r.timestamp;
    out_.headers = r.headers;
    this->forward(out_);
  }

 private:
  std::string store_name_;
  SerdePtr<K> ks_;
  SerdePtr<VA> vs_;
  Fn fn_;
  state::KeyValueBytesStore* store_ = nullptr;
  std::string kbuf_, vbuf_;
  Record<K, Change<VA>> out_;
};

// Materializes a stream or a table's changes into a store and forwards Change with the old value
// (KStream::to_table, materialized KTable::filter/map_values). Deletions (nullopt) remove the key.
template <typename K, typename V>
class MaterializeNode final : public Node<K, Change<V>, K, Change<V>> {
 public:
  MaterializeNode(std::string name, std::string store, SerdePtr<K> ks, SerdePtr<V> vs)
      : Node<K, Change<V>, K, Change<V>>(std::move(name)),
        store_name_(std::move(store)),
        ks_(std::move(ks)),
        vs_(std::move(vs)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::KeyValueBytesStore>(ctx, store_name_);
  }
  void process(const Record<K, Change<V>>& r) override {
    ks_->serialize(r.key, &kbuf_);
    auto old = store_->get(kbuf_);
    if (!old.ok()) return this->ctx_->fail(old.status());
    out_.key = r.key;
    out_.value.old_value.reset();
    if (*old) {
      V prev{};
      if (!decode(this->ctx_, vs_, **old, &prev)) return;
      out_.value.old_value = std::move(prev);
    }
    out_.value.new_value = r.value.new_value;
    absl::Status st;
    if (r.value.new_value) {
      vs_->serialize(*r.value.new_value, &vbuf_);
      st = store_->put(kbuf_, vbuf_);
    } else {
      st = store_->remove(kbuf_);
    }
    if (!st.ok()) return this->ctx_->fail(st);
    out_.timestamp = r.timestamp;
    out_.headers = r.headers;
    this->forward(out_);
  }

 private:
  std::string store_name_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  state::KeyValueBytesStore* store_ = nullptr;
  std::string kbuf_, vbuf_;
  Record<K, Change<V>> out_;
};

// Tumbling/hopping window aggregation (Kafka's KStreamWindowAggregate). A record updates every
// window containing its timestamp that is still open (end > observed stream time - grace); a record
// for closed windows only is dropped and counted (reason "late"). Emit-on-update forwards each
// update; emit-on-close forwards each window once, when stream time reaches end + grace.
template <typename K, typename V, typename VA, typename Fn>
class WindowAggregateNode final : public Node<K, V, Windowed<K>, Change<VA>> {
 public:
  WindowAggregateNode(std::string name, std::string store, TimeWindows windows, EmitStrategy emit, SerdePtr<K> ks,
                      SerdePtr<VA> vs, Fn fn)
      : Node<K, V, Windowed<K>, Change<VA>>(std::move(name)),
        store_name_(std::move(store)),
        windows_(windows),
        emit_(emit),
        ks_(std::move(ks)),
        vs_(std::move(vs)),
        fn_(std::move(fn)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::WindowBytesStore>(ctx, store_name_);
    observed_ = ctx.progress(this->name() + ".observed", -1);
    emitted_up_to_ = ctx.progress(this->name() + ".emitted", -1);
  }
  void process(const Record<K, V>& r) override {
    *observed_ = std::max(*observed_, r.timestamp);
    // Emit windows this record closes before writing: the write advances the store's stream time,
    // which may expire them (retention is window size + grace by default).
    if (emit_ == EmitStrategy::kOnWindowClose) emit_closed();
    const TimestampMs close_time = windows_.close_time(*observed_);
    ks_->serialize(r.key, &kbuf_);
    bool any = false;
    bool failed = false;
    windows_.for_each_window_start(r.timestamp, [&](TimestampMs start) {
      if (failed) return;
      const TimestampMs end = windows_.window_end(start);
      if (end <= close_time) return;  // this window closed: the record is late for it
      any = true;
      auto old = store_->fetch(kbuf_, start);
      if (!old.ok()) {
        failed = true;
        return this->ctx_->fail(old.status());
      }
      std::optional<VA> prev;
      if (*old) {
        VA p{};
        if (!decode(this->ctx_, vs_, **old, &p)) {
          failed = true;
          return;
        }
        prev = std::move(p);
      }
      VA next = fn_(r.key, r.value, prev);
      vs_->serialize(next, &vbuf_);
      absl::Status st = store_->put(kbuf_, std::string_view(vbuf_), start);
      if (!st.ok()) {
        failed = true;
        return this->ctx_->fail(st);
      }
      if (emit_ == EmitStrategy::kOnWindowUpdate) {
        out_.key = Windowed<K>{r.key, start, end};
        out_.value.new_value = std::move(next);
        out_.value.old_value = std::move(prev);
        out_.timestamp = r.timestamp;
        out_.headers = r.headers;
        this->forward(out_);
      }
    });
    if (failed) return;
    if (!any) this->ctx_->record_dropped("late");
  }

 private:
  // Forwards every window with end + grace <= observed stream time not forwarded before.
  // Windows start only at multiples of advance_ms, so the scan runs once per window boundary that
  // stream time crosses, not on every record that advances it (a time-range scan of the store walks
  // every key of the segment; doing it per record made it the top hotspot of a windowed topology).
  void emit_closed() {
    const TimestampMs last_closed_start = windows_.last_closed_start(*observed_);  // aligned; -1: none
    if (last_closed_start < 0 || last_closed_start <= *emitted_up_to_) return;
    auto it = store_->fetch_all(*emitted_up_to_ + 1, last_closed_start);
    for (; it->valid(); it->next()) {
      const auto& e = it->entry();
      out_.key.start = e.window_start;
      out_.key.end = windows_.window_end(e.window_start);
      if (!decode(this->ctx_, ks_, e.key, &out_.key.key)) return;
      VA v{};
      if (!decode(this->ctx_, vs_, e.value, &v)) return;
      out_.value.new_value = std::move(v);
      out_.value.old_value.reset();
      out_.timestamp = out_.key.end - 1;
      out_.headers.clear();
      this->forward(out_);
    }
    if (!it->status().ok()) return this->ctx_->fail(it->status());
    *emitted_up_to_ = last_closed_start;
  }

  std::string store_name_;
  TimeWindows windows_;
  EmitStrategy emit_;
  SerdePtr<K> ks_;
  SerdePtr<VA> vs_;
  Fn fn_;
  state::WindowBytesStore* store_ = nullptr;
  // Task progress (TaskContext::progress): committed, rolled back and restored with the offsets.
  TimestampMs* observed_ = nullptr;       // the highest record timestamp this node has seen
  TimestampMs* emitted_up_to_ = nullptr;  // window starts <= this were emitted (emit-on-close)
  std::string kbuf_, vbuf_;
  Record<Windowed<K>, Change<VA>> out_;
};

// Session window aggregation (Kafka's KStreamSessionWindowAggregate): a record merges with every
// session of its key that ends within `gap` before it or starts within `gap` after it. The merged
// sessions are deleted (forwarded as deletions) and the new session is forwarded. A merged session
// ending before stream time - grace is late: the record is dropped and counted.
// agg(key, value, optional merged aggregate) -> VA; merge(key, a, b) -> VA.
template <typename K, typename V, typename VA, typename Agg, typename Merge>
class SessionWindowAggregateNode final : public Node<K, V, Windowed<K>, Change<VA>> {
 public:
  SessionWindowAggregateNode(std::string name, std::string store, SessionWindows windows, SerdePtr<K> ks,
                             SerdePtr<VA> vs, Agg agg, Merge merge)
      : Node<K, V, Windowed<K>, Change<VA>>(std::move(name)),
        store_name_(std::move(store)),
        windows_(windows),
        ks_(std::move(ks)),
        vs_(std::move(vs)),
        agg_(std::move(agg)),
        merge_(std::move(merge)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::SessionBytesStore>(ctx, store_name_);
    observed_ = ctx.progress(this->name() + ".observed", -1);
  }
  void process(const Record<K, V>& r) override {
    *observed_ = std::max(*observed_, r.timestamp);
    const TimestampMs close_time = saturating_sub(*observed_, windows_.grace_ms);
    ks_->serialize(r.key, &kbuf_);
    TimestampMs start = r.timestamp, end = r.timestamp;
    std::optional<VA> acc;
    merged_.clear();
    auto it = store_->find_sessions(kbuf_, saturating_sub(r.timestamp, windows_.gap_ms),
                                    saturating_add(r.timestamp, windows_.gap_ms));
    for (; it->valid(); it->next()) {
      const auto& e = it->entry();
      VA a{};
      if (!decode(this->ctx_, vs_, e.value, &a)) return;
      start = std::min(start, e.start);
      end = std::max(end, e.end);
      acc = acc ? merge_(r.key, *acc, a) : a;
      merged_.push_back({e.start, e.end, std::move(a)});
    }
    if (!it->status().ok()) return this->ctx_->fail(it->status());
    if (end < close_time) {
      this->ctx_->record_dropped("late");
      return;
    }
    for (auto& m : merged_) {
      absl::Status st = store_->remove(kbuf_, m.start, m.end);
      if (!st.ok()) return this->ctx_->fail(st);
      if (m.start == start && m.end == end) continue;  // replaced in place below
      forward_change(r, m.start, m.end, std::nullopt, std::move(m.value));
    }
    VA next = agg_(r.key, r.value, acc);
    vs_->serialize(next, &vbuf_);
    absl::Status st = store_->put(kbuf_, start, end, vbuf_);
    if (!st.ok()) return this->ctx_->fail(st);
    forward_change(r, start, end, std::move(next), std::nullopt);
  }

 private:
  struct Merged {
    TimestampMs start, end;
    VA value;
  };
  void forward_change(const Record<K, V>& r, TimestampMs start, TimestampMs end, std::optional<VA> now,
                      std::optional<VA> old) {
    out_.key = Windowed<K>{r.key, start, end};
    out_.value.new_value = std::move(now);
    out_.value.old_value = std::move(old);
    out_.timestamp = r.timestamp;
    out_.headers = r.headers;
    this->forward(out_);
  }

  std::string store_name_;
  SessionWindows windows_;
  SerdePtr<K> ks_;
  SerdePtr<VA> vs_;
  Agg agg_;
  Merge merge_;
  state::SessionBytesStore* store_ = nullptr;
  TimestampMs* observed_ = nullptr;  // task progress: the highest record timestamp seen
  std::string kbuf_, vbuf_;
  std::vector<Merged> merged_;
  Record<Windowed<K>, Change<VA>> out_;
};

// Sliding window aggregation (Kafka's sliding windows, computed by re-aggregation): the node keeps
// the records of the last `difference + grace` in `records_store` (a window store with duplicates,
// the record timestamp as start) and, for a new record at t, recomputes and forwards every window
// that contains t: its own window [t - d, t], the window right after it [t + 1, t + 1 + d] when a
// later record falls in it, the windows ending at later records r in [t, t + d], and the windows
// starting after earlier records r in [t - d - 1, t - 1]. Windows whose end + grace has passed are
// not updated; a record with t + d < stream time - grace is dropped and counted (late).
template <typename K, typename V, typename VA, typename Fn>
class SlidingWindowAggregateNode final : public Node<K, V, Windowed<K>, Change<VA>> {
 public:
  SlidingWindowAggregateNode(std::string name, std::string store, std::string records_store, SlidingWindows windows,
                             SerdePtr<K> ks, SerdePtr<V> vs, SerdePtr<VA> as, Fn fn)
      : Node<K, V, Windowed<K>, Change<VA>>(std::move(name)),
        store_name_(std::move(store)),
        records_name_(std::move(records_store)),
        windows_(windows),
        ks_(std::move(ks)),
        vs_(std::move(vs)),
        as_(std::move(as)),
        fn_(std::move(fn)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::WindowBytesStore>(ctx, store_name_);
    records_ = find_store<state::WindowBytesStore>(ctx, records_name_);
    observed_ = ctx.progress(this->name() + ".observed", -1);
  }
  void process(const Record<K, V>& r) override {
    const int64_t d = windows_.time_difference_ms;
    const TimestampMs t = r.timestamp;
    *observed_ = std::max(*observed_, t);
    const TimestampMs close_time = saturating_sub(*observed_, windows_.grace_ms);
    if (saturating_add(t, d) < close_time) {
      this->ctx_->record_dropped("late");
      return;
    }
    ks_->serialize(r.key, &kbuf_);
    vs_->serialize(r.value, &vbuf_);
    absl::Status st = records_->put(kbuf_, std::string_view(vbuf_), t);
    if (!st.ok()) return this->ctx_->fail(st);
    // Timestamps of this key's records around t.
    std::vector<TimestampMs> around;
    auto it = records_->fetch(kbuf_, saturating_sub(t, d + 1), saturating_add(t, d + 1));
    for (; it->valid(); it->next()) around.push_back(it->entry().window_start);
    if (!it->status().ok()) return this->ctx_->fail(it->status());
    std::vector<TimestampMs> starts{saturating_sub(t, d)};
    for (TimestampMs x : around) {
      if (x > t && x <= saturating_add(t, d + 1)) starts.push_back(t + 1);              // right window of t
      if (x >= t && x <= saturating_add(t, d)) starts.push_back(saturating_sub(x, d));  // ending at later records
      if (x >= saturating_sub(t, d + 1) && x <= t - 1) starts.push_back(x + 1);         // after earlier records
    }
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    for (TimestampMs start : starts) {
      if (start < 0 || saturating_add(start, d) < t || (start > t && start != t + 1)) continue;  // t's windows
      if (saturating_add(saturating_add(start, d), windows_.grace_ms) < *observed_) continue;    // closed
      if (!update_window(r, start)) return;
    }
  }

 private:
  // Re-aggregates the records of window [start, start + d] and forwards the new result.
  bool update_window(const Record<K, V>& r, TimestampMs start) {
    const TimestampMs end = saturating_add(start, windows_.time_difference_ms);
    std::optional<VA> acc;
    auto it = records_->fetch(kbuf_, start, end);
    V v{};
    for (; it->valid(); it->next()) {
      if (!decode(this->ctx_, vs_, it->entry().value, &v)) return false;
      acc = fn_(r.key, v, acc);
    }
    if (!it->status().ok()) {
      this->ctx_->fail(it->status());
      return false;
    }
    if (!acc) return true;
    auto old = store_->fetch(kbuf_, start);
    if (!old.ok()) {
      this->ctx_->fail(old.status());
      return false;
    }
    out_.value.old_value.reset();
    if (*old) {
      VA p{};
      if (!decode(this->ctx_, as_, **old, &p)) return false;
      out_.value.old_value = std::move(p);
    }
    as_->serialize(*acc, &abuf_);
    absl::Status st = store_->put(kbuf_, std::string_view(abuf_), start);
    if (!st.ok()) {
      this->ctx_->fail(st);
      return false;
    }
    out_.key = Windowed<K>{r.key, start, end};
    out_.value.new_value = std::move(acc);
    out_.timestamp = r.timestamp;
    out_.headers = r.headers;
    this->forward(out_);
    return true;
  }

  std::string store_name_, records_name_;
  SlidingWindows windows_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  SerdePtr<VA> as_;
  Fn fn_;
  state::WindowBytesStore* store_ = nullptr;
  state::WindowBytesStore* records_ = nullptr;
  TimestampMs* observed_ = nullptr;  // task progress: the highest record timestamp seen
  std::string kbuf_, vbuf_, abuf_;
  Record<Windowed<K>, Change<VA>> out_;
};

// KStream-KTable join: looks the stream key up in the table's store (Kafka's KStreamKTableJoin).
// Inner: no match, no output. Left: joiner gets nullopt. Table updates never trigger output.
template <typename K, typename V, typename VT, typename VR, typename Fn>
class StreamTableJoinNode final : public Node<K, V, K, VR> {
 public:
  StreamTableJoinNode(std::string name, std::string store, bool left, SerdePtr<K> ks, SerdePtr<VT> vts, Fn fn)
      : Node<K, V, K, VR>(std::move(name)),
        store_name_(std::move(store)),
        left_(left),
        ks_(std::move(ks)),
        vts_(std::move(vts)),
        fn_(std::move(fn)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    store_ = find_store<state::KeyValueBytesStore>(ctx, store_name_);
  }
  void process(const Record<K, V>& r) override {
    ks_->serialize(r.key, &kbuf_);
    auto found = store_->get(kbuf_);
    if (!found.ok()) return this->ctx_->fail(found.status());
    table_value_.reset();
    if (*found) {
      VT t{};
      if (!decode(this->ctx_, vts_, **found, &t)) return;
      table_value_ = std::move(t);
    } else if (!left_) {
      return;
    }
    out_.key = r.key;
    out_.value = fn_(r.value, table_value_);
    out_.timestamp = r.timestamp;
    out_.headers = r.headers;
    this->forward(out_);
  }

 private:
  std::string store_name_;
  bool left_;
  SerdePtr<K> ks_;
  SerdePtr<VT> vts_;
  Fn fn_;
  state::KeyValueBytesStore* store_ = nullptr;
  std::string kbuf_;
  std::optional<VT> table_value_;
  Record<K, VR> out_;
};

}  // namespace kstreams::internal
