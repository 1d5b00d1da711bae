// A client TCP connection to 127.0.0.1 that sends raw bytes, for tests of hostile HTTP input
// (garbage, slowloris, half requests) against a server in the test process or in another process.
// Header-only; one thread per connection.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kstreams::testing {

class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  // Sends everything, waiting for the socket as needed; false once the server closed or reset it.
  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void shut_write() { ::shutdown(fd_, SHUT_WR); }
  // Sends what the socket takes now (never blocks); false once the server closed or reset it.
  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // Waits until `deadline` for bytes and appends what one read returns to `*out`; false on timeout.
  // The server's close counts as bytes (none): closed() is then true.
  bool read_some(std::chrono::steady_clock::time_point deadline, std::string* out) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return true;
    }
    out->append(buf, static_cast<size_t>(n));
    return true;
  }
  // Whatever arrives within `timeout` (stops early at the server's close: closed() is then true).
  std::string read_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    while (!closed_ && read_some(deadline, &out)) {
    }
    return out;
  }
  // True when the server closed the connection (EOF or reset) within `timeout`; what it sent
  // before goes to `*received`.
  bool closed_within(std::chrono::milliseconds timeout, std::string* received = nullptr) {
    std::string got = read_for(timeout);
    if (received != nullptr) received->append(got);
    return closed_;
  }
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

}  // namespace kstreams::testing
