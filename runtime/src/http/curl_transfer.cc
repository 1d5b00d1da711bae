// libcurl settings and error mapping shared by HttpClient and HttpPool (curl_transfer.h).
#include "curl_transfer.h"

#include <cctype>
#include <mutex>

#include "http_wire.h"
#include "kstreams/common/logging.h"

namespace kstreams::runtime::http {

absl::Status check_header(std::string_view name, std::string_view value) {
  static constexpr std::string_view kTokenSymbols = "!#$%&'*+-.^_`|~";
  if (name.empty()) return absl::InvalidArgumentError("empty header name");
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && kTokenSymbols.find(ch) == std::string_view::npos) {
      return absl::InvalidArgumentError("header name '" + std::string(name.substr(0, 40)) + "' has byte " +
                                        std::to_string(c) + ", not a token character");
    }
  }
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) continue;
    const char* what = c == '\r' ? "CR" : c == '\n' ? "LF" : c == 0 ? "NUL" : "a control byte";
    return absl::InvalidArgumentError("value of header " + std::string(name) + " contains " + what + " (byte " +
                                      std::to_string(c) + "), which a header value cannot carry");
  }
  return absl::OkStatus();
}

namespace internal {
namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  t->body_bytes += len;
  if (t->body_bytes > t->body_cap) {
    t->abort = Transfer::Abort::kBody;
    return 0;
  }
  if (t->keep_body) t->body.append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  t->header_bytes += len;
  if (t->header_bytes > kMaxResponseHeaderBytes) {  // all header lines, interim responses included
    t->abort = Transfer::Abort::kHeaders;
    return 0;
  }
  if (!t->keep_headers) return len;
  std::string_view line(data, len);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    t->headers.clear();  // a new response (after an interim 1xx): only the final one's headers count
    return len;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    t->headers[std::string(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
  }
  return len;
}

}  // namespace

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    KSTREAMS_CHECK(rc == CURLE_OK, "curl_global_init failed");
  });
}

void Transfer::attach(CURL* easy) {
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
}

void configure_easy(CURL* e, const EasyOptions& o) {
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // no proxy from the environment
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(o.total_timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(o.max_response_bytes));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
}

void configure_tls(CURL* e, const HttpClientTls& tls) {
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);  // the certificate names the host
  curl_easy_setopt(e, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!tls.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, tls.cert_file.c_str());
    curl_easy_setopt(e, CURLOPT_SSLKEY, tls.key_file.c_str());
  }
}

absl::StatusOr<curl_slist*> header_list(const std::vector<std::pair<std::string, std::string>>& headers,
                                        std::string_view content_type) {
  for (const auto& [name, value] : headers) KSTREAMS_RETURN_IF_ERROR(check_header(name, value));
  curl_slist* list = curl_slist_append(nullptr, "Expect:");  // no 100-continue round trip
  if (!content_type.empty()) list = curl_slist_append(list, ("Content-Type: " + std::string(content_type)).c_str());
  for (const auto& [name, value] : headers) {
    // "Name:" alone would make libcurl drop the header; "Name;" sends it empty.
    list = curl_slist_append(list, (value.empty() ? name + ";" : name + ": " + value).c_str());
  }
  return list;
}

absl::Status transfer_status(CURL* e, const Transfer& t, CURLcode code, const std::string& peer,
                             const EasyOptions& options) {
  const std::string detail = t.error[0] != '\0' ? t.error : curl_easy_strerror(code);
  const std::string cap = std::to_string(options.max_response_bytes);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connect_us = 0;
      curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
      if (connect_us == 0) {
        return absl::DeadlineExceededError("could not connect to " + peer + " within " +
                                           std::to_string(options.connect_timeout.count()) + " ms (connect timeout)");
      }
      return absl::DeadlineExceededError("no response from " + peer + " within " +
                                         std::to_string(options.total_timeout.count()) + " ms (read timeout)");
    }
    case CURLE_COULDNT_RESOLVE_HOST:
      return absl::UnavailableError("resolving " + peer + ": " + detail);
    case CURLE_COULDNT_CONNECT:
      return absl::UnavailableError("connecting to " + peer + ": " + detail);
    case CURLE_FILESIZE_EXCEEDED:
      return absl::ResourceExhaustedError("response larger than " + cap + " bytes from " + peer);
    case CURLE_WRITE_ERROR:
      if (t.abort == Transfer::Abort::kBody) {
        return absl::ResourceExhaustedError("response larger than " + cap + " bytes from " + peer);
      }
      if (t.abort == Transfer::Abort::kHeaders) {
        return absl::ResourceExhaustedError("response headers larger than " + std::to_string(kMaxResponseHeaderBytes) +
                                            " bytes from " + peer);
      }
      return absl::InternalError("reading the response of " + peer + ": " + detail);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
      return absl::InternalError("bad response from " + peer + ": " + detail);
    default:  // send/receive errors, connections closed early, TLS failures
      return absl::UnavailableError(peer + ": " + detail);
  }
}

}  // namespace internal
}  // namespace kstreams::runtime::http
