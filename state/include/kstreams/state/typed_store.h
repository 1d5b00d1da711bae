// Typed stores for processor authors: thin wrappers over the byte stores of store.h that add serdes.
//
//   KeyValueStore<std::string, int64_t> counts(manager->key_value_store("counts"), serdes::String(),
//                                               serdes::Int64());
//   KSTREAMS_ASSIGN_OR_RETURN(std::optional<int64_t> n, counts.get(word));
//   KSTREAMS_RETURN_IF_ERROR(counts.put(word, n.value_or(0) + 1));
//   auto it = counts.range("a", "m");
//   while (it.next()) use(it.key(), it.value());
//   KSTREAMS_RETURN_IF_ERROR(it.status());
//
// Ranges follow the byte order of the serialized keys (for example Int64 keys order as signed
// big-endian bytes, so negative keys sort after positive ones), exactly as in Kafka Streams.
// Serialization reuses one scratch buffer per wrapper, so a call allocates nothing beyond what the
// byte store needs. A value that does not deserialize is reported as kDataLoss (get) or stops the
// iterator with that status.
//
// Ownership and thread-safety: a wrapper does not own the byte store (the task's
// ProcessorStateManager does) and is, like the store, used by one stream thread. Cheap to create.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kstreams/common/serde.h"
#include "kstreams/common/status.h"
#include "kstreams/state/store.h"

namespace kstreams::state {

// Iterates (key, value) pairs: `while (it.next()) { it.key(); it.value(); }`, then check status().
template <typename K, typename V>
class TypedKeyValueIterator {
 public:
  TypedKeyValueIterator(std::unique_ptr<KeyValueIterator> inner, const Serde<K>* key_serde, const Serde<V>* value_serde)
      : inner_(std::move(inner)), key_serde_(key_serde), value_serde_(value_serde) {}

  // Moves to the next entry (the first on the first call); false at the end or on an error.
  bool next() {
    if (!status_.ok() || !inner_) return false;
    if (started_) inner_->next();
    started_ = true;
    if (!inner_->valid()) {
      status_ = inner_->status();
      return false;
    }
    status_ = key_serde_->deserialize(inner_->key(), &key_);
    if (status_.ok()) status_ = value_serde_->deserialize(inner_->value(), &value_);
    return status_.ok();
  }
  [[nodiscard]] const K& key() const { return key_; }
  [[nodiscard]] const V& value() const { return value_; }
  [[nodiscard]] absl::Status status() const { return status_; }

 private:
  std::unique_ptr<KeyValueIterator> inner_;
  const Serde<K>* key_serde_;
  const Serde<V>* value_serde_;
  K key_{};
  V value_{};
  absl::Status status_;
  bool started_ = false;
};

template <typename K, typename V>
class KeyValueStore {
 public:
  using Iterator = TypedKeyValueIterator<K, V>;

  KeyValueStore(KeyValueBytesStore* store, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_(store), key_serde_(std::move(key_serde)), value_serde_(std::move(value_serde)) {
    KSTREAMS_CHECK(key_serde_ && value_serde_, "a typed key-value store needs key and value serdes");
  }

  [[nodiscard]] KeyValueBytesStore* bytes() const { return store_; }

  [[nodiscard]] absl::StatusOr<std::optional<V>> get(const K& key) {
    key_serde_->serialize(key, &key_buf_);
    KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->get(key_buf_));
    if (!bytes) return std::optional<V>();
    V value{};
    KSTREAMS_RETURN_IF_ERROR(value_serde_->deserialize(*bytes, &value));
    return std::optional<V>(std::move(value));
  }
  [[nodiscard]] absl::Status put(const K& key, const V& value) {
    key_serde_->serialize(key, &key_buf_);
    value_serde_->serialize(value, &value_buf_);
    return store_->put(key_buf_, value_buf_);
  }
  // Deleting an absent key is not an error.
  [[nodiscard]] absl::Status remove(const K& key) {
    key_serde_->serialize(key, &key_buf_);
    return store_->remove(key_buf_);
  }
  // Keys in [from, to], ascending by serialized bytes.
  [[nodiscard]] Iterator range(const K& from, const K& to) {
    key_serde_->serialize(from, &key_buf_);
    key_serde_->serialize(to, &value_buf_);
    return wrap(store_->range(key_buf_, value_buf_));
  }
  // Keys >= from (no upper bound).
  [[nodiscard]] Iterator range_from(const K& from) {
    key_serde_->serialize(from, &key_buf_);
    return wrap(store_->range(key_buf_, ""));
  }
  [[nodiscard]] Iterator reverse_range(const K& from, const K& to) {
    key_serde_->serialize(from, &key_buf_);
    key_serde_->serialize(to, &value_buf_);
    return wrap(store_->reverse_range(key_buf_, value_buf_));
  }
  // Keys whose serialized bytes start with the serialized `prefix` (e.g. a string prefix).
  [[nodiscard]] Iterator prefix_scan(const K& prefix) {
    key_serde_->serialize(prefix, &key_buf_);
    return wrap(store_->prefix_scan(key_buf_));
  }
  [[nodiscard]] Iterator all() { return wrap(store_->all()); }
  [[nodiscard]] Iterator reverse_all() { return wrap(store_->reverse_all()); }
  [[nodiscard]] uint64_t approximate_num_entries() { return store_->approximate_num_entries(); }

