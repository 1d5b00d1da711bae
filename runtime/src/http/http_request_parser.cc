#include "http_request_parser.h"

#include <cctype>
#include <optional>

#include "http_wire.h"

namespace kstreams::runtime::http::internal {
namespace {

// RFC 9110 5.6.2 tchar: the characters of a method or a header name.
bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

ParsedRequest refused(int status, std::string error) {
  ParsedRequest p;
  p.result = ParsedRequest::Result::kRefused;
  p.status = status;
  p.error = std::move(error);
  return p;
}

std::string excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out;
}

struct RequestLine {
  std::string_view method, target;
  bool http10 = false;
};

// "METHOD SP target SP HTTP/1.x"; nullopt with *bad set when it is not one.
std::optional<RequestLine> parse_request_line(std::string_view line, ParsedRequest* bad) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    *bad = refused(400, "bad request line '" + excerpt(line) + "'");
    return std::nullopt;
  }
  RequestLine r{line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1), false};
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(r.method) || r.target.empty()) {
    *bad = refused(400, "bad request line '" + excerpt(line) + "'");
    return std::nullopt;
  }
  for (char c : r.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      *bad = refused(400, "bad character in request target");
      return std::nullopt;
    }
  }
  if (version == "HTTP/1.1") return r;
  if (version == "HTTP/1.0") {
    r.http10 = true;
    return r;
  }
  if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(static_cast<unsigned char>(version[5])) &&
      version[6] == '.' && std::isdigit(static_cast<unsigned char>(version[7]))) {
    *bad = refused(505, "HTTP version " + std::string(version.substr(5)) + " is not supported");
  } else {
    *bad = refused(400, "bad HTTP version '" + excerpt(version) + "'");
  }
  return std::nullopt;
}

// What the header fields say about framing and the connection.
struct Framing {
  std::optional<size_t> content_length;
  bool chunked = false;
  bool close = false;
  bool keep_alive = false;
  bool expect_continue = false;
};

// Parses the header lines in [pos, header_end) into p->headers; nullopt with *bad set on error.
std::optional<Framing> parse_fields(std::string_view in, size_t pos, size_t header_end, ParsedRequest* p,
                                    ParsedRequest* bad) {
  Framing f;
  while (pos < header_end) {
    const size_t eol = in.find("\r\n", pos);
    const std::string_view line = in.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.front() == ' ' || line.front() == '\t') {
      *bad = refused(400, "folded header line");
      return std::nullopt;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      *bad = refused(400, "bad header line '" + excerpt(line) + "'");
      return std::nullopt;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      size_t n = 0;
      if (!parse_content_length(value, &n)) {
        *bad = refused(400, "bad Content-Length '" + excerpt(value) + "'");
        return std::nullopt;
      }
      if (f.content_length && *f.content_length != n) {
        *bad = refused(400, "conflicting Content-Length headers");
        return std::nullopt;
      }
      f.content_length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      // Only "chunked", alone: a server that is not a proxy has nothing to decode other codings with.
      if (!iequals(value, "chunked")) {
        *bad = refused(501, "Transfer-Encoding '" + excerpt(value) + "' is not supported");
        return std::nullopt;
      }
      f.chunked = true;
    } else if (iequals(name, "Connection")) {
      f.close = f.close || icontains(value, "close");
      f.keep_alive = f.keep_alive || icontains(value, "keep-alive");
    } else if (iequals(name, "Expect")) {
      if (!iequals(value, "100-continue")) {
        *bad = refused(417, "Expect '" + excerpt(value) + "' is not supported");
        return std::nullopt;
      }
      f.expect_continue = true;
    }
    p->headers[std::string(name)] = std::string(value);
  }
  if (f.chunked && f.content_length) {
    *bad = refused(400, "both Content-Length and Transfer-Encoding");
    return std::nullopt;
  }
  return f;
}

// Header lines in in[from, to) (each ends with CRLF).
size_t count_lines(std::string_view in, size_t from, size_t to) {
  size_t n = 0;
  for (size_t at = in.find("\r\n", from); at != std::string_view::npos && at < to; at = in.find("\r\n", at + 2)) ++n;
  return n;
}

}  // namespace

