#include "key_codec.h"

namespace kstreams::state::internal {

std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(s.back());
    if (c != 0xff) {
      ++c;
      return s;
    }
    s.pop_back();
  }
  return std::nullopt;
}

void encode_window_key(std::string_view key, int64_t start, uint32_t seq, std::string* out) {
  out->append(key.data(), key.size());
  append_be64(out, static_cast<uint64_t>(start));
  append_be32(out, seq);
}

bool decode_window_key(std::string_view bytes, WindowKey* out) {
  if (bytes.size() < kWindowSuffixSize) return false;
  const char* suffix = bytes.data() + bytes.size() - kWindowSuffixSize;
  out->key = bytes.substr(0, bytes.size() - kWindowSuffixSize);
  out->start = static_cast<int64_t>(read_be64(suffix));
  out->seq = read_be32(suffix + 8);
  return out->start >= 0;
}

void encode_session_key(std::string_view key, int64_t start, int64_t end, std::string* out) {
  out->append(key.data(), key.size());
  append_be64(out, static_cast<uint64_t>(end));
  append_be64(out, static_cast<uint64_t>(start));
}

bool decode_session_key(std::string_view bytes, SessionKey* out) {
  if (bytes.size() < kSessionSuffixSize) return false;
  const char* suffix = bytes.data() + bytes.size() - kSessionSuffixSize;
  out->key = bytes.substr(0, bytes.size() - kSessionSuffixSize);
  out->end = static_cast<int64_t>(read_be64(suffix));
  out->start = static_cast<int64_t>(read_be64(suffix + 8));
  return out->start >= 0 && out->end >= out->start;
}

}  // namespace kstreams::state::internal
