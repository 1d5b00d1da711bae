// Join processor nodes for stream-stream (windowed) and table-table joins. Internal.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kstreams/topology/internal/stateful_nodes.h"

namespace kstreams::internal {

inline void append_be64(int64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
}
inline int64_t read_be64(std::string_view b) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return static_cast<int64_t>(v);
}

// One side of a windowed stream-stream join (Kafka's KStreamKStreamJoin). Each side stores its
// records in its window store (duplicates kept, the record timestamp as window start) and looks the
// other side's store up for records with t_other in [t - before, t + after] (this side's view).
// Matches are forwarded at once with timestamp max(t, t_other). For left/outer joins an unmatched
// record waits in the shared "outer" store and is forwarded with nullopt for the other side when
// its window closes (stream time > t + after + grace), unless a match arrived first: Kafka Streams
// 3.x semantics, no spurious left/outer results.
// Limitation: of several unmatched records with the same key and timestamp on one side only the
// last is kept for the outer result.
template <typename K, typename VThis, typename VOther, typename VR, typename Fn, bool kThisIsLeft>
class StreamStreamJoinNode final : public Node<K, VThis, K, VR> {
 public:
  struct Config {
    std::string this_store, other_store;
    std::string outer_store;        // shared by both sides; empty for inner joins
    bool this_outer = false;        // this side forwards its unmatched records (left side of left joins)
    bool other_side_outer = false;  // the other side keeps unmatched records in the outer store
    int64_t before_ms = 0, after_ms = 0, grace_ms = 0;  // from this side's point of view
  };
  StreamStreamJoinNode(std::string name, Config c, SerdePtr<K> ks, SerdePtr<VThis> vts, SerdePtr<VOther> vos, Fn fn)
      : Node<K, VThis, K, VR>(std::move(name)),
        c_(std::move(c)),
        ks_(std::move(ks)),
        vts_(std::move(vts)),
        vos_(std::move(vos)),
        fn_(std::move(fn)) {}

  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    this_store_ = find_store<state::WindowBytesStore>(ctx, c_.this_store);
    other_store_ = find_store<state::WindowBytesStore>(ctx, c_.other_store);
    if (!c_.outer_store.empty()) outer_store_ = find_store<state::KeyValueBytesStore>(ctx, c_.outer_store);
  }

  void process(const Record<K, VThis>& r) override {
    const TimestampMs stream_time = this->ctx_->stream_time();
    if (saturating_add(saturating_add(r.timestamp, std::max(c_.before_ms, c_.after_ms)), c_.grace_ms) < stream_time) {
      this->ctx_->record_dropped("late");
      return;
    }
    ks_->serialize(r.key, &kbuf_);
    vts_->serialize(r.value, &vbuf_);
    absl::Status st = this_store_->put(kbuf_, std::string_view(vbuf_), r.timestamp);
    if (!st.ok()) return this->ctx_->fail(st);
    bool matched = false;
    auto it =
        other_store_->fetch(kbuf_, saturating_sub(r.timestamp, c_.before_ms), saturating_add(r.timestamp, c_.after_ms));
    for (; it->valid(); it->next()) {
      const auto& e = it->entry();
      VOther other{};
      if (!decode(this->ctx_, vos_, e.value, &other)) return;
      matched = true;
      emit(r.key, std::optional<VThis>(r.value), std::optional<VOther>(std::move(other)),
           std::max(r.timestamp, e.window_start), r.headers);
      if (c_.other_side_outer && outer_store_) {
        st = outer_store_->remove(outer_key(!kThisIsLeft, e.window_start, kbuf_));
        if (!st.ok()) return this->ctx_->fail(st);
      }
    }
    if (!it->status().ok()) return this->ctx_->fail(it->status());
    if (!matched && outer_store_ && c_.this_outer) {
      st = outer_store_->put(outer_key(kThisIsLeft, r.timestamp, kbuf_), vbuf_);
      if (!st.ok()) return this->ctx_->fail(st);
    }
    if (outer_store_ && c_.this_outer) emit_closed<true>(stream_time);
    if (outer_store_ && c_.other_side_outer) emit_closed<false>(stream_time);
  }

 private:
  static std::string outer_key(bool left, TimestampMs ts, const std::string& key) {
    std::string k(1, left ? 'L' : 'R');
    append_be64(ts, &k);
    k += key;
    return k;
  }

  void emit(const K& key, std::optional<VThis> mine, std::optional<VOther> other, TimestampMs ts,
            const Headers& headers) {
    if constexpr (kThisIsLeft) {
      this->forward(Record<K, VR>{key, fn_(mine, other), ts, headers});
    } else {
      this->forward(Record<K, VR>{key, fn_(other, mine), ts, headers});
    }
  }

  // Forwards the unmatched records of one side whose join window closed (stream time has passed
  // t + after + grace; for the other side its `after` is this side's `before`).
  template <bool kMine>
  void emit_closed(TimestampMs stream_time) {
    const bool left = kMine == kThisIsLeft;
    const int64_t after = kMine ? c_.after_ms : c_.before_ms;
    std::string from(1, left ? 'L' : 'R');
    std::string to = from;
    append_be64(0, &from);
    append_be64(saturating_sub(saturating_sub(saturating_sub(stream_time, after), c_.grace_ms), 1), &to);
    to.append(1, '\xff');
    std::vector<std::string> done;
    auto it = outer_store_->range(from, to);
    for (; it->valid(); it->next()) {
      std::string_view k = it->key();
      const TimestampMs ts = read_be64(k.substr(1, 8));
      if (saturating_add(saturating_add(ts, after), c_.grace_ms) >= stream_time) break;
      K key{};
      if (!decode(this->ctx_, ks_, k.substr(9), &key)) return;
      if constexpr (kMine) {
        VThis v{};
        if (!decode(this->ctx_, vts_, it->value(), &v)) return;
        emit(key, std::optional<VThis>(std::move(v)), std::nullopt, ts, Headers{});
      } else {
        VOther v{};
        if (!decode(this->ctx_, vos_, it->value(), &v)) return;
        emit(key, std::nullopt, std::optional<VOther>(std::move(v)), ts, Headers{});
      }
      done.emplace_back(k);
    }
    if (!it->status().ok()) return this->ctx_->fail(it->status());
    for (const auto& k : done) {
      absl::Status st = outer_store_->remove(k);
      if (!st.ok()) return this->ctx_->fail(st);
    }
  }

  Config c_;
  SerdePtr<K> ks_;
  SerdePtr<VThis> vts_;
  SerdePtr<VOther> vos_;
  Fn fn_;
  state::WindowBytesStore* this_store_ = nullptr;
  state::WindowBytesStore* other_store_ = nullptr;
  state::KeyValueBytesStore* outer_store_ = nullptr;
  std::string kbuf_, vbuf_;
};

