// Strong types of the data plane: partitions, offsets, timestamps and task ids.
//
// Contract: plain values, cheap to copy, thread-compatible (no shared state). Distinct types so
// that an Offset cannot be passed where a Partition is expected.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace kstreams {

// A named integer: `NamedType<int32_t, struct PartitionTag>` is its own type.
template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : value_(v) {}
  [[nodiscard]] constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;

 private:
  T value_{};
};

using Partition = NamedType<int32_t, struct PartitionTag>;
using Offset = NamedType<int64_t, struct OffsetTag>;

// Epoch milliseconds; record timestamps and stream time use this type.
using TimestampMs = int64_t;
inline constexpr TimestampMs kNoTimestamp = -1;

// A task is (subtopology, partition), printed `0_3` as in Kafka Streams.
struct TaskId {
  int32_t subtopology = 0;
  int32_t partition = 0;
  auto operator<=>(const TaskId&) const = default;
  [[nodiscard]] std::string to_string() const { return std::to_string(subtopology) + "_" + std::to_string(partition); }
  // Parses "S_P"; returns false on malformed input.
  static bool parse(const std::string& text, TaskId* out);
};

}  // namespace kstreams

template <typename T, typename Tag>
struct std::hash<kstreams::NamedType<T, Tag>> {
  size_t operator()(const kstreams::NamedType<T, Tag>& v) const noexcept { return std::hash<T>{}(v.value()); }
};

template <>
struct std::hash<kstreams::TaskId> {
  size_t operator()(const kstreams::TaskId& t) const noexcept {
    return std::hash<int64_t>{}((static_cast<int64_t>(t.subtopology) << 32) ^ static_cast<uint32_t>(t.partition));
  }
};
