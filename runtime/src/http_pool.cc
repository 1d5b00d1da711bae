// HttpPool (kstreams/runtime/http_pool.h) and its response parser (http_response_parser.h).
#include "kstreams/runtime/http_pool.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "http_response_parser.h"
#include "http_url.h"
#include "http_wire.h"
#include "kstreams/common/fault_points.h"
#include "kstreams/common/logging.h"
#include "kstreams/common/status.h"

namespace kstreams::runtime::http {
namespace internal {
namespace {

ParsedResponse malformed(std::string error) {
  ParsedResponse p;
  p.result = ParsedResponse::Result::kMalformed;
  p.error = std::move(error);
  return p;
}

}  // namespace

ParsedResponse parse_response(std::string_view in, bool eof) {
  size_t start = 0;
  for (;;) {  // once per interim (1xx) response
    const size_t header_end = in.find("\r\n\r\n", start);
    if (header_end == std::string_view::npos) {
      if (in.size() - start > kMaxResponseHeaderBytes) return malformed("response header section too large");
      if (eof)
        return malformed(in.size() == start ? "connection closed before a response" : "truncated response header");
      // Reject garbage early rather than waiting for 64 KiB of it.
      const std::string_view head = in.substr(start, std::min<size_t>(in.size() - start, 7));
      if (std::string_view("HTTP/1.").substr(0, head.size()) != head) return malformed("not an HTTP/1.x response");
      return {};
    }
    std::string_view status_line = in.substr(start, in.find("\r\n", start) - start);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
        !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
        !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
        !std::isdigit(static_cast<unsigned char>(status_line[11])) ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
      return malformed("bad status line '" + std::string(status_line.substr(0, 80)) + "'");
    }
    const int status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
    const bool http10 = status_line[7] == '0';
    bool keep_alive = !http10;
    bool chunked = false;
    std::optional<size_t> content_length;
    size_t pos = start + status_line.size() + 2;
    while (pos < header_end + 2) {
      const size_t eol = in.find("\r\n", pos);
      const std::string_view line = in.substr(pos, eol - pos);
      pos = eol + 2;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return malformed("bad header line '" + std::string(line.substr(0, 80)) + "'");
      }
      const std::string_view name = line.substr(0, colon);
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(name, "Content-Length")) {
        size_t length = 0;
        if (!parse_content_length(value, &length)) {
          return malformed("bad Content-Length '" + std::string(value.substr(0, 40)) + "'");
        }
        content_length = length;
      } else if (iequals(name, "Transfer-Encoding")) {
        chunked = icontains(value, "chunked");
      } else if (iequals(name, "Connection")) {
        if (icontains(value, "close")) keep_alive = false;
        if (icontains(value, "keep-alive")) keep_alive = true;
      }
    }
    const size_t body_start = header_end + 4;
    if (status >= 100 && status < 200) {  // interim: the final response follows
      start = body_start;
      continue;
    }
    ParsedResponse out;
    out.status = status;
    out.keep_alive = keep_alive;
    if (status == 204 || status == 304) {
      out.result = ParsedResponse::Result::kComplete;
      out.consumed = body_start;
      return out;
    }
    if (chunked) {
      std::string error;
      const size_t end = chunked_end(in, body_start, &error);
      if (!error.empty()) return malformed(error);
      if (end == std::string_view::npos) return eof ? malformed("truncated chunked body") : ParsedResponse{};
      out.result = ParsedResponse::Result::kComplete;
      out.consumed = end;
      return out;
    }
    if (content_length) {
      if (in.size() - body_start < *content_length) return eof ? malformed("truncated body") : ParsedResponse{};
      out.result = ParsedResponse::Result::kComplete;
      out.consumed = body_start + *content_length;
      return out;
    }
    // No framing: the body runs to the end of the connection.
    if (!eof) return {};
    out.result = ParsedResponse::Result::kComplete;
    out.keep_alive = false;
    out.consumed = in.size();
    return out;
  }
}

}  // namespace internal

namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  std::string port;
  std::string path;
  std::string host_header;
};

absl::StatusOr<Target> parse_target(const std::string& url) {
  KSTREAMS_ASSIGN_OR_RETURN(internal::HttpUrl u, internal::parse_url(url));
  if (u.scheme != "http") {
    return absl::InvalidArgumentError("HttpPool speaks http:// only (HttpClient handles https): '" + url + "'");
  }
  Target t;
  t.host_header = u.host + (u.explicit_port ? ":" + u.port : "");
  t.host = u.host.front() == '[' ? u.host.substr(1, u.host.size() - 2) : u.host;
  t.port = u.port;
  t.path = u.path.empty() ? "/" : u.path;
  return t;
}

struct Pending {
  std::string bytes;  // the whole request
  HttpPool::Callback done;
  bool resent = false;
};

