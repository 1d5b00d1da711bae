// The event-loop HttpServer's request parser (runtime/src/http/http_request_parser.h), on bytes alone.
#include "http/http_request_parser.h"

#include <string>

#include <gtest/gtest.h>

namespace kstreams::runtime::http::internal {
namespace {

using Result = ParsedRequest::Result;

const std::string kPost =
    "POST /notifications?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
    "Idempotency-Key: o-1:CONFIRMED\r\nContent-Length: 7\r\n\r\n{\"a\":1}";

TEST(HttpRequestParserTest, AWholeRequestCarriesMethodTargetHeadersAndBody) {
  const ParsedRequest p = parse_request(kPost);
  ASSERT_EQ(p.result, Result::kComplete) << p.error;
  EXPECT_EQ(p.method, "POST");
  EXPECT_EQ(p.target, "/notifications?x=1");
  EXPECT_EQ(p.headers.at("idempotency-key"), "o-1:CONFIRMED");  // names are case-insensitive
  EXPECT_EQ(p.body, "{\"a\":1}");
  EXPECT_TRUE(p.keep_alive);
  EXPECT_FALSE(p.http10);
  EXPECT_EQ(p.consumed, kPost.size());
}

TEST(HttpRequestParserTest, EveryPrefixNeedsMoreAndPipelinedBytesAreLeftOver) {
  for (size_t n = 0; n < kPost.size(); ++n) {
    const ParsedRequest p = parse_request(std::string_view(kPost).substr(0, n));
    EXPECT_EQ(p.result, Result::kNeedMore) << "prefix of " << n << " bytes: " << p.error;
  }
  const std::string two = kPost + "GET /stats HTTP/1.1\r\n\r\n";
  const ParsedRequest first = parse_request(two);
  ASSERT_EQ(first.result, Result::kComplete);
  EXPECT_EQ(first.consumed, kPost.size());
  const ParsedRequest second = parse_request(std::string_view(two).substr(first.consumed));
  ASSERT_EQ(second.result, Result::kComplete);
  EXPECT_EQ(second.method, "GET");
  EXPECT_EQ(second.body, "");
}

TEST(HttpRequestParserTest, ContentLengthFramingTellsWhenTheBodyWillBeWhole) {
  const std::string head = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
  const ParsedRequest p = parse_request(head + "12345");
  ASSERT_EQ(p.result, Result::kNeedMore);
  EXPECT_EQ(p.complete_at, head.size() + 10);
  EXPECT_FALSE(p.expects_continue);
}

TEST(HttpRequestParserTest, ChunkedBodiesAreDecodedWithExtensionsAndTrailers) {
  const std::string req =
      "POST /n HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: t\r\n\r\n";
  const ParsedRequest p = parse_request(req);
  ASSERT_EQ(p.result, Result::kComplete) << p.error;
  EXPECT_EQ(p.body, "{\"a\":1}");
  EXPECT_EQ(p.consumed, req.size());
  for (size_t n = 0; n < req.size(); ++n) {
    EXPECT_EQ(parse_request(std::string_view(req).substr(0, n)).result, Result::kNeedMore) << n;
  }
}

TEST(HttpRequestParserTest, KeepAliveFollowsTheVersionAndTheConnectionHeader) {
  EXPECT_FALSE(parse_request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  const ParsedRequest old = parse_request("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(old.result, Result::kComplete);
  EXPECT_TRUE(old.http10);
  EXPECT_FALSE(old.keep_alive);
  EXPECT_TRUE(parse_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
}

TEST(HttpRequestParserTest, ExpectContinueIsReportedOnlyWhileTheBodyIsMissing) {
  const std::string head = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  EXPECT_TRUE(parse_request(head).expects_continue);
  EXPECT_EQ(parse_request(head + "{}").result, Result::kComplete);
  const ParsedRequest other = parse_request("POST / HTTP/1.1\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n");
  ASSERT_EQ(other.result, Result::kRefused);
  EXPECT_EQ(other.status, 417);
}

TEST(HttpRequestParserTest, LeadingEmptyLinesAreIgnored) {
  const ParsedRequest p = parse_request("\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.result, Result::kComplete) << p.error;
  EXPECT_EQ(p.target, "/x");
}

// Found by fuzz_http_request: a leading empty line cut after its CR was refused as "not an HTTP
// request", so the same bytes were served or refused depending on how they arrived.
TEST(HttpRequestParserTest, EveryPrefixOfARequestWithLeadingEmptyLinesNeedsMore) {
  const std::string request = "\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
  for (size_t cut = 0; cut < request.size(); ++cut) {
    const ParsedRequest p = parse_request(request.substr(0, cut));
    EXPECT_EQ(p.result, Result::kNeedMore) << "cut at " << cut << ": " << p.error;
  }
}

// Found by fuzz_http_response (the response parser shares the chunked framing): a chunk size line
// over 1 KiB, or a trailer section over 8 KiB, was refused while incomplete but accepted once
// whole, so the limits depended on how the bytes arrived.
TEST(HttpRequestParserTest, ChunkedLimitsHoldForCompleteBodiesToo) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const ParsedRequest long_size_line = parse_request(head + "1;" + std::string(1100, 'e') + "\r\nx\r\n0\r\n\r\n");
  EXPECT_EQ(long_size_line.result, Result::kRefused);
  EXPECT_EQ(long_size_line.status, 400);
  std::string trailers;
  for (int i = 0; i < 100; ++i) trailers += "T" + std::to_string(i) + ": " + std::string(90, 'v') + "\r\n";
  const ParsedRequest long_trailer = parse_request(head + "1\r\nx\r\n0\r\n" + trailers + "\r\n");
  EXPECT_EQ(long_trailer.result, Result::kRefused);
  EXPECT_EQ(long_trailer.status, 400);
  const ParsedRequest fine = parse_request(head + "1;" + std::string(1000, 'e') + "\r\nx\r\n0\r\nT: v\r\n\r\n");
  EXPECT_EQ(fine.result, Result::kComplete) << fine.error;
}

struct Refusal {
  const char* name;
  std::string bytes;
  int status;
};

TEST(HttpRequestParserTest, RequestsThatCannotBeServedAreRefusedWithTheirStatus) {
  const std::vector<Refusal> cases = {
      {"garbage", std::string("\x16\x03\x01\x02\x00", 5), 400},
      {"no version", "GET /\r\n\r\n", 400},
      {"two spaces", "GET  / HTTP/1.1\r\n\r\n", 400},
      {"bad method", "G(T / HTTP/1.1\r\n\r\n", 400},
      {"control in target", "GET /a\x01 HTTP/1.1\r\n\r\n", 400},
      {"HTTP/2", "GET / HTTP/2.0\r\n\r\n", 505},
      {"not HTTP", "GET / FTP/1.1\r\n\r\n", 400},
      {"header without colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
      {"folded header", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400},
      {"bad content length", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"negative content length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"conflicting lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"both framings", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk without CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", 400},
  };
  for (const Refusal& c : cases) {
    const ParsedRequest p = parse_request(c.bytes);
    ASSERT_EQ(p.result, Result::kRefused) << c.name;
    EXPECT_EQ(p.status, c.status) << c.name << ": " << p.error;
    EXPECT_FALSE(p.error.empty()) << c.name;
  }
  // The same content length twice is one length, not a conflict.
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab").result,
            Result::kComplete);
}

TEST(HttpRequestParserTest, LimitsOnHeaderAndBodySizeAreEnforcedBeforeTheBytesArrive) {
  RequestLimits limits;
  limits.max_header_bytes = 256;
  limits.max_body_bytes = 100;
  const ParsedRequest long_header = parse_request("GET / HTTP/1.1\r\nX: " + std::string(300, 'a'), limits);
  ASSERT_EQ(long_header.result, Result::kRefused);
  EXPECT_EQ(long_header.status, 431);
  const ParsedRequest big = parse_request("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", limits);
  ASSERT_EQ(big.result, Result::kRefused);
  EXPECT_EQ(big.status, 413);
  const ParsedRequest big_chunk = parse_request(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n" + std::string(80, 'a') + "\r\n51\r\n", limits);
  ASSERT_EQ(big_chunk.result, Result::kRefused);
  EXPECT_EQ(big_chunk.status, 413);
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'), limits).result,
            Result::kComplete);
}

// Issue 24: bytes that used to slip past every limit (the parser kept asking for more, or accepted).
TEST(HttpRequestParserTest, LeadingEmptyLinesCountAgainstTheLimits) {
  std::string crlfs;
  for (int i = 0; i < 100000; ++i) crlfs += "\r\n";
  const ParsedRequest endless = parse_request(crlfs);
  ASSERT_EQ(endless.result, Result::kRefused);
  EXPECT_EQ(endless.status, 400);
  const ParsedRequest before_request = parse_request(crlfs + "GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(before_request.result, Result::kRefused);
  EXPECT_EQ(before_request.status, 400);
}

TEST(HttpRequestParserTest, EndlessTrailerLinesAreRefused) {
  RequestLimits limits;
  limits.max_header_bytes = 4096;
  std::string trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n";
  for (int i = 0; i < 20000; ++i) trailers += "X-T: y\r\n";
  const ParsedRequest p = parse_request(trailers, limits);
  ASSERT_EQ(p.result, Result::kRefused);
  EXPECT_EQ(p.status, 400);
}

TEST(HttpRequestParserTest, AWholeChunkSizeLineOver1KiBIsRefused) {
  const std::string body = "1;ext=" + std::string(2000, 'e') + "\r\na\r\n0\r\n\r\n";
  const ParsedRequest p = parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
  ASSERT_EQ(p.result, Result::kRefused);
  EXPECT_EQ(p.status, 400);
}

TEST(HttpRequestParserTest, RequestLineAndHeaderCountHaveLimits) {
  RequestLimits limits;
  limits.max_request_line_bytes = 1024;
  limits.max_header_fields = 50;
  const ParsedRequest long_line = parse_request("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n", limits);
  ASSERT_EQ(long_line.result, Result::kRefused);
  EXPECT_EQ(long_line.status, 414);
  const ParsedRequest unfinished_line = parse_request("GET /" + std::string(2000, 'a'), limits);
  ASSERT_EQ(unfinished_line.result, Result::kRefused);
  EXPECT_EQ(unfinished_line.status, 414);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 51; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  const ParsedRequest fields = parse_request(many + "\r\n", limits);
  ASSERT_EQ(fields.result, Result::kRefused);
  EXPECT_EQ(fields.status, 431);
  const ParsedRequest fields_unfinished = parse_request(many, limits);
  ASSERT_EQ(fields_unfinished.result, Result::kRefused);
  EXPECT_EQ(fields_unfinished.status, 431);
}

TEST(HttpRequestParserTest, ChunkFramingOverheadIsBounded) {
  RequestLimits limits;
  limits.max_body_bytes = 1000;
  // 999 bytes of data under 100 KiB of chunk extensions: the input, not only the announced sizes,
  // is bounded (twice the body limit plus the header limit).
  std::string tiny = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 999; ++i) tiny += "1;" + std::string(100, 'x') + "\r\na\r\n";
  const ParsedRequest overhead = parse_request(tiny, limits);
  ASSERT_EQ(overhead.result, Result::kRefused);
  EXPECT_EQ(overhead.status, 413);
}

}  // namespace
}  // namespace kstreams::runtime::http::internal
