#include "http_wire.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace kstreams::runtime::http::internal {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool icontains(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (iequals(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_content_length(std::string_view value, size_t* out) {
  if (value.empty() || value.size() > 15) return false;
  size_t n = 0;
  for (char c : value) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  *out = n;
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_percent_encoded(std::string* out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->push_back('%');
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xF]);
}

size_t chunked_end(std::string_view in, size_t pos, std::string* error, std::string* decoded, size_t* announced,
                   size_t* need) {
  constexpr size_t kMaxChunkLine = 1024;
  constexpr size_t kMaxTrailer = 8192;
  if (need != nullptr) *need = 0;
  // The chunks' data is copied only once the body is complete: a body arriving over many reads is
  // scanned again each time, but never half-decoded.
  std::vector<std::string_view> chunks;
  for (;;) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (in.size() - pos > kMaxChunkLine) *error = "chunk size line too long";
      return std::string_view::npos;
    }
    if (eol - pos > kMaxChunkLine) {
      *error = "chunk size line too long";
      return std::string_view::npos;
    }
    if (eol == std::string_view::npos) return std::string_view::npos;
    std::string_view line = in.substr(pos, eol - pos);
    line = trim(line.substr(0, line.find(';')));  // chunk extensions are ignored
    if (line.empty() || line.size() > 15) {
      *error = "bad chunk size";
      return std::string_view::npos;
    }
    size_t size = 0;
    for (char c : line) {
      const int d = hex_digit(c);
      if (d < 0) {
        *error = "bad chunk size";
        return std::string_view::npos;
      }
      size = size * 16 + static_cast<size_t>(d);
    }
    pos = eol + 2;
    if (announced != nullptr) *announced += size;
    if (size == 0) break;
    if (in.size() < pos + size + 2) {
      if (need != nullptr) *need = pos + size + 2 + 5;  // this chunk, its CRLF and at least "0\r\n\r\n"
      return std::string_view::npos;
    }
    if (in.substr(pos + size, 2) != "\r\n") {
      *error = "chunk not followed by CRLF";
      return std::string_view::npos;
    }
    if (decoded != nullptr) chunks.push_back(in.substr(pos, size));
    pos += size + 2;
  }
  // Trailer lines, then an empty line.
  const size_t trailer_start = pos;
  for (;;) {
    const size_t end = in.find("\r\n", pos);
    if (end == std::string_view::npos ? in.size() - trailer_start > kMaxTrailer : end - trailer_start > kMaxTrailer) {
      *error = "trailer section too long";
      return std::string_view::npos;
    }
    if (end == std::string_view::npos) return std::string_view::npos;
    if (end == pos) {
      if (decoded != nullptr) {
        for (std::string_view c : chunks) decoded->append(c);
      }
      return end + 2;
    }
    pos = end + 2;
  }
}

}  // namespace kstreams::runtime::http::internal