 private:
  Iterator wrap(std::unique_ptr<KeyValueIterator> inner) {
    return Iterator(std::move(inner), key_serde_.get(), value_serde_.get());
  }

  KeyValueBytesStore* store_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  std::string key_buf_;
  std::string value_buf_;
};

// Iterates windows: `while (it.next()) { it.key(); it.window_start(); it.value(); }`.
template <typename K, typename V>
class TypedWindowIterator {
 public:
  TypedWindowIterator(std::unique_ptr<WindowIterator> inner, const Serde<K>* key_serde, const Serde<V>* value_serde)
      : inner_(std::move(inner)), key_serde_(key_serde), value_serde_(value_serde) {}

  bool next() {
    if (!status_.ok() || !inner_) return false;
    if (started_) inner_->next();
    started_ = true;
    if (!inner_->valid()) {
      status_ = inner_->status();
      return false;
    }
    const WindowedEntry& e = inner_->entry();
    status_ = key_serde_->deserialize(e.key, &key_);
    if (status_.ok()) status_ = value_serde_->deserialize(e.value, &value_);
    return status_.ok();
  }
  [[nodiscard]] const K& key() const { return key_; }
  [[nodiscard]] TimestampMs window_start() const { return inner_->entry().window_start; }
  [[nodiscard]] const V& value() const { return value_; }
  [[nodiscard]] absl::Status status() const { return status_; }

 private:
  std::unique_ptr<WindowIterator> inner_;
  const Serde<K>* key_serde_;
  const Serde<V>* value_serde_;
  K key_{};
  V value_{};
  absl::Status status_;
  bool started_ = false;
};

template <typename K, typename V>
class WindowStore {
 public:
  using Iterator = TypedWindowIterator<K, V>;

  WindowStore(WindowBytesStore* store, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_(store), key_serde_(std::move(key_serde)), value_serde_(std::move(value_serde)) {}

  [[nodiscard]] WindowBytesStore* bytes() const { return store_; }

  [[nodiscard]] absl::Status put(const K& key, const V& value, TimestampMs window_start) {
    key_serde_->serialize(key, &key_buf_);
    value_serde_->serialize(value, &value_buf_);
    return store_->put(key_buf_, std::string_view(value_buf_), window_start);
  }
  // Deletes the window (ignored by stores that retain duplicates).
  [[nodiscard]] absl::Status remove(const K& key, TimestampMs window_start) {
    key_serde_->serialize(key, &key_buf_);
    return store_->put(key_buf_, std::nullopt, window_start);
  }
  [[nodiscard]] absl::StatusOr<std::optional<V>> fetch(const K& key, TimestampMs window_start) {
    key_serde_->serialize(key, &key_buf_);
    KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->fetch(key_buf_, window_start));
    if (!bytes) return std::optional<V>();
    V value{};
    KSTREAMS_RETURN_IF_ERROR(value_serde_->deserialize(*bytes, &value));
    return std::optional<V>(std::move(value));
  }
  // Windows of `key` starting in [time_from, time_to], ascending (backward_fetch: descending).
  [[nodiscard]] Iterator fetch(const K& key, TimestampMs time_from, TimestampMs time_to) {
    key_serde_->serialize(key, &key_buf_);
    return wrap(store_->fetch(key_buf_, time_from, time_to));
  }
  [[nodiscard]] Iterator backward_fetch(const K& key, TimestampMs time_from, TimestampMs time_to) {
    key_serde_->serialize(key, &key_buf_);
    return wrap(store_->backward_fetch(key_buf_, time_from, time_to));
  }
  [[nodiscard]] Iterator fetch_range(const K& key_from, const K& key_to, TimestampMs time_from, TimestampMs time_to) {
    key_serde_->serialize(key_from, &key_buf_);
    key_serde_->serialize(key_to, &value_buf_);
    return wrap(store_->fetch_range(key_buf_, value_buf_, time_from, time_to));
  }
  [[nodiscard]] Iterator fetch_all(TimestampMs time_from, TimestampMs time_to) {
    return wrap(store_->fetch_all(time_from, time_to));
  }
  [[nodiscard]] Iterator all() { return wrap(store_->all()); }

