// A minimal HTTP/1.x response parser for tests that speak to servers over raw sockets (see
// http_response_parser.h). Test code only: the runtime's client is libcurl.
#include "http_response_parser.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "http/http_wire.h"

namespace kstreams::runtime::http {
namespace internal {
namespace {

ParsedResponse malformed(std::string error) {
  ParsedResponse p;
  p.result = ParsedResponse::Result::kMalformed;
  p.error = std::move(error);
  return p;
}

}  // namespace

ParsedResponse parse_response(std::string_view in, bool eof) {
  size_t start = 0;
  for (;;) {  // once per interim (1xx) response
    const size_t header_end = in.find("\r\n\r\n", start);
    if (header_end == std::string_view::npos) {
      if (in.size() - start > kMaxResponseHeaderBytes) return malformed("response header section too large");
      if (eof)
        return malformed(in.size() == start ? "connection closed before a response" : "truncated response header");
      // Reject garbage early rather than waiting for 64 KiB of it.
      const std::string_view head = in.substr(start, std::min<size_t>(in.size() - start, 7));
      if (std::string_view("HTTP/1.").substr(0, head.size()) != head) return malformed("not an HTTP/1.x response");
      return {};
    }
    std::string_view status_line = in.substr(start, in.find("\r\n", start) - start);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
        !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
        !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
        !std::isdigit(static_cast<unsigned char>(status_line[11])) ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
      return malformed("bad status line '" + std::string(status_line.substr(0, 80)) + "'");
    }
    const int status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
    const bool http10 = status_line[7] == '0';
    bool keep_alive = !http10;
    bool chunked = false;
    std::optional<size_t> content_length;
    size_t pos = start + status_line.size() + 2;
    while (pos < header_end + 2) {
      const size_t eol = in.find("\r\n", pos);
      const std::string_view line = in.substr(pos, eol - pos);
      pos = eol + 2;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return malformed("bad header line '" + std::string(line.substr(0, 80)) + "'");
      }
      const std::string_view name = line.substr(0, colon);
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(name, "Content-Length")) {
        size_t length = 0;
        if (!parse_content_length(value, &length)) {
          return malformed("bad Content-Length '" + std::string(value.substr(0, 40)) + "'");
        }
        content_length = length;
      } else if (iequals(name, "Transfer-Encoding")) {
        chunked = icontains(value, "chunked");
      } else if (iequals(name, "Connection")) {
        if (icontains(value, "close")) keep_alive = false;
        if (icontains(value, "keep-alive")) keep_alive = true;
      }
    }
    const size_t body_start = header_end + 4;
    if (status >= 100 && status < 200) {  // interim: the final response follows
      start = body_start;
      continue;
    }
    ParsedResponse out;
    out.status = status;
    out.keep_alive = keep_alive;
    if (status == 204 || status == 304) {
      out.result = ParsedResponse::Result::kComplete;
      out.consumed = body_start;
      return out;
    }
    if (chunked) {
      std::string error;
      const size_t end = chunked_end(in, body_start, &error);
      if (!error.empty()) return malformed(error);
      if (end == std::string_view::npos) return eof ? malformed("truncated chunked body") : ParsedResponse{};
      out.result = ParsedResponse::Result::kComplete;
      out.consumed = end;
      return out;
    }
    if (content_length) {
      if (in.size() - body_start < *content_length) return eof ? malformed("truncated body") : ParsedResponse{};
      out.result = ParsedResponse::Result::kComplete;
      out.consumed = body_start + *content_length;
      return out;
    }
    // No framing: the body runs to the end of the connection.
    if (!eof) return {};
    out.result = ParsedResponse::Result::kComplete;
    out.keep_alive = false;
    out.consumed = in.size();
    return out;
  }
}

}  // namespace internal
}  // namespace kstreams::runtime::http
