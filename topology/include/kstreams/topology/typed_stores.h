// Typed views over the byte stores, for processors: keys and values go through serdes.
//
// Ownership: a view does not own its store (the task's ProcessorStateManager does) and is valid
// until the task closes. Thread-compatible: use it on the task's thread only. Errors are the
// store's absl::Status, plus kDataLoss when stored bytes do not decode.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "kstreams/common/serde.h"
#include "kstreams/state/store.h"

namespace kstreams {

template <typename K, typename V>
class KeyValueStore {
 public:
  KeyValueStore(state::KeyValueBytesStore* store, SerdePtr<K> ks, SerdePtr<V> vs)
      : store_(store), ks_(std::move(ks)), vs_(std::move(vs)) {}

  [[nodiscard]] absl::StatusOr<std::optional<V>> get(const K& key) const {
    ks_->serialize(key, &kbuf_);
    KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->get(kbuf_));
    if (!bytes) return std::optional<V>{};
    V v{};
    KSTREAMS_RETURN_IF_ERROR(vs_->deserialize(*bytes, &v));
    return std::optional<V>(std::move(v));
  }
  [[nodiscard]] absl::Status put(const K& key, const V& value) {
    ks_->serialize(key, &kbuf_);
    vs_->serialize(value, &vbuf_);
    return store_->put(kbuf_, vbuf_);
  }
  [[nodiscard]] absl::Status remove(const K& key) {
    ks_->serialize(key, &kbuf_);
    return store_->remove(kbuf_);
  }
  // Visits every entry in key-byte order; stops at the first error.
  [[nodiscard]] absl::Status for_each(const std::function<void(const K&, const V&)>& fn) const {
    auto it = store_->all();
    K k{};
    V v{};
    for (; it->valid(); it->next()) {
      KSTREAMS_RETURN_IF_ERROR(ks_->deserialize(it->key(), &k));
      KSTREAMS_RETURN_IF_ERROR(vs_->deserialize(it->value(), &v));
      fn(k, v);
    }
    return it->status();
  }
  [[nodiscard]] state::KeyValueBytesStore* bytes() const { return store_; }
  [[nodiscard]] const SerdePtr<K>& key_serde() const { return ks_; }
  [[nodiscard]] const SerdePtr<V>& value_serde() const { return vs_; }

 private:
  state::KeyValueBytesStore* store_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  mutable std::string kbuf_;  // reused encode buffers: no allocation per call once warm
  mutable std::string vbuf_;
};

template <typename K, typename V>
class WindowStore {
 public:
  WindowStore(state::WindowBytesStore* store, SerdePtr<K> ks, SerdePtr<V> vs)
      : store_(store), ks_(std::move(ks)), vs_(std::move(vs)) {}

  [[nodiscard]] absl::StatusOr<std::optional<V>> fetch(const K& key, TimestampMs window_start) const {
    ks_->serialize(key, &kbuf_);
    KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->fetch(kbuf_, window_start));
    if (!bytes) return std::optional<V>{};
    V v{};
    KSTREAMS_RETURN_IF_ERROR(vs_->deserialize(*bytes, &v));
    return std::optional<V>(std::move(v));
  }
  [[nodiscard]] absl::Status put(const K& key, const V& value, TimestampMs window_start) {
    ks_->serialize(key, &kbuf_);
    vs_->serialize(value, &vbuf_);
    return store_->put(kbuf_, std::string_view(vbuf_), window_start);
  }
  // Visits the windows of `key` with start in [from, to], ascending.
  [[nodiscard]] absl::Status fetch(const K& key, TimestampMs from, TimestampMs to,
                                   const std::function<void(TimestampMs, const V&)>& fn) const {
    ks_->serialize(key, &kbuf_);
    auto it = store_->fetch(kbuf_, from, to);
    V v{};
    for (; it->valid(); it->next()) {
      KSTREAMS_RETURN_IF_ERROR(vs_->deserialize(it->entry().value, &v));
      fn(it->entry().window_start, v);
    }
    return it->status();
  }
  [[nodiscard]] state::WindowBytesStore* bytes() const { return store_; }

 private:
  state::WindowBytesStore* store_;
  SerdePtr<K> ks_;
  SerdePtr<V> vs_;
  mutable std::string kbuf_;
  mutable std::string vbuf_;
};

}  // namespace kstreams
