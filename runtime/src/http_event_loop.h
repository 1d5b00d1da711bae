// The event-loop engine of HttpServer (HttpServerEngine::kEventLoop; the contract is in
// kstreams/runtime/http.h): one thread, one epoll set, every connection non-blocking.
//
// Per connection: bytes read are parsed into requests (http_request_parser.h) as long as whole ones
// are there; each is routed at once, on the loop thread, and its response appended to the
// connection's output, so pipelined requests are answered in order. Output is written until the
// socket would block, then on EPOLLOUT; while more than 1 MiB waits to be written, the connection's
// further requests wait too. A request the parser refuses is answered (400/413/417/431/501/505) and
// the connection closed once that answer is out; so is an HTTP/1.0 request without keep-alive or a
// "Connection: close". A request not whole within read_timeout of its first byte gets 408 and the
// connection closes; a connection idle for keep_alive_timeout closes; so does one whose output
// makes no progress for read_timeout.
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
    size_t max_connections = 4096;  // beyond it, new connections wait in the listen backlog
    std::string thread_name = "http-loop";
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
  EventLoopServer() = default;

  int port_ = 0;
  int wake_fd_ = -1;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace kstreams::runtime::http::internal
