// Fuzzes HttpPool's response parser (runtime/src/http_response_parser.h).
//
// Input: bit 0 of byte 0 says whether the server closed the connection after the bytes (eof), the
// rest is what the server sent. Invariants beyond "no crash":
//   - a complete response took between 1 and all of the bytes and has a final (non-1xx) status;
//   - a response framed to the end of the connection is only complete at eof, took everything,
//     and is not reusable;
//   - every strict prefix of a complete response needs more bytes (a response arriving in pieces
//     is never refused or completed early);
//   - the response alone parses to the same response, and so does the whole input at eof;
//   - "malformed" says why; "need more" never happens at eof.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "http_response_parser.h"

namespace {

using kstreams::runtime::http::internal::parse_response;
using kstreams::runtime::http::internal::ParsedResponse;
using Result = ParsedResponse::Result;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool eof = (data[0] & 1) != 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const ParsedResponse p = parse_response(in, eof);

  if (p.result == Result::kMalformed) {
    FUZZ_CHECK(!p.error.empty(), "malformed says why");
    return 0;
  }
  if (p.result == Result::kNeedMore) {
    FUZZ_CHECK(!eof, "at eof a response is complete or malformed");
    return 0;
  }

  FUZZ_CHECK(p.consumed > 0 && p.consumed <= in.size(), "consumed within the input");
  FUZZ_CHECK(p.status >= 0 && p.status <= 999, "three-digit status");
  FUZZ_CHECK(p.status < 100 || p.status >= 200, "interim responses are skipped");

  const ParsedResponse alone = parse_response(in.substr(0, p.consumed), eof);
  FUZZ_CHECK(alone.result == Result::kComplete && alone.consumed == p.consumed && alone.status == p.status &&
                 alone.keep_alive == p.keep_alive,
             "the response alone parses the same");

  if (!eof) {
    const ParsedResponse closed = parse_response(in, true);
    FUZZ_CHECK(closed.result == Result::kComplete && closed.consumed == p.consumed && closed.status == p.status,
               "a framed response is the same when the server then closes");
  }

  const size_t step = std::max<size_t>(1, p.consumed / 64);
  for (size_t cut = 0; cut < p.consumed; cut += step) {
    const ParsedResponse q = parse_response(in.substr(0, cut), false);
    FUZZ_CHECK(q.result == Result::kNeedMore, "a strict prefix of a complete response needs more bytes");
  }
  return 0;
}
