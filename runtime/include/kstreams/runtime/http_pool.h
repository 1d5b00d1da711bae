// HttpPool: many small HTTP/1.1 POSTs to one http:// or https:// endpoint (a webhook) over a few
// keep-alive connections, all driven by one I/O thread running libcurl's multi interface.
//
// Why: a thread per concurrent call (HttpClient in a worker pool) costs two context switches and a
// handful of blocking syscalls per request; at thousands of calls per second on a small machine
// that is CPU the stream threads need. Here one thread multiplexes every connection.
//
// Contract:
//   - post() queues a request and returns at once. Requests start in submission order, at most
//     `connections` at a time, one per connection (no pipelining); connections are kept alive and
//     reused.
//   - `done` runs exactly once: on the I/O thread with the HTTP status code (any code, the caller
//     decides what success is) or an error: kInvalidArgument (a header name or value that cannot
//     be sent, see check_header(); then nothing is sent and `done` runs on the calling thread
//     before post() returns), kUnavailable (cannot resolve or connect, connection reset or closed
//     before a complete response, TLS failure), kDeadlineExceeded (no complete response within
//     Options::timeout of the request starting, connect included), kResourceExhausted (the
//     response's body is larger than Options::max_response_bytes, or its header lines, interim 1xx
//     responses included, exceed kMaxResponseHeaderBytes), kInternal (the server's bytes are not
//     an HTTP/1.x response). When the pool is destroyed, requests not finished get kCancelled, on
//     the destroying thread.
//   - A request sent on a reused keep-alive connection that turns out to be closed by the server
//     may be sent once more on a new connection (libcurl does): the server may then see it twice,
//     which is why calls carry an idempotency key (POST is not idempotent by itself).
//   - Response bodies are read and discarded (never buffered); redirects are not followed; only
//     http and https are spoken; proxies from the environment are not used; no
//     `Expect: 100-continue`.
//
// Thread-safety: post() may be called from any thread. `done` must be quick and must not block:
// it runs on the I/O thread between two polls. Ownership: the caller owns the pool; destroying it
// joins the I/O thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kstreams/runtime/http.h"

namespace kstreams::runtime::http {

class HttpPool {
 public:
  struct Options {
    int connections = 8;                      // concurrent requests (each on its own connection)
    std::chrono::milliseconds timeout{2000};  // per request, from its start (connect included)
    std::string thread_name = "http-pool";    // the I/O thread's name (top -H), cut to 15 characters
    // Run the I/O thread under Linux's SCHED_BATCH policy (same nice level, same CPU share). The
    // I/O thread wakes once per response; under the default policy each wake-up preempts whatever
    // runs on that core, typically a busy stream thread, thousands of times a second. A
    // SCHED_BATCH thread never preempts on wake-up: it runs when the running thread blocks or its
    // time slice ends, so responses may wait up to a scheduler slice (a few ms) longer. Worth it
    // when the pool shares a core with CPU-bound work and its calls are not latency-critical. If
    // the kernel refuses the policy, the pool runs under the default one (Stats says which).
    bool batch_scheduling = false;
    // A response body larger than this fails the request (kResourceExhausted) as soon as it is
    // announced (Content-Length) or read past; bodies are discarded, so this bounds time, not memory.
    size_t max_response_bytes = 1 << 20;
    HttpClientTls tls;  // used for an https:// URL
  };
  // The HTTP status code, or an error (see above).
  using Callback = std::function<void(absl::StatusOr<int> status)>;

  // `url`: "http[s]://host[:port][/path]" (or "host:port[/path]", http); requests go to that path.
  // Starts the I/O thread. kInvalidArgument for a malformed URL, another scheme or bad options.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpPool>> create(const std::string& url, Options options);
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // POST `body` with Content-Type application/json and the extra `headers`.
  void post(std::string body, const std::vector<std::pair<std::string, std::string>>& headers, Callback done);

  struct Stats {
    int64_t connections_opened = 0;  // new connections made (keep-alive reuse makes none)
    // Options::batch_scheduling asked for and in effect (set by create()).
    bool batch_scheduling = false;
  };
  [[nodiscard]] Stats stats() const;

 private:
  struct Impl;
  explicit HttpPool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kstreams::runtime::http
