// Incremental parsing of one HTTP/1.x request (the event-loop HttpServer's reader; unit-tested on
// its own).
//
// parse_request() is called with everything received so far on a connection and not yet consumed;
// it says whether a whole request is there (and how many bytes it took), more bytes are needed, or
// the bytes cannot be served (with the status code the server answers before closing). Bodies are
// framed by Content-Length or Transfer-Encoding: chunked (decoded); a request with neither has an
// empty body. Requests that could be read two ways (both framings, differing Content-Lengths,
// folded header lines) are refused, as RFC 9112 asks of a server that is not a proxy.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kstreams/runtime/http.h"

namespace kstreams::runtime::http::internal {

struct RequestLimits {
  size_t max_request_line_bytes = 8 * 1024;  // more -> 414
  size_t max_header_bytes = 64 * 1024;       // request line + header fields; more -> 431
  size_t max_header_fields = 100;            // more -> 431
  // Decoded body; more -> 413. The bytes of a chunked body (framing included, complete or not)
  // are bounded too: more than 2 * max_body_bytes + max_header_bytes -> 413.
  size_t max_body_bytes = 16 * 1024 * 1024;
};

// At most this many empty lines before a request line are ignored (RFC 9112 2.2); more -> 400.
inline constexpr size_t kMaxLeadingEmptyLines = 4;

struct ParsedRequest {
  enum class Result { kNeedMore, kComplete, kRefused };
  Result result = Result::kNeedMore;

  // kComplete
  std::string method;  // as sent (methods are case-sensitive)
  std::string target;  // the raw request target: path and query, still percent-encoded
  HttpHeaders headers;
  std::string body;
  bool http10 = false;     // an HTTP/1.0 request (its keep-alive must be confirmed in the response)
  bool keep_alive = true;  // the connection may carry another request after this one
  size_t consumed = 0;     // bytes of the input the request took

  // kNeedMore: the header section is complete, the body is not, and the client asked
  // (Expect: 100-continue) to hear "100 Continue" before sending it.
  bool expects_continue = false;
  // kNeedMore: when known (header complete, Content-Length framing), the input size at which the
  // request will be complete; 0 when unknown. Lets the caller skip re-parsing until then.
  size_t complete_at = 0;

  // kRefused: the status to answer with (400, 413, 414, 417, 431, 501 or 505) and why.
  int status = 0;
  std::string error;
};

[[nodiscard]] ParsedRequest parse_request(std::string_view in, const RequestLimits& limits = {});

}  // namespace kstreams::runtime::http::internal
