// Records as they cross the boundary between Kafka and the topology: bytes plus metadata.
//
// Ownership: a RawRecord owns its bytes (std::string). Keys and values may be null (a Kafka null,
// e.g. a tombstone), which is distinct from empty. Thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kstreams/common/types.h"

namespace kstreams {

// Kafka record headers: ordered, keys may repeat (as in Kafka).
class Headers {
 public:
  using Entry = std::pair<std::string, std::string>;

  void add(std::string key, std::string value) { entries_.emplace_back(std::move(key), std::move(value)); }
  // Replaces every header named `key` with a single one.
  void set(std::string_view key, std::string value);
  void remove(std::string_view key);
  // The last value for `key`, if any (Kafka's lastHeader).
  [[nodiscard]] std::optional<std::string_view> last(std::string_view key) const;
  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] size_t size() const { return entries_.size(); }
  void clear() { entries_.clear(); }
  bool operator==(const Headers&) const = default;

 private:
  std::vector<Entry> entries_;
};

// A record read from or written to a Kafka topic, in serialized form.
struct RawRecord {
  std::string topic;
  Partition partition{0};
  Offset offset{-1};
  TimestampMs timestamp = kNoTimestamp;
  std::optional<std::string> key;
  std::optional<std::string> value;
  Headers headers;
};

}  // namespace kstreams
