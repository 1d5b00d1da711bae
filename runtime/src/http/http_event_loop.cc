#include "http_event_loop.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http_request_parser.h"
#include "http_wire.h"
#include "kstreams/common/logging.h"

namespace kstreams::runtime::http::internal {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;
constexpr uint64_t kFirstConnectionTag = 2;
constexpr size_t kMaxPendingOutput = 256 * 1024;  // stop parsing and reading a connection beyond this
constexpr size_t kMaxReadPerEvent = 1 << 20;      // then serve the other ready connections first
constexpr int kSendBufferBytes = 256 * 1024;      // per connection in the kernel (no autotuning to MiBs)
constexpr int kRequestsPerTurn = 16;              // then the other ready connections are served
constexpr size_t kMaxRefusedConnections = 64;     // over max_connections, being told 503 at once
constexpr auto kSweepInterval = std::chrono::milliseconds(250);
constexpr auto kLingerTimeout = std::chrono::seconds(2);  // a draining connection closes after this

const char* reason_phrase(int status) {
  static constexpr std::pair<int, const char*> kPhrases[] = {
      {100, "Continue"},
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {413, "Content Too Large"},
      {417, "Expectation Failed"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& [code, phrase] : kPhrases) {
    if (code == status) return phrase;
  }
  return "Status";  // the reason phrase is informative only (RFC 9112 4)
}

// Appends the response's bytes to `out`. `close`: announce that the connection closes after it;
// `http10_keep_alive`: confirm keep-alive to an HTTP/1.0 client that asked for it.
void serialize(const HttpResponse& r, bool close, bool http10_keep_alive, std::string* out, bool head = false) {
  const bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
  out->append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(reason_phrase(r.status));
  out->append("\r\nContent-Type: ").append(r.content_type);
  if (!no_body) out->append("\r\nContent-Length: ").append(std::to_string(r.body.size()));
  for (const auto& [name, value] : r.headers) {
    // Framing and the connection are this server's to say.
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Connection") ||
        iequals(name, "Content-Type")) {
      continue;
    }
    out->append("\r\n").append(name).append(": ").append(value);
  }
  if (close) out->append("\r\nConnection: close");
  if (!close && http10_keep_alive) out->append("\r\nConnection: keep-alive");
  out->append("\r\n\r\n");
  if (!no_body && !head) out->append(r.body);
}

// Where a request's response goes once a handler produced it.
struct Reply {
  bool keep_alive = true;
  bool http10 = false;
  bool head = false;
};

// Routes one request; never throws (a failure of the router itself is a generic 500).
HttpResponse route(const Router& router, ParsedRequest& p) {
  try {
    HttpRequest request;
    const size_t question = p.target.find('?');
    if (question != std::string::npos &&
        !parse_query(std::string_view(p.target).substr(question + 1), &request.query)) {
      return json_error(400, "bad_request", "malformed percent-escape in query");
    }
    // HEAD is served as GET without the body (RFC 9110 9.3.2).
    request.method = p.method == "HEAD" ? "GET" : std::move(p.method);
    request.target = p.target;
    request.headers = std::move(p.headers);
    request.body = std::move(p.body);
    return router.dispatch(p.target, std::move(request));
  } catch (const std::exception& e) {
    KS_LOG_ERROR("http server: routing {} failed: {}", p.target.substr(0, 200), e.what());
  } catch (...) {
    KS_LOG_ERROR("http server: routing {} failed", p.target.substr(0, 200));
  }
  HttpResponse r;
  r.status = 500;
  r.body = R"({"error":"internal","message":"internal error"})";
  return r;
}

struct Connection {
  int fd = -1;
  uint64_t tag = 0;
  std::string in;
  std::string out;
  size_t out_sent = 0;
  uint32_t events = 0;     // the interest registered with epoll
  size_t complete_at = 0;  // the parser's hint: no whole request before `in` reaches this size
  bool continue_sent = false;
  bool in_flight = false;              // a request of it is with a handler thread: parse nothing more until it returns
  bool input_while_in_flight = false;  // EPOLLIN fired while in_flight
  bool blocked = false;                // parsing paused with whole requests left (turn budget or output limit)
  bool ready = false;                  // in the ready list: has whole requests to serve on the next turn
  bool refused = false;                // over max_connections: told 503, closing
  bool closing = false;                // close once `out` is written; read nothing more
  bool peer_closed = false;            // the client shut its side down: answer what is whole, then close
  // Closing, output written and our side shut down: what the client still sends is read and
  // dropped until it closes (a lingering close), so that unread bytes do not make the kernel reset
  // the connection before the client has read our last answer (e.g. a 413 before its body).
  bool draining = false;
  // TLS (Options::tls): the session; nullptr for plain connections, and once a plain-HTTP request to
  // the TLS port is being answered in plain text.
  std::unique_ptr<TlsStream> tls;
  bool handshaking = false;           // TLS handshake not finished: no HTTP yet
  bool tls_checked = false;           // the first byte was seen to start a TLS record
  bool tls_read_wants_write = false;  // a TLS read waits for the socket to take bytes (EPOLLOUT)
  Clock::time_point accepted_at;
  Clock::time_point last_activity;
  std::optional<Clock::time_point> request_started;       // first byte of a request not yet whole
  std::optional<Clock::time_point> output_waiting_since;  // output pending, no progress since