 private:
  Iterator wrap(std::unique_ptr<WindowIterator> inner) {
    return Iterator(std::move(inner), key_serde_.get(), value_serde_.get());
  }

  WindowBytesStore* store_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  std::string key_buf_;
  std::string value_buf_;
};

// Iterates sessions: `while (it.next()) { it.key(); it.start(); it.end(); it.value(); }`.
template <typename K, typename V>
class TypedSessionIterator {
 public:
  TypedSessionIterator(std::unique_ptr<SessionIterator> inner, const Serde<K>* key_serde, const Serde<V>* value_serde)
      : inner_(std::move(inner)), key_serde_(key_serde), value_serde_(value_serde) {}

  bool next() {
    if (!status_.ok() || !inner_) return false;
    if (started_) inner_->next();
    started_ = true;
    if (!inner_->valid()) {
      status_ = inner_->status();
      return false;
    }
    const SessionEntry& e = inner_->entry();
    status_ = key_serde_->deserialize(e.key, &key_);
    if (status_.ok()) status_ = value_serde_->deserialize(e.value, &value_);
    return status_.ok();
  }
  [[nodiscard]] const K& key() const { return key_; }
  [[nodiscard]] TimestampMs start() const { return inner_->entry().start; }
  [[nodiscard]] TimestampMs end() const { return inner_->entry().end; }
  [[nodiscard]] const V& value() const { return value_; }
  [[nodiscard]] absl::Status status() const { return status_; }

 private:
  std::unique_ptr<SessionIterator> inner_;
  const Serde<K>* key_serde_;
  const Serde<V>* value_serde_;
  K key_{};
  V value_{};
  absl::Status status_;
  bool started_ = false;
};

template <typename K, typename V>
class SessionStore {
 public:
  using Iterator = TypedSessionIterator<K, V>;

  SessionStore(SessionBytesStore* store, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_(store), key_serde_(std::move(key_serde)), value_serde_(std::move(value_serde)) {}

  [[nodiscard]] SessionBytesStore* bytes() const { return store_; }

  [[nodiscard]] absl::Status put(const K& key, TimestampMs start, TimestampMs end, const V& value) {
    key_serde_->serialize(key, &key_buf_);
    value_serde_->serialize(value, &value_buf_);
    return store_->put(key_buf_, start, end, value_buf_);
  }
  [[nodiscard]] absl::Status remove(const K& key, TimestampMs start, TimestampMs end) {
    key_serde_->serialize(key, &key_buf_);
    return store_->remove(key_buf_, start, end);
  }
  [[nodiscard]] absl::StatusOr<std::optional<V>> fetch_session(const K& key, TimestampMs start, TimestampMs end) {
    key_serde_->serialize(key, &key_buf_);
    KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->fetch_session(key_buf_, start, end));
    if (!bytes) return std::optional<V>();
    V value{};
    KSTREAMS_RETURN_IF_ERROR(value_serde_->deserialize(*bytes, &value));
    return std::optional<V>(std::move(value));
  }
  // Sessions of `key` with end >= earliest_session_end and start <= latest_session_start.
  [[nodiscard]] Iterator find_sessions(const K& key, TimestampMs earliest_session_end,
                                       TimestampMs latest_session_start) {
    key_serde_->serialize(key, &key_buf_);
    return wrap(store_->find_sessions(key_buf_, earliest_session_end, latest_session_start));
  }
  [[nodiscard]] Iterator fetch(const K& key) {
    key_serde_->serialize(key, &key_buf_);
    return wrap(store_->fetch(key_buf_));
  }
  [[nodiscard]] Iterator all() { return wrap(store_->all()); }

 private:
  Iterator wrap(std::unique_ptr<SessionIterator> inner) {
    return Iterator(std::move(inner), key_serde_.get(), value_serde_.get());
  }

  SessionBytesStore* store_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  std::string key_buf_;
  std::string value_buf_;
};

}  // namespace kstreams::state
