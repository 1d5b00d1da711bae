// Fuzzes the event-loop server's request parser (runtime/src/http/http_request_parser.h).
//
// Input: byte 0 picks the limits (small limits reach 413 and 431), the rest is what a client sent.
// Invariants beyond "no crash":
//   - a complete request took between 1 and all of the bytes, its body is within max_body_bytes,
//     its method and target are non-empty and free of spaces and control characters;
//   - every strict prefix of a complete request asks for more bytes (a request arriving in pieces
//     is never refused or completed early), and the request alone parses to the same request;
//   - a refusal carries one of the documented statuses;
//   - "need more" with complete_at points past the bytes there are;
//   - serializing the parsed request again (Content-Length framing) parses back to the same
//     method, target, headers and body.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/http_request_parser.h"

namespace {

using kstreams::runtime::http::internal::parse_request;
using kstreams::runtime::http::internal::ParsedRequest;
using kstreams::runtime::http::internal::RequestLimits;
using Result = ParsedRequest::Result;

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

bool clean_token(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

void check_same(const ParsedRequest& a, const ParsedRequest& b, const char* what) {
  FUZZ_CHECK(b.result == Result::kComplete, what);
  FUZZ_CHECK(a.method == b.method, what);
  FUZZ_CHECK(a.target == b.target, what);
  FUZZ_CHECK(a.body == b.body, what);
  FUZZ_CHECK(a.headers == b.headers, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  RequestLimits limits;
  if (data[0] & 1) {
    limits.max_header_bytes = 64 + data[0] * 2;
    limits.max_body_bytes = data[0] >> 1;
  }
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const ParsedRequest p = parse_request(in, limits);

  switch (p.result) {
    case Result::kRefused:
      FUZZ_CHECK(p.status == 400 || p.status == 413 || p.status == 417 || p.status == 431 || p.status == 501 ||
                     p.status == 505,
                 "refusal status");
      FUZZ_CHECK(!p.error.empty(), "a refusal says why");
      return 0;
    case Result::kNeedMore:
      FUZZ_CHECK(p.complete_at == 0 || p.complete_at > in.size(), "complete_at past the input");
      return 0;
    case Result::kComplete:
      break;
  }

  FUZZ_CHECK(p.consumed > 0 && p.consumed <= in.size(), "consumed within the input");
  FUZZ_CHECK(p.body.size() <= limits.max_body_bytes, "body within max_body_bytes");
  FUZZ_CHECK(!p.method.empty() && clean_token(p.method), "method");
  FUZZ_CHECK(!p.target.empty() && clean_token(p.target), "target");
  FUZZ_CHECK(!p.http10 || !p.keep_alive || p.headers.count("Connection") == 1, "HTTP/1.0 keep-alive is asked for");

  // The request alone (without what follows it) is the same request.
  check_same(p, parse_request(in.substr(0, p.consumed), limits), "the request alone parses the same");

  // Strict prefixes need more bytes: try a few cut points (all of them for short requests).
  const size_t step = std::max<size_t>(1, p.consumed / 64);
  for (size_t cut = 0; cut < p.consumed; cut += step) {
    const ParsedRequest q = parse_request(in.substr(0, cut), limits);
    FUZZ_CHECK(q.result == Result::kNeedMore, "a strict prefix of a complete request needs more bytes");
  }

  // Serialize again with Content-Length framing; it must parse back to the same request.
  std::string again = p.method + " " + p.target + (p.http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  ParsedRequest expected = p;
  for (auto it = expected.headers.begin(); it != expected.headers.end();) {
    if (iequals(it->first, "Content-Length") || iequals(it->first, "Transfer-Encoding") ||
        iequals(it->first, "Expect")) {
      it = expected.headers.erase(it);
    } else {
      again += it->first + ": " + it->second + "\r\n";
      ++it;
    }
  }
  if (!p.body.empty()) {
    again += "Content-Length: " + std::to_string(p.body.size()) + "\r\n";
    expected.headers["Content-Length"] = std::to_string(p.body.size());
  }
  again += "\r\n" + p.body;
  RequestLimits roomy = limits;
  roomy.max_header_bytes = std::max(limits.max_header_bytes, again.size());
  const ParsedRequest r = parse_request(again, roomy);
  check_same(expected, r, "serialized again, the request parses back to itself");
  FUZZ_CHECK(r.consumed == again.size(), "the serialized request is consumed whole");
  return 0;
}