// One side of a table-table join (Kafka's KTableKTableJoin): a change on this side looks up the
// other table's current value and forwards the joined new and old values. Inner: both sides needed;
// left: this (left) side needed; outer: either side. fn(optional left, optional right) -> VR.
template <typename K, typename VThis, typename VOther, typename VR, typename Fn, bool kThisIsLeft>
class TableTableJoinNode final : public Node<K, Change<VThis>, K, Change<VR>> {
 public:
  enum class Kind { kInner, kLeft, kOuter };
  TableTableJoinNode(std::string name, std::string other_store, Kind kind, SerdePtr<K> ks, SerdePtr<VOther> vos, Fn fn)
      : Node<K, Change<VThis>, K, Change<VR>>(std::move(name)),
        other_store_name_(std::move(other_store)),
        kind_(kind),
        ks_(std::move(ks)),
        vos_(std::move(vos)),
        fn_(std::move(fn)) {}
  void init(TaskContext& ctx) override {
    NodeBase::init(ctx);
    other_store_ = find_store<state::KeyValueBytesStore>(ctx, other_store_name_);
  }
  void process(const Record<K, Change<VThis>>& r) override {
    ks_->serialize(r.key, &kbuf_);
    auto found = other_store_->get(kbuf_);
    if (!found.ok()) return this->ctx_->fail(found.status());
    std::optional<VOther> other;
    if (*found) {
      VOther v{};
      if (!decode(this->ctx_, vos_, **found, &v)) return;
      other = std::move(v);
    }
    Record<K, Change<VR>> out{r.key, {}, r.timestamp, r.headers};
    out.value.new_value = join(r.value.new_value, other);
    out.value.old_value = join(r.value.old_value, other);
    if (!out.value.new_value && !out.value.old_value) return;
    this->forward(out);
  }

 private:
  std::optional<VR> join(const std::optional<VThis>& mine, const std::optional<VOther>& other) {
    const std::optional<VThis>& left_present = mine;
    const bool this_needed = kind_ == Kind::kInner || (kind_ == Kind::kLeft && kThisIsLeft);
    const bool other_needed = kind_ == Kind::kInner || (kind_ == Kind::kLeft && !kThisIsLeft);
    if (this_needed && !left_present) return std::nullopt;
    if (other_needed && !other) return std::nullopt;
    if (!mine && !other) return std::nullopt;
    if constexpr (kThisIsLeft) {
      return fn_(mine, other);
    } else {
      return fn_(other, mine);
    }
  }

  std::string other_store_name_;
  Kind kind_;
  SerdePtr<K> ks_;
  SerdePtr<VOther> vos_;
  Fn fn_;
  state::KeyValueBytesStore* other_store_ = nullptr;
  std::string kbuf_;
};

}  // namespace kstreams::internal