  [[nodiscard]] bool output_pending() const { return out_sent < out.size(); }
};

// The handler threads (Options::handler_threads > 0): requests in, responses out, the loop woken
// through the eventfd for each response.
struct Job {
  uint64_t tag = 0;
  ParsedRequest request;
  Reply reply;
};
struct Done {
  uint64_t tag = 0;
  HttpResponse response;
  Reply reply;
};

absl::StatusOr<int> bind_listener(const std::string& host, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const std::string where = host + ":" + service;
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return absl::UnavailableError("cannot bind " + where + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, freeaddrinfo);
  std::string error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    // SO_REUSEADDR for quick restarts; not SO_REUSEPORT, which would let a second server share the port.
    const int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      *bound_port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                               : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    }
    return fd;
  }
  return absl::UnavailableError("cannot bind " + where + ": " + error);
}

}  // namespace

struct EventLoopServer::Workers {
  const Router* router = nullptr;
  int wake_fd = -1;
  size_t max_queued = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;   // guarded by mu
  std::deque<Done> done;  // guarded by mu
  bool stopping = false;  // guarded by mu
  std::vector<std::thread> threads;

  // False when the queue is full (the caller answers 503).
  bool submit(Job job) {
    {
      std::lock_guard lock(mu);
      if (jobs.size() >= max_queued) return false;
      jobs.push_back(std::move(job));
    }
    cv.notify_one();
    return true;
  }

  std::deque<Done> take_done() {
    std::lock_guard lock(mu);
    return std::exchange(done, {});
  }

  void run() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [this] { return stopping || !jobs.empty(); });
        if (stopping) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      Done d{job.tag, route(*router, job.request), job.reply};
      {
        std::lock_guard lock(mu);
        done.push_back(std::move(d));
      }
      const uint64_t one = 1;
      (void)!::write(wake_fd, &one, sizeof(one));
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

struct EventLoopServer::Loop {
  Options options;
  const Router* router = nullptr;
  const std::atomic<bool>* stopping = nullptr;
  int listen_fd = -1;
  int wake_fd = -1;
  int epoll_fd = -1;
  bool accepting = true;  // the listen socket is in the epoll set
  uint64_t next_tag = kFirstConnectionTag;
  std::unordered_map<uint64_t, Connection> connections;
  size_t refused_connections = 0;  // of `connections`, over the cap and being told 503
  std::vector<uint64_t> ready;     // connections with whole requests left for the next turn
  Workers* workers = nullptr;      // nullptr: handlers run on this thread
  RequestLimits limits;

  ~Loop() {
    for (auto& [tag, c] : connections) ::close(c.fd);
    if (listen_fd >= 0) ::close(listen_fd);
    if (epoll_fd >= 0) ::close(epoll_fd);
  }

