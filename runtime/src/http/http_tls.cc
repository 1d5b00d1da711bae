#include "http_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kstreams::runtime::http::internal {
namespace {

// TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3's are all of that kind).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Drains OpenSSL's (thread-local) error queue into one line.
std::string openssl_errors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

// kInvalidArgument "<what> '<path>': <reason>", with the OS's reason when the file cannot be read.
absl::Status file_error(const char* what, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    const std::string reason = std::strerror(errno);
    ERR_clear_error();
    return absl::InvalidArgumentError(std::string(what) + " '" + path + "': " + reason);
  }
  return absl::InvalidArgumentError(std::string(what) + " '" + path + "': " + openssl_errors());
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TlsServerContext>> TlsServerContext::create(const HttpTlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate file and a private key file");
  }
  if (options.require_client_cert && options.ca_file.empty()) {
    return absl::InvalidArgumentError("TLS client authentication needs a CA file to verify client certificates");
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + openssl_errors());
  std::shared_ptr<const TlsServerContext> context(new TlsServerContext(ctx));
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return absl::InternalError("TLS setup: " + openssl_errors());
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  (void)SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Partial writes: write() reports what went out; the output buffer may move between retries.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return file_error("cannot load the TLS certificate file", options.cert_file);
  }
  const bool key_loaded = SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  if (!key_loaded && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
    return file_error("cannot load the TLS private key file", options.key_file);
  }
  if (!key_loaded || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the TLS private key file '" + options.key_file +
                                      "' does not match the certificate in '" + options.cert_file + "'");
  }
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      return file_error("cannot load the TLS CA file", options.ca_file);
    }
    if (options.require_client_cert) {
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str());
      if (names == nullptr) return file_error("no CA certificate in the TLS CA file", options.ca_file);
      SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
  }
  ERR_clear_error();
  return context;
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsStream> TlsStream::accept(const TlsServerContext& context, int fd) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.native());
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  std::unique_ptr<TlsStream> stream(new TlsStream(ssl));
  if (SSL_set_fd(ssl, fd) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return stream;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Io TlsStream::result(int rc, size_t* n) {
  if (rc > 0) {
    if (n != nullptr) *n = static_cast<size_t>(rc);
    return Io::kOk;
  }
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kClosed;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0 && (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE)) {
        ERR_clear_error();
        return Io::kClosed;  // EOF or reset without close_notify
      }
      error_ = ERR_peek_error() != 0 ? openssl_errors() : std::strerror(saved_errno);
      return Io::kFailed;
    default:
      error_ = openssl_errors();
      return Io::kFailed;
  }
}

TlsStream::Io TlsStream::handshake() {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_do_handshake(ssl_);
  return rc == 1 ? Io::kOk : result(rc, nullptr);
}

TlsStream::Io TlsStream::read(char* buffer, size_t capacity, size_t* n) {
  ERR_clear_error();
  errno = 0;
  return result(SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(capacity, 1 << 30))), n);
}

TlsStream::Io TlsStream::write(const char* data, size_t size, size_t* n) {
  ERR_clear_error();
  errno = 0;
  return result(SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 30))), n);
}

void TlsStream::close_notify() {
  ERR_clear_error();
  if (SSL_is_init_finished(ssl_)) (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace kstreams::runtime::http::internal
