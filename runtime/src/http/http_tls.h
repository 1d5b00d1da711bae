// TLS for the event-loop server (http_event_loop.h), over OpenSSL: a server context built from PEM
// files, and one non-blocking TLS stream per connection. OpenSSL's headers stay in http_tls.cc.
//
// The context allows TLS 1.2 and 1.3 only; TLS 1.2 with forward-secret AEAD cipher suites only
// (ECDHE with AES-GCM or ChaCha20-Poly1305); no renegotiation, no session tickets, no session cache,
// no compression. With HttpTlsOptions::require_client_cert, a client must present a certificate that
// chains to a CA of `ca_file` (mutual TLS); the handshake fails otherwise.
//
// TlsStream wraps one accepted, non-blocking socket (SSL_set_fd): each call does what the socket
// allows without waiting and says what it waits for (kWantRead / kWantWrite: call again once epoll
// reports the socket readable / writable). A TLS record is read whole by one read() (the buffer
// must hold 16 KiB), so no decrypted bytes wait inside OpenSSL while the socket is quiet.
//
// Thread-safety: a TlsServerContext is immutable once created and may be shared; a TlsStream belongs
// to one thread (the loop's).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "kstreams/common/status.h"
#include "kstreams/runtime/http.h"

struct ssl_ctx_st;
struct ssl_st;

namespace kstreams::runtime::http::internal {

class TlsServerContext {
 public:
  // Loads the certificate chain, the private key and (optionally) the client CAs. kInvalidArgument
  // naming the file when one cannot be read or parsed, when the key does not match the certificate,
  // or when require_client_cert is set without a ca_file.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const TlsServerContext>> create(const HttpTlsOptions& options);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  [[nodiscard]] ssl_ctx_st* native() const { return ctx_; }

 private:
  explicit TlsServerContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

class TlsStream {
 public:
  enum class Io {
    kOk,         // handshake(): established; read()/write(): *n bytes moved (n > 0)
    kWantRead,   // call again when the socket is readable
    kWantWrite,  // call again when the socket is writable
    kClosed,     // the peer closed the connection (close_notify or EOF)
    kFailed,     // a protocol or socket error: close the connection (error() says why)
  };

  // nullptr when OpenSSL cannot allocate the session. `fd` stays owned by the caller.
  [[nodiscard]] static std::unique_ptr<TlsStream> accept(const TlsServerContext& context, int fd);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  [[nodiscard]] Io handshake();
  [[nodiscard]] Io read(char* buffer, size_t capacity, size_t* n);
  [[nodiscard]] Io write(const char* data, size_t size, size_t* n);
  // Sends close_notify if the socket takes it now; never waits.
  void close_notify();
  // The reason of the last kFailed (OpenSSL's error text), for the log.
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  explicit TlsStream(ssl_st* ssl) : ssl_(ssl) {}
  Io result(int rc, size_t* n);
  ssl_st* ssl_;
  std::string error_;
};

}  // namespace kstreams::runtime::http::internal
