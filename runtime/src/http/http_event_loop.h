// The event-loop engine of HttpServer (HttpServerEngine::kEventLoop; the contract is in
// kstreams/runtime/http.h): one thread, one epoll set, every connection non-blocking.
//
// Per connection: bytes read are parsed into requests (http_request_parser.h) as long as whole ones
// are there; each is routed (on the loop thread, or on one of `handler_threads` workers, one
// request of a connection at a time) and its response appended to the connection's output, so
// pipelined requests are answered in order. Output is written until the socket would block, then
// on EPOLLOUT. Fairness and memory bounds: a connection gets at most 16 requests per turn before
// the other ready connections are served; while more than 256 KiB of its answers wait to be written
// (a client that does not read them), or a whole request of it waits, nothing more is read from it;
// its kernel send buffer is 256 KiB. Connections beyond `max_connections` get 503 and are closed
// (up to 64 of them at a time; beyond that they wait in the listen backlog). A request the parser refuses is answered
// (400/413/417/431/501/505) and the connection closed once that answer is out; so is an HTTP/1.0 request without
// keep-alive or a "Connection: close". A request not whole within read_timeout of its first byte gets 408 and the
// connection closes; a connection idle for keep_alive_timeout closes; so does one whose output
// makes no progress for read_timeout. With Options::tls the same holds on top of TLS (see there).
//
// Thread-safety: start() and stop() from the owning thread; the router must outlive the server and
// is only read (Router::dispatch is const). Handlers run on the loop thread, one at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "http_router.h"
#include "http_tls.h"
#include "kstreams/common/status.h"

namespace kstreams::runtime::http::internal {

class EventLoopServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;  // 0 = ephemeral
    std::chrono::milliseconds read_timeout{5000};
    std::chrono::milliseconds keep_alive_timeout{2000};
    size_t max_body_bytes = 16 * 1024 * 1024;
    size_t max_header_bytes = 64 * 1024;
    size_t max_request_line_bytes = 8 * 1024;
    size_t max_header_fields = 100;
    size_t max_connections = 1024;
    // 0: handlers run on the loop thread (they must not block). N > 0: N worker threads run them,
    // so a handler may block (e.g. forward to another instance); at most `max_queued_requests`
    // wait for a worker, beyond that a request gets 503.
    size_t handler_threads = 0;
    size_t max_queued_requests = 256;
    std::string thread_name = "http-loop";
    // Set: every connection speaks TLS (http_tls.h). The handshake runs on the loop, non-blocking; it
    // must finish within read_timeout of the accept, and a connection silent for keep_alive_timeout
    // meanwhile closes (no answer: there is no channel yet). A first byte that is not a TLS record
    // closes the connection, after a plain 400 when it looks like an HTTP request. Beyond
    // max_connections a connection is closed at once instead of being told 503.
    std::shared_ptr<const TlsServerContext> tls;
  };

  // Binds, listens and starts the loop thread; connections are accepted once it returns.
  // kUnavailable when the address cannot be bound; kInternal when epoll or eventfd fail.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EventLoopServer>> start(Options options, const Router* router);
  ~EventLoopServer();
  EventLoopServer(const EventLoopServer&) = delete;
  EventLoopServer& operator=(const EventLoopServer&) = delete;

  // Stops the loop: responses already produced are written if the sockets take them without
  // waiting, then every connection is closed. Idempotent.
  void stop();
  [[nodiscard]] int port() const { return port_; }

 private:
  struct Loop;
  struct Workers;
  EventLoopServer() = default;

  int port_ = 0;
  int wake_fd_ = -1;
  std::unique_ptr<Workers> workers_;  // before loop_: destroyed after it
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace kstreams::runtime::http::internal