ParsedRequest parse_request(std::string_view in, const RequestLimits& limits) {
  // RFC 9112 2.2: a server should ignore empty lines received before the request line (a few).
  size_t start = 0;
  while (in.substr(start, 2) == "\r\n") {
    start += 2;
    if (start / 2 > kMaxLeadingEmptyLines) return refused(400, "too many empty lines before the request");
  }
  const size_t header_end = in.find("\r\n\r\n", start);
  const size_t first_eol = in.find("\r\n", start);
  const size_t line_end = first_eol == std::string_view::npos ? in.size() : first_eol;
  if (line_end - start > limits.max_request_line_bytes) return refused(414, "request line too long");
  // Fields after the request line (the last counted line may be the header's empty line).
  const size_t fields =
      first_eol == std::string_view::npos
          ? 0
          : count_lines(in, first_eol + 2, header_end == std::string_view::npos ? in.size() : header_end + 2);
  if (fields > limits.max_header_fields) return refused(431, "too many header fields");
  ParsedRequest bad;
  if (header_end == std::string_view::npos) {
    if (in.size() - start > limits.max_header_bytes) return refused(431, "request header section too large");
    // Refuse a bad request line as soon as it is whole rather than waiting for the header's end.
    if (first_eol != std::string_view::npos && !parse_request_line(in.substr(start, first_eol - start), &bad)) {
      return bad;
    }
    // A line without CRLF that cannot be the start of a request line (e.g. binary garbage). A lone
    // CR may be the start of an empty line before the request line.
    if (first_eol == std::string_view::npos && in.size() > start && in.substr(start) != "\r") {
      const std::string_view head = in.substr(start, std::min<size_t>(in.size() - start, 16));
      const size_t sp = head.find(' ');
      if (!is_token(head.substr(0, sp))) return refused(400, "not an HTTP request");
    }
    return {};
  }
  if (header_end + 4 - start > limits.max_header_bytes) return refused(431, "request header section too large");
  auto line = parse_request_line(in.substr(start, first_eol - start), &bad);
  if (!line) return bad;
  ParsedRequest p;
  auto framing = parse_fields(in, first_eol + 2, header_end + 2, &p, &bad);
  if (!framing) return bad;
  const size_t body_start = header_end + 4;
  p.keep_alive = line->http10 ? framing->keep_alive && !framing->close : !framing->close;
  if (framing->chunked) {
    std::string error;
    size_t announced = 0;
    size_t need = 0;
    const size_t end = chunked_end(in, body_start, &error, &p.body, &announced, &need);
    if (!error.empty()) return refused(400, error);
    if (announced > limits.max_body_bytes) return refused(413, "request body too large");
    // The framing (chunk lines, trailers) is bounded as well, by the same rule whether the body
    // is complete or not: the verdict must not depend on how the bytes arrive.
    const size_t framed = (end == std::string_view::npos ? in.size() : end) - body_start;
    if (framed > 2 * limits.max_body_bytes + limits.max_header_bytes) return refused(413, "request body too large");
    if (end == std::string_view::npos) {
      ParsedRequest more;
      more.expects_continue = framing->expect_continue && !line->http10;
      more.complete_at = need;
      return more;
    }
    p.consumed = end;
  } else {
    const size_t length = framing->content_length.value_or(0);
    if (length > limits.max_body_bytes) return refused(413, "request body too large");
    if (in.size() - body_start < length) {
      ParsedRequest more;
      more.expects_continue = framing->expect_continue && !line->http10;
      more.complete_at = body_start + length;
      return more;
    }
    p.body.assign(in.substr(body_start, length));
    p.consumed = body_start + length;
  }
  p.result = ParsedRequest::Result::kComplete;
  p.http10 = line->http10;
  p.method = std::string(line->method);
  p.target = std::string(line->target);
  return p;
}

}  // namespace kstreams::runtime::http::internal