  void watch(Connection& c, uint32_t events) {
    if (events == c.events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.tag;
    (void)::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = events;
  }

  void close_connection(uint64_t tag) {
    auto it = connections.find(tag);
    if (it == connections.end()) return;
    ::close(it->second.fd);  // also removes it from the epoll set
    if (it->second.refused) --refused_connections;
    connections.erase(it);
    resume_accepting();
  }

  void pause_accepting() {
    if (!accepting) return;
    (void)::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
    accepting = false;
  }

  void resume_accepting() {
    if (accepting || connections.size() >= options.max_connections + kMaxRefusedConnections) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) == 0) accepting = true;
  }

  void accept_all(Clock::time_point now) {
    while (connections.size() < options.max_connections + kMaxRefusedConnections) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // Out of descriptors (EMFILE/ENFILE) or memory: stop accepting until the next sweep, or
        // until a connection closes, instead of spinning on a listen socket that stays readable.
        KS_LOG_WARN("http server {}: accept: {}; pausing new connections", options.thread_name, std::strerror(errno));
        pause_accepting();
        return;
      }
      const bool over_cap = connections.size() - refused_connections >= options.max_connections;
      if (over_cap && options.tls) {
        ::close(fd);  // a 503 would need a handshake first: closed at once
        continue;
      }
      const int one = 1;
      (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSendBufferBytes, sizeof(kSendBufferBytes));
      const uint64_t tag = next_tag++;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = tag;
      if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      Connection& c = connections[tag];
      c.fd = fd;
      c.tag = tag;
      c.events = EPOLLIN;
      c.last_activity = now;
      c.accepted_at = now;
      if (options.tls) {
        c.tls = TlsStream::accept(*options.tls, fd);
        if (!c.tls) {
          close_connection(tag);
          continue;
        }
        c.handshaking = true;
        continue;
      }
      if (over_cap) {
        // Told at once rather than left waiting in the backlog; the close lingers like any other.
        ++refused_connections;
        c.refused = true;
        c.closing = true;
        serialize(json_error(503, "unavailable", "too many connections"), true, false, &c.out);
        on_event(tag, EPOLLOUT, now);
      }
    }
    pause_accepting();  // at the cap: the rest wait in the backlog
  }

  // Reads what the socket has (up to kMaxReadPerEvent); false when the connection failed.
  bool read_from(Connection& c) {
    char buf[65536];
    size_t total = 0;
    if (c.tls) {
      // One read takes a whole TLS record (at most 16 KiB), so nothing decrypted waits in OpenSSL
      // when this stops: what is left is in the kernel, and epoll reports it.
      while (total < kMaxReadPerEvent) {
        size_t n = 0;
        switch (c.tls->read(buf, sizeof(buf), &n)) {
          case TlsStream::Io::kOk:
            c.in.append(buf, n);
            total += n;
            continue;
          case TlsStream::Io::kWantRead:
            return true;
          case TlsStream::Io::kWantWrite:
            c.tls_read_wants_write = true;
            return true;
          case TlsStream::Io::kClosed:
            c.peer_closed = true;
            return true;
          case TlsStream::Io::kFailed:
            KS_LOG_DEBUG("http server {}: TLS read: {}", options.thread_name, c.tls->error());
            return false;
        }
      }
      return true;
    }
    while (total < kMaxReadPerEvent) {
      const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        total += static_cast<size_t>(n);
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n == 0) {
        c.peer_closed = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;  // reset by the peer
    }
    return true;
  }

  // Reads and drops what a draining connection receives; false once the client closed (or failed).
  static bool discard_input(Connection& c) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }

  [[nodiscard]] static bool output_full(const Connection& c) { return c.out.size() - c.out_sent >= kMaxPendingOutput; }

  // Serves the whole requests in `c.in`, appending the responses to `c.out`, up to the turn budget,
  // the output limit or a request handed to a handler thread. Sets c.blocked when whole requests
  // may be left.
  void serve(Connection& c, Clock::time_point now) {
    size_t offset = 0;
    int served = 0;
    c.blocked = false;
    while (!c.closing && !c.in_flight && offset < c.in.size()) {
      if (served == kRequestsPerTurn || output_full(c)) {
        c.blocked = true;
        break;
      }
      if (c.complete_at > 0 && c.in.size() - offset < c.complete_at) break;
      ParsedRequest p = parse_request(std::string_view(c.in).substr(offset), limits);
      if (p.result == ParsedRequest::Result::kNeedMore) {
        c.complete_at = p.complete_at;
        if (!c.request_started) c.request_started = now;
        if (p.expects_continue && !c.continue_sent && !c.peer_closed) {
          c.out.append("HTTP/1.1 100 Continue\r\n\r\n");
          c.continue_sent = true;
        }
        break;
      }
      c.complete_at = 0;
      c.continue_sent = false;
      c.request_started.reset();
      if (p.result == ParsedRequest::Result::kRefused) {
        serialize(json_error(p.status, p.status == 503 ? "unavailable" : "bad_request", p.error), true, false, &c.out);
        c.closing = true;
        break;
      }
      offset += p.consumed;
      ++served;
      const Reply reply{p.keep_alive, p.http10, p.method == "HEAD"};
      if (!reply.keep_alive) c.closing = true;
      if (workers != nullptr) {
        if (workers->submit(Job{c.tag, std::move(p), reply})) {
          c.in_flight = true;
          break;
        }
        respond(c, json_error(503, "unavailable", "the server is busy; retry"), reply);
        continue;
      }
      respond(c, route(*router, p), reply);
    }
    if (offset > 0) c.in.erase(0, offset);
    // The client has shut its side, so nothing more arrives: unless parsing paused, what is left is
    // an incomplete request that will never be whole.
    if (c.peer_closed && !c.blocked && !c.in_flight) c.closing = true;
  }

  static void respond(Connection& c, const HttpResponse& response, const Reply& reply) {
    serialize(response, !reply.keep_alive, reply.http10 && reply.keep_alive, &c.out, reply.head);
  }

  // Writes what the socket takes; false when the connection failed.
  bool write_to(Connection& c, Clock::time_point now) {
    while (c.output_pending() && c.tls) {
      size_t n = 0;
      switch (c.tls->write(c.out.data() + c.out_sent, c.out.size() - c.out_sent, &n)) {
        case TlsStream::Io::kOk:
          c.out_sent += n;
          c.output_waiting_since = now;
          continue;
        case TlsStream::Io::kWantWrite:
          if (!c.output_waiting_since) c.output_waiting_since = now;
          return true;
        case TlsStream::Io::kWantRead:  // only a renegotiation would make a write read; it is off
        case TlsStream::Io::kClosed:
        case TlsStream::Io::kFailed:
          return false;
      }
    }
    while (c.output_pending()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<size_t>(n);
        c.output_waiting_since = now;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c.output_waiting_since) c.output_waiting_since = now;
        return true;
      }
      return false;
    }
    c.out.clear();
    c.out_sent = 0;
    c.output_waiting_since.reset();
    return true;
  }

  // Moves a TLS handshake on; true once it is established. False while it waits for the socket, and
  // when the connection was closed or turned to answering a plain-HTTP request.
  bool advance_handshake(uint64_t tag, Connection& c) {
    if (!c.tls_checked) {
      unsigned char first = 0;
      ssize_t n = 0;
      do {
        n = ::recv(c.fd, &first, 1, MSG_PEEK);
      } while (n < 0 && errno == EINTR);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
      if (n <= 0) {
        close_connection(tag);
        return false;
      }
      c.tls_checked = true;
      if (first != 0x16) {  // not a TLS handshake record
        c.tls.reset();
        c.handshaking = false;
        if (first < 'A' || first > 'Z') {
          close_connection(tag);
          return false;
        }
        // A plain request (a method's first letter): say so in plain text, then close.
        serialize(json_error(400, "bad_request", "this port speaks TLS: use https"), true, false, &c.out);
        c.closing = true;
        progress(tag, c);
        return false;
      }
    }
    switch (c.tls->handshake()) {
      case TlsStream::Io::kOk:
        c.handshaking = false;
        return true;
      case TlsStream::Io::kWantRead:
        watch(c, EPOLLIN);
        return false;
      case TlsStream::Io::kWantWrite:
        watch(c, EPOLLOUT);
        return false;
      case TlsStream::Io::kClosed:
      case TlsStream::Io::kFailed:
        KS_LOG_DEBUG("http server {}: TLS handshake failed: {}", options.thread_name, c.tls->error());
        close_connection(tag);
        return false;
    }
    return false;
  }

  // Reads, serves and writes one connection after an event; closes it when it is done or failed.
  void on_event(uint64_t tag, uint32_t events, Clock::time_point now) {
    auto it = connections.find(tag);
    if (it == connections.end()) return;  // closed earlier in this round
    Connection& c = it->second;
    if (c.draining) {
      if (!discard_input(c)) close_connection(tag);
      return;
    }
    c.last_activity = now;
    if (c.handshaking) {
      if (!advance_handshake(tag, c)) return;  // still in the handshake, or closed
      events = EPOLLIN;                        // established: read what followed it
    }
    if (c.tls_read_wants_write && (events & EPOLLOUT)) {
      c.tls_read_wants_write = false;
      events |= EPOLLIN;
    }
    // A connection with whole requests still to serve, or answers the client does not read, is
    // not read from: its unread bytes stay in the kernel, which makes the client wait.
    const bool may_read = !c.closing && !c.peer_closed && !c.blocked && !c.in_flight && !output_full(c);
    // Bytes arrived while a request is with a handler: stop watching them until it returns.
    if ((events & EPOLLIN) && c.in_flight) c.input_while_in_flight = true;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && may_read) {
      if (!read_from(c)) return close_connection(tag);
    }
    if (!(events & (EPOLLIN | EPOLLOUT)) && (events & EPOLLERR)) return close_connection(tag);
    progress(tag, c);
  }

  // Serves what is whole (one turn), writes, and sets the epoll interest; closes when done.
  void progress(uint64_t tag, Connection& c) {
    const Clock::time_point now = c.last_activity;
    for (;;) {
      const size_t unparsed = c.in.size();
      const bool was_blocked_on_output = c.blocked && output_full(c);
      serve(c, now);
      if (!write_to(c, now)) return close_connection(tag);
      // Output went out and parsing had stopped only for it: carry on within this turn.
      if (!(was_blocked_on_output && !output_full(c)) || c.in.size() == unparsed) break;
    }
    if (!c.output_pending() && c.closing && !c.in_flight) {
      if (c.peer_closed) return close_connection(tag);
      if (c.tls) c.tls->close_notify();
      ::shutdown(c.fd, SHUT_WR);
      c.draining = true;
      c.blocked = false;
      c.in.clear();
      return watch(c, EPOLLIN);
    }
    if (c.blocked && !output_full(c) && !c.ready) {
      c.ready = true;  // the turn budget ran out: the next turn comes after the others'
      ready.push_back(tag);
    }
    uint32_t want = 0;
    const bool may_read = !c.closing && !c.peer_closed && !c.blocked && !output_full(c);
    // While a request is with a handler, EPOLLIN stays registered (saving two epoll_ctl calls per
    // request) until bytes actually arrive (a pipelining client); then it is dropped until the answer.
    if (may_read && (!c.in_flight || ((c.events & EPOLLIN) && !c.input_while_in_flight))) want |= EPOLLIN;
    if (c.output_pending() || c.tls_read_wants_write) want |= EPOLLOUT;
    if (want == 0 && !c.in_flight && !c.ready) return close_connection(tag);  // peer gone, nothing left to say
    watch(c, want);
  }

  // Gives every connection of the ready list its next turn.
  void serve_ready(Clock::time_point now) {
    std::vector<uint64_t> turn = std::exchange(ready, {});
    for (uint64_t tag : turn) {
      auto it = connections.find(tag);
      if (it == connections.end()) continue;
      it->second.ready = false;
      it->second.last_activity = now;
      progress(tag, it->second);
    }
  }

  // Responses from the handler threads.
  void take_responses(Clock::time_point now) {
    if (workers == nullptr) return;
    for (Done& d : workers->take_done()) {
      auto it = connections.find(d.tag);
      if (it == connections.end()) continue;  // the client went away meanwhile
      Connection& c = it->second;
      c.in_flight = false;
      c.input_while_in_flight = false;
      respond(c, d.response, d.reply);
      c.last_activity = now;
      progress(d.tag, c);
    }
  }

  // Timeouts: a request not whole in time (408), an idle keep-alive connection, stalled output.
  void sweep(Clock::time_point now) {
    std::vector<uint64_t> to_close;
    for (auto& [tag, c] : connections) {
      if (c.draining) {
        if (now - c.last_activity > kLingerTimeout) to_close.push_back(tag);
      } else if (c.handshaking) {
        // The handshake counts as the first request's arrival: whole within read_timeout, and no
        // silence longer than the keep-alive timeout meanwhile.
        if (now - c.accepted_at > options.read_timeout || now - c.last_activity > options.keep_alive_timeout) {
          to_close.push_back(tag);
        }
      } else if (c.output_waiting_since && now - *c.output_waiting_since > options.read_timeout) {
        to_close.push_back(tag);
      } else if (c.request_started && !c.closing && now - *c.request_started > options.read_timeout) {
        serialize(json_error(408, "request_timeout", "the request did not arrive whole in time"), true, false, &c.out);
        c.closing = true;
        c.in.clear();
        watch(c, EPOLLOUT);  // on_event writes it, then closes
      } else if (!c.request_started && !c.output_pending() && c.in.empty() && !c.in_flight &&
                 now - c.last_activity > options.keep_alive_timeout) {
        to_close.push_back(tag);
      }
    }
    for (uint64_t tag : to_close) close_connection(tag);
    resume_accepting();
  }

  void run() {
    pthread_setname_np(pthread_self(), options.thread_name.substr(0, 15).c_str());
    // OpenSSL writes to the socket with write(), not send(MSG_NOSIGNAL): a peer gone away must not
    // kill the process with SIGPIPE (a blocked, thread-directed SIGPIPE is simply dropped at exit).
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::vector<epoll_event> events(256);
    Clock::time_point next_sweep = Clock::now() + kSweepInterval;
    while (!stopping->load(std::memory_order_acquire)) {
      const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                 ready.empty() ? static_cast<int>(kSweepInterval.count()) : 0);
      if (n < 0 && errno != EINTR) {
        KS_LOG_ERROR("http server {}: epoll_wait: {}", options.thread_name, std::strerror(errno));
        break;
      }
      const Clock::time_point now = Clock::now();
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[static_cast<size_t>(i)].data.u64;
        if (tag == kWakeTag) {  // stop() or responses from the handler threads
          uint64_t count = 0;
          (void)!::read(wake_fd, &count, sizeof(count));
          take_responses(now);
          continue;
        }
        if (tag == kListenTag) {
          accept_all(now);
          continue;
        }
        on_event(tag, events[static_cast<size_t>(i)].events, now);
      }
      if (n == 0 || !ready.empty()) serve_ready(now);
      if (now >= next_sweep) {
        sweep(now);
        next_sweep = now + kSweepInterval;
      }
    }
    // Stopping: hand the sockets whatever answers are ready, without waiting for them.
    const Clock::time_point now = Clock::now();
    for (auto& [tag, c] : connections) (void)write_to(c, now);
  }
};

