// Byte encodings shared by the stores: big-endian integers, key bounds, and the composite keys of
// window and session stores.
//
// Changelog keys are Kafka Streams-compatible:
//   window:  key || be64(window start) || be32(sequence number)   (WindowKeySchema)
//   session: key || be64(session end)  || be64(session start)     (SessionKeySchema)
// Stored keys prefix the changelog key with be64(segment id), so that one segment is one contiguous
// key range (dropped with a single range delete) and a key's entries are contiguous in a segment.
// Timestamps in window/session keys are >= 0, so big-endian bytes order like the numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kstreams::state::internal {

inline void append_be64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * (7 - i)));
  out->append(buf, 8);
}
inline void append_be32(std::string* out, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * (3 - i)));
  out->append(buf, 4);
}
inline uint64_t read_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline uint32_t read_be32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The smallest key greater than every key starting with `prefix`; nullopt when there is none
// (the prefix is empty or all 0xff bytes).
std::optional<std::string> prefix_successor(std::string_view prefix);

// The smallest key greater than `key` (turns an inclusive upper bound into an exclusive one).
inline std::string key_successor(std::string_view key) {
  std::string s(key);
  s.push_back('\0');
  return s;
}

inline constexpr size_t kWindowSuffixSize = 12;   // be64 start + be32 seq
inline constexpr size_t kSessionSuffixSize = 16;  // be64 end + be64 start
inline constexpr size_t kSegmentPrefixSize = 8;

struct WindowKey {
  std::string_view key;
  int64_t start = 0;
  uint32_t seq = 0;
};
struct SessionKey {
  std::string_view key;
  int64_t start = 0;
  int64_t end = 0;
};

void encode_window_key(std::string_view key, int64_t start, uint32_t seq, std::string* out);
// False when `bytes` is too short or holds a negative timestamp.
[[nodiscard]] bool decode_window_key(std::string_view bytes, WindowKey* out);
void encode_session_key(std::string_view key, int64_t start, int64_t end, std::string* out);
[[nodiscard]] bool decode_session_key(std::string_view bytes, SessionKey* out);

// be64(segment) appended to *out.
inline void append_segment(std::string* out, int64_t segment) { append_be64(out, static_cast<uint64_t>(segment)); }
inline std::string segment_prefix(int64_t segment) {
  std::string s;
  append_segment(&s, segment);
  return s;
}
// Reserved key (never a segment: segment ids are < 2^63) holding a store's own metadata.
inline std::string metadata_key() { return std::string(8, '\xff') + "meta"; }

}  // namespace kstreams::state::internal