// SCHED_BATCH for `thread` (priority 0; the nice value stays the process's). Linux lets a process
// lower its own threads' policy, but a sandbox (seccomp) may refuse it: the fault point stands for
// that refusal in tests.
absl::Status set_batch_policy(std::thread& thread) {
  KSTREAMS_FAULT_POINT("http_pool.sched_batch");
  const sched_param param{};
  const int rc = pthread_setschedparam(thread.native_handle(), SCHED_BATCH, &param);
  if (rc != 0) return absl::PermissionDeniedError(std::string("SCHED_BATCH refused: ") + std::strerror(rc));
  return absl::OkStatus();
}

}  // namespace

struct HttpPool::Impl {
  Target target;
  Options options;
  int wake_fd = -1;  // eventfd: post() and the destructor wake the I/O thread
  std::thread thread;

  std::mutex mu;
  std::deque<Pending> queue;  // guarded by mu
  bool stopping = false;      // guarded by mu

  std::atomic<int64_t> opened{0};
  std::atomic<int64_t> resent{0};
  bool batch_scheduling = false;  // written by create() before the pool is handed out

  // I/O thread only.
  enum class State { kClosed, kConnecting, kIdle, kBusy };
  struct Conn {
    int fd = -1;
    State state = State::kClosed;
    std::optional<Pending> req;
    size_t written = 0;
    std::string in;
    bool reused = false;  // the connection carried a request before this one
    Clock::time_point deadline;
  };
  std::vector<Conn> conns;

  void close_conn(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    c.state = State::kClosed;
    c.in.clear();
    c.written = 0;
  }

  void finish(Conn& c, absl::StatusOr<int> result) {
    Pending p = std::move(*c.req);
    c.req.reset();
    p.done(std::move(result));
  }

  // Fails the request; sends it again on a new connection when a reused one was found closed
  // before any byte of the response.
  void fail(Conn& c, absl::Status status, bool stale_connection) {
    const bool again = stale_connection && c.reused && c.in.empty() && !c.req->resent;
    close_conn(c);
    if (again) {
      c.req->resent = true;
      resent.fetch_add(1, std::memory_order_relaxed);
      start(c);
      return;
    }
    finish(c, std::move(status));
  }

  absl::Status connect(Conn& c) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &res);
    if (rc != 0) return absl::UnavailableError("resolving " + target.host + ": " + gai_strerror(rc));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, freeaddrinfo);
    int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0) return absl::UnavailableError(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
      const int err = errno;
      ::close(fd);
      return absl::UnavailableError("connecting to " + target.host_header + ": " + std::strerror(err));
    }
    opened.fetch_add(1, std::memory_order_relaxed);
    c.fd = fd;
    c.state = State::kConnecting;
    c.reused = false;
    return absl::OkStatus();
  }

  // Starts c.req on c (connecting first when needed).
  void start(Conn& c) {
    c.deadline = Clock::now() + options.timeout;
    c.written = 0;
    c.in.clear();
    if (c.state == State::kIdle) {
      c.reused = true;
      c.state = State::kBusy;
      return;
    }
    absl::Status st = connect(c);
    if (!st.ok()) finish(c, std::move(st));
  }

  void on_writable(Conn& c) {
    if (c.state == State::kConnecting) {
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        fail(c, absl::UnavailableError("connecting to " + target.host_header + ": " + std::strerror(err)), false);
        return;
      }
      c.state = State::kBusy;
    }
    const std::string& bytes = c.req->bytes;
    while (c.written < bytes.size()) {
      const ssize_t n = ::send(c.fd, bytes.data() + c.written, bytes.size() - c.written, MSG_NOSIGNAL);
      if (n > 0) {
        c.written += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 && errno == EINTR) continue;
      fail(c, absl::UnavailableError(std::string("sending to ") + target.host_header + ": " + std::strerror(errno)),
           true);
      return;
    }
  }

  void on_readable(Conn& c) {
    char buf[16384];
    bool eof = false;
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n == 0) {
        eof = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (c.state == State::kIdle) {
        close_conn(c);
        return;
      }
      fail(c, absl::UnavailableError(std::string("reading from ") + target.host_header + ": " + std::strerror(errno)),
           true);
      return;
    }
    if (c.state == State::kIdle) {
      // The server closed an idle keep-alive connection (or sent bytes nobody asked for).
      close_conn(c);
      return;
    }
    const internal::ParsedResponse p = internal::parse_response(c.in, eof);
    switch (p.result) {
      case internal::ParsedResponse::Result::kNeedMore:
        if (eof) fail(c, absl::UnavailableError("connection closed by " + target.host_header), true);
        return;
      case internal::ParsedResponse::Result::kMalformed:
        if (eof && c.in.empty()) {
          fail(c, absl::UnavailableError("connection closed by " + target.host_header + " before a response"), true);
        } else {
          fail(c, absl::InternalError("bad response from " + target.host_header + ": " + p.error), false);
        }
        return;
      case internal::ParsedResponse::Result::kComplete: {
        const bool reusable = p.keep_alive && !eof && p.consumed == c.in.size();
        if (reusable) {
          c.state = State::kIdle;
          c.in.clear();
        } else {
          close_conn(c);
        }
        finish(c, p.status);
        return;
      }
    }
  }

  void run() {
    pthread_setname_np(pthread_self(), options.thread_name.substr(0, 15).c_str());
    std::vector<pollfd> fds;
    std::vector<Conn*> owners;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) break;
        for (Conn& c : conns) {
          if (c.req || queue.empty()) continue;
          c.req = std::move(queue.front());
          queue.pop_front();
        }
      }
      for (Conn& c : conns) {
        // A request on a closed or idle connection has not started yet (start() moves it on).
        if (c.req && (c.state == State::kClosed || c.state == State::kIdle)) start(c);
      }
      fds.clear();
      owners.clear();
      fds.push_back(pollfd{wake_fd, POLLIN, 0});
      owners.push_back(nullptr);
      Clock::time_point next_deadline = Clock::time_point::max();
      for (Conn& c : conns) {
        if (c.fd < 0) continue;
        short events = POLLIN;
        if (c.state == State::kConnecting || (c.state == State::kBusy && c.written < c.req->bytes.size())) {
          events = POLLOUT;
        }
        fds.push_back(pollfd{c.fd, events, 0});
        owners.push_back(&c);
        if (c.req) next_deadline = std::min(next_deadline, c.deadline);
      }
      int timeout_ms = -1;
      if (next_deadline != Clock::time_point::max()) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - Clock::now()).count();
        timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
      }
      const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
      if (ready < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        uint64_t v = 0;
        (void)!::read(wake_fd, &v, sizeof(v));
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        Conn& c = *owners[i];
        if (c.fd != fds[i].fd || fds[i].revents == 0) continue;
        if (fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) {
          if (c.state == State::kConnecting || c.state == State::kBusy) {
            if ((fds[i].revents & POLLOUT) || c.state == State::kConnecting) on_writable(c);
          }
        }
        if (c.fd >= 0 && (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) && c.state != State::kConnecting) {
          on_readable(c);
        }
      }
      const auto now = Clock::now();
      for (Conn& c : conns) {
        if (c.req && c.fd >= 0 && now >= c.deadline) {
          const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout).count();
          const char* what = c.state == State::kConnecting ? "could not connect to " : "no response from ";
          close_conn(c);
          finish(c, absl::DeadlineExceededError(what + target.host_header + " within " + std::to_string(ms) + " ms"));
        }
      }
    }
  }
};

