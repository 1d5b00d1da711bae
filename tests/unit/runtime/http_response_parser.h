// Incremental parsing of one HTTP/1.x response, for tests that read a server's answers from a raw
// socket (the event-loop server's tests); unit-tested in http_pool_test.cc. Not part of the runtime.
//
// parse_response() is called with everything received so far on a connection; it says whether a
// whole response is there (and how many bytes it took), more bytes are needed, or the bytes are
// not an HTTP/1.x response. Interim 1xx responses are skipped. The body is framed by
// Transfer-Encoding: chunked, Content-Length, or the end of the connection (then `eof` completes
// it and the connection cannot be reused); 204 and 304 have no body.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kstreams::runtime::http::internal {

struct ParsedResponse {
  enum class Result { kNeedMore, kComplete, kMalformed };
  Result result = Result::kNeedMore;
  int status = 0;           // kComplete: the final status code
  bool keep_alive = false;  // kComplete: the connection may carry another request
  size_t consumed = 0;      // kComplete: bytes of the input the response took
  std::string error;        // kMalformed: what is wrong
};

// Header sections larger than this are malformed (a server sending garbage is not read forever).
inline constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;

// `in`: the bytes received so far; `eof`: the server closed its side after them.
[[nodiscard]] ParsedResponse parse_response(std::string_view in, bool eof);

}  // namespace kstreams::runtime::http::internal
