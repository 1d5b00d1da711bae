// What HttpClient and HttpPool share of libcurl (runtime-internal): the options every easy handle
// of the project gets, the per-transfer state its callbacks fill in, request header lists checked
// with check_header(), and one mapping from CURLcode to absl::Status.
//
// Every handle: only http and https, no redirects, no proxy from the environment, HTTP/1.1, no
// signals, TCP_NODELAY, the path sent as given (no "/../" squashing), a connect timeout and a total
// timeout, and a response cap: a body larger than Transfer::body_cap fails the transfer as soon as
// it is announced (Content-Length) or read past; header lines, interim 1xx responses included, are
// capped at kMaxResponseHeaderBytes.
//
// Thread-safety: a Transfer belongs to the thread driving its handle.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "kstreams/runtime/http.h"

namespace kstreams::runtime::http::internal {

// curl_global_init, once per process (before any other libcurl call).
void init_curl_once();

// The state of one transfer; the handle's write and header callbacks fill it in.
struct Transfer {
  size_t body_cap = 0;     // a body larger than this aborts the transfer
  bool keep_body = false;  // false: the body is counted and discarded
  std::string body;        // the body read (keep_body)
  size_t body_bytes = 0;
  size_t header_bytes = 0;
  bool keep_headers = false;  // true: headers of the final response are collected into `headers`
  HttpHeaders headers;
  enum class Abort { kNone, kBody, kHeaders } abort = Abort::kNone;
  char error[CURL_ERROR_SIZE] = {};

  // Points the handle's callbacks and error buffer at this transfer (for its duration).
  void attach(CURL* easy);
};

struct EasyOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds total_timeout{5000};  // from the start of the transfer, connect included
  size_t max_response_bytes = 1 << 20;
};

// Sets the project-wide options above on `easy` (after creation or curl_easy_reset()).
void configure_easy(CURL* easy, const EasyOptions& options);

// https settings: the server's certificate chains to tls.ca_file (empty: the system's trust store)
// and names the host; TLS 1.2 or newer; tls.cert_file/key_file presented when the server asks.
void configure_tls(CURL* easy, const HttpClientTls& tls);

// A curl header list of `headers` (each checked with check_header(); kInvalidArgument names the
// first that cannot be sent, and nothing is allocated) plus "Expect:" (no 100-continue round trip)
// and, when not empty, `content_type`. The caller frees it with curl_slist_free_all.
[[nodiscard]] absl::StatusOr<curl_slist*> header_list(const std::vector<std::pair<std::string, std::string>>& headers,
                                                      std::string_view content_type);

// The status of a failed transfer (`code` != CURLE_OK), its message naming `peer`:
// kDeadlineExceeded (connect or response timeout), kUnavailable (cannot resolve or connect, reset,
// closed early, TLS failure, certificate not verified), kResourceExhausted (over a response cap),
// kInternal (not an HTTP/1.x response).
[[nodiscard]] absl::Status transfer_status(CURL* easy, const Transfer& transfer, CURLcode code, const std::string& peer,
                                           const EasyOptions& options);

}  // namespace kstreams::runtime::http::internal
