// Typed records as they flow between the processors of one subtopology.
//
// Records are values: a processor receives `const Record<K, V>&` and forwards new values; nothing is
// reference-counted and nothing is allocated per record by the framework itself (a header copy
// allocates only when there are headers). Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kstreams/common/record.h"
#include "kstreams/common/serde.h"
#include "kstreams/common/types.h"

namespace kstreams {

template <typename K, typename V>
struct Record {
  K key{};
  V value{};
  TimestampMs timestamp = 0;
  Headers headers;

  template <typename V2>
  [[nodiscard]] Record<K, V2> with_value(V2 v) const {
    return Record<K, V2>{key, std::move(v), timestamp, headers};
  }
  template <typename K2>
  [[nodiscard]] Record<K2, V> with_key(K2 k) const {
    return Record<K2, V>{std::move(k), value, timestamp, headers};
  }
  [[nodiscard]] Record with_timestamp(TimestampMs ts) const { return Record{key, value, ts, headers}; }
};

// What a table forwards downstream: the new value (nullopt = deleted) and the previous one.
template <typename V>
struct Change {
  std::optional<V> new_value;
  std::optional<V> old_value;
};

// A key-value pair as returned by map()/flat_map() mappers (std::pair is accepted too).
template <typename K, typename V>
struct KeyValue {
  K key;
  V value;
  bool operator==(const KeyValue&) const = default;
};
template <typename K, typename V>
KeyValue(K, V) -> KeyValue<K, V>;

// The key of a windowed aggregation: the record key plus its window [start, end).
// For session windows `end` is the last timestamp of the session (inclusive), as in Kafka Streams.
template <typename K>
struct Windowed {
  K key{};
  TimestampMs start = 0;
  TimestampMs end = 0;
  bool operator==(const Windowed&) const = default;
  auto operator<=>(const Windowed&) const = default;
};

// Where the record being processed came from. `topic` is empty and offset -1 inside punctuators.
struct RecordMetadata {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
};

// Windowed<K> as bytes: the key's bytes followed by start and end as 8-byte big-endian integers.
template <typename K>
class WindowedSerde final : public Serde<Windowed<K>> {
 public:
  explicit WindowedSerde(SerdePtr<K> inner) : inner_(std::move(inner)) {}
  void serialize(const Windowed<K>& w, std::string* out) const override {
    inner_->serialize(w.key, out);
    append_be(w.start, out);
    append_be(w.end, out);
  }
  [[nodiscard]] absl::Status deserialize(std::string_view b, Windowed<K>* out) const override {
    if (b.size() < 16) return absl::DataLossError("windowed key shorter than 16 bytes");
    KSTREAMS_RETURN_IF_ERROR(inner_->deserialize(b.substr(0, b.size() - 16), &out->key));
    out->start = read_be(b.substr(b.size() - 16, 8));
    out->end = read_be(b.substr(b.size() - 8, 8));
    return absl::OkStatus();
  }
  [[nodiscard]] std::string name() const override { return "Windowed<" + inner_->name() + ">"; }

 private:
  static void append_be(int64_t v, std::string* out) {
    for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
  }
  static int64_t read_be(std::string_view b) {
    uint64_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<unsigned char>(c);
    return static_cast<int64_t>(v);
  }
  SerdePtr<K> inner_;
};

template <typename K>
struct DefaultSerde<Windowed<K>, void> {
  static SerdePtr<Windowed<K>> get() {
    auto inner = default_serde<K>();
    if (!inner) return nullptr;
    return std::make_shared<WindowedSerde<K>>(std::move(inner));
  }
};

// Change<V> as bytes (for repartitioning table updates): a flag byte (1: new present, 2: old
// present), the new value's length as 4 bytes big-endian, the new value's bytes, the old value's.
template <typename V>
class ChangeSerde final : public Serde<Change<V>> {
 public:
  explicit ChangeSerde(SerdePtr<V> inner) : inner_(std::move(inner)) {}
  void serialize(const Change<V>& c, std::string* out) const override {
    out->clear();
    out->push_back(static_cast<char>((c.new_value ? 1 : 0) | (c.old_value ? 2 : 0)));
    std::string n, o;
    if (c.new_value) inner_->serialize(*c.new_value, &n);
    if (c.old_value) inner_->serialize(*c.old_value, &o);
    for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>(static_cast<uint32_t>(n.size()) >> (8 * i)));
    out->append(n);
    out->append(o);
  }
  [[nodiscard]] absl::Status deserialize(std::string_view b, Change<V>* out) const override {
    if (b.size() < 5) return absl::DataLossError("change shorter than 5 bytes");
    const auto flags = static_cast<unsigned char>(b[0]);
    uint32_t n = 0;
    for (size_t i = 1; i < 5; ++i) n = (n << 8) | static_cast<unsigned char>(b[i]);
    if (b.size() < 5 + n) return absl::DataLossError("change truncated");
    out->new_value.reset();
    out->old_value.reset();
    if (flags & 1) {
      V v{};
      KSTREAMS_RETURN_IF_ERROR(inner_->deserialize(b.substr(5, n), &v));
      out->new_value = std::move(v);
    }
    if (flags & 2) {
      V v{};
      KSTREAMS_RETURN_IF_ERROR(inner_->deserialize(b.substr(5 + n), &v));
      out->old_value = std::move(v);
    }
    return absl::OkStatus();
  }
  [[nodiscard]] std::string name() const override { return "Change<" + inner_->name() + ">"; }

 private:
  SerdePtr<V> inner_;
};

}  // namespace kstreams