HttpPool::HttpPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<HttpPool>> HttpPool::create(const std::string& url, Options options) {
  auto target = parse_target(url);
  if (!target.ok()) return target.status();
  if (options.connections < 1) return absl::InvalidArgumentError("HttpPool needs at least one connection");
  if (options.timeout.count() <= 0) return absl::InvalidArgumentError("HttpPool timeout must be positive");
  auto impl = std::make_unique<Impl>();
  impl->target = std::move(*target);
  impl->options = std::move(options);
  impl->conns.resize(static_cast<size_t>(impl->options.connections));
  impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) return absl::InternalError(std::string("eventfd: ") + std::strerror(errno));
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  if (impl->options.batch_scheduling) {
    // Set from here, not from the thread, so stats() reports it as soon as create() returns.
    const absl::Status set = set_batch_policy(impl->thread);
    impl->batch_scheduling = set.ok();
    if (!set.ok()) {
      KS_LOG_WARN("http pool {}: {}; its I/O thread keeps the default policy", impl->options.thread_name,
                  set.ToString());
    }
  }
  return std::unique_ptr<HttpPool>(new HttpPool(std::move(impl)));
}

HttpPool::~HttpPool() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  const uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof(one));
  impl_->thread.join();
  for (auto& c : impl_->conns) {
    impl_->close_conn(c);
    if (c.req) impl_->finish(c, absl::CancelledError("HttpPool destroyed"));
  }
  for (auto& p : impl_->queue) p.done(absl::CancelledError("HttpPool destroyed"));
  ::close(impl_->wake_fd);
}

void HttpPool::post(std::string body, const std::vector<std::pair<std::string, std::string>>& headers, Callback done) {
  std::string bytes;
  bytes.reserve(160 + body.size());
  bytes.append("POST ").append(impl_->target.path).append(" HTTP/1.1\r\nHost: ").append(impl_->target.host_header);
  bytes.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
  for (const auto& [name, value] : headers) bytes.append("\r\n").append(name).append(": ").append(value);
  bytes.append("\r\n\r\n").append(body);
  bool was_empty = false;
  {
    std::lock_guard lock(impl_->mu);
    was_empty = impl_->queue.empty();
    impl_->queue.push_back(Pending{std::move(bytes), std::move(done)});
  }
  // A non-empty queue is seen anyway: the I/O thread takes from it after every poll. Waking it once
  // per batch, not once per request, spares a context switch per call.
  if (was_empty) {
    const uint64_t one = 1;
    (void)!::write(impl_->wake_fd, &one, sizeof(one));
  }
}

HttpPool::Stats HttpPool::stats() const {
  return Stats{impl_->opened.load(std::memory_order_relaxed), impl_->resent.load(std::memory_order_relaxed),
               impl_->batch_scheduling};
}

}  // namespace kstreams::runtime::http