absl::StatusOr<std::unique_ptr<EventLoopServer>> EventLoopServer::start(Options options, const Router* router) {
  auto loop = std::make_unique<Loop>();
  loop->router = router;
  loop->limits.max_body_bytes = options.max_body_bytes;
  loop->limits.max_header_bytes = options.max_header_bytes;
  loop->limits.max_request_line_bytes = options.max_request_line_bytes;
  loop->limits.max_header_fields = options.max_header_fields;
  int bound_port = options.port;
  KSTREAMS_ASSIGN_OR_RETURN(loop->listen_fd, bind_listener(options.host, options.port, &bound_port));
  loop->options = std::move(options);
  loop->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (loop->epoll_fd < 0) return absl::InternalError(std::string("epoll_create1: ") + std::strerror(errno));
  std::unique_ptr<EventLoopServer> server(new EventLoopServer());
  server->port_ = bound_port;
  server->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (server->wake_fd_ < 0) return absl::InternalError(std::string("eventfd: ") + std::strerror(errno));
  loop->wake_fd = server->wake_fd_;
  loop->stopping = &server->stopping_;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  if (::epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->listen_fd, &ev) != 0) {
    return absl::InternalError(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev) != 0) {
    return absl::InternalError(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  if (loop->options.handler_threads > 0) {
    server->workers_ = std::make_unique<Workers>();
    Workers& w = *server->workers_;
    w.router = router;
    w.wake_fd = server->wake_fd_;
    w.max_queued = std::max<size_t>(1, loop->options.max_queued_requests);
    for (size_t i = 0; i < loop->options.handler_threads; ++i) {
      w.threads.emplace_back([&w, name = loop->options.thread_name] {
        pthread_setname_np(pthread_self(), (name.substr(0, 12) + "-w").c_str());
        w.run();
      });
    }
    loop->workers = &w;
  }
  server->loop_ = std::move(loop);
  Loop* raw = server->loop_.get();
  server->thread_ = std::thread([raw] { raw->run(); });
  return server;
}

EventLoopServer::~EventLoopServer() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void EventLoopServer::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  if (workers_) workers_->stop();  // handlers in progress finish; their responses are dropped
  loop_.reset();                   // closes the connections and the listening socket
}

}  // namespace kstreams::runtime::http::internal
