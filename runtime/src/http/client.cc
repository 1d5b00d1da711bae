// HttpClient (kstreams/runtime/http.h) on libcurl's easy interface: one handle, and so one kept
// connection, per client; requests serialized by a mutex.
#include <mutex>
#include <utility>
#include <vector>

#include "curl_transfer.h"
#include "http_url.h"
#include "http_wire.h"
#include "kstreams/common/status.h"
#include "kstreams/runtime/http.h"

namespace kstreams::runtime::http {
namespace {

// Bytes a request target may carry as they are: visible ASCII. Anything else (space, controls,
// bytes >= 0x80) is percent-encoded, which a server decodes back to the same bytes.
std::string wire_target(std::string_view target) {
  std::string out;
  out.reserve(target.size());
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7f) {
      out.push_back(ch);
    } else {
      internal::append_percent_encoded(&out, c);
    }
  }
  return out;
}

}  // namespace

struct HttpClient::Impl {
  std::string origin;  // scheme://host:port
  std::string prefix;  // "" or "/path" without a trailing slash
  bool https = false;
  HttpClientOptions options;
  internal::EasyOptions easy_options;
  std::mutex mu;         // serializes requests over the one handle
  CURL* easy = nullptr;  // guarded by mu

  ~Impl() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }

  std::string full_path(const std::string& path) const {
    std::string p = prefix;
    if (!path.empty() && path.front() != '/') p.push_back('/');
    p += path;
    return p.empty() ? "/" : p;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::create(const std::string& base_url, HttpClientOptions options) {
  KSTREAMS_ASSIGN_OR_RETURN(internal::HttpUrl url, internal::parse_url(base_url));
  if (options.connect_timeout.count() <= 0 || options.read_timeout.count() <= 0) {
    return absl::InvalidArgumentError("HttpClient timeouts must be positive");
  }
  if (options.max_response_bytes == 0) return absl::InvalidArgumentError("HttpClient max_response_bytes must be > 0");
  internal::init_curl_once();
  auto impl = std::make_unique<Impl>();
  impl->origin = url.scheme + "://" + url.host + ":" + url.port;
  impl->prefix = url.path;
  while (!impl->prefix.empty() && impl->prefix.back() == '/') impl->prefix.pop_back();
  impl->https = url.scheme == "https";
  impl->easy_options.connect_timeout = options.connect_timeout;
  impl->easy_options.total_timeout = options.read_timeout;
  impl->easy_options.max_response_bytes = options.max_response_bytes;
  impl->options = std::move(options);
  impl->easy = curl_easy_init();
  if (impl->easy == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

absl::StatusOr<HttpResponse> HttpClient::request(std::string_view method, const std::string& path,
                                                 const HttpHeaders& headers, const std::string& body,
                                                 std::string_view content_type) {
  if (method != "GET" && method != "HEAD" && method != "POST" && method != "PUT" && method != "DELETE" &&
      method != "PATCH") {
    return absl::InvalidArgumentError("unsupported HTTP method '" + std::string(method.substr(0, 16)) + "'");
  }
  const std::vector<std::pair<std::string, std::string>> header_pairs(headers.begin(), headers.end());
  KSTREAMS_ASSIGN_OR_RETURN(curl_slist * list, internal::header_list(header_pairs, content_type));
  const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> list_owner(list, &curl_slist_free_all);
  const std::string target = wire_target(impl_->full_path(path));
  const std::string url = impl_->origin + target;
  const std::string method_text(method);

  std::lock_guard lock(impl_->mu);
  CURL* e = impl_->easy;
  // Back to defaults, the kept connection stays in the handle's cache; then every option anew.
  curl_easy_reset(e);
  internal::configure_easy(e, impl_->easy_options);
  if (impl_->https) internal::configure_tls(e, impl_->options.tls);
  if (!impl_->options.keep_alive) curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  if (method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (method != "GET" || !body.empty()) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  internal::Transfer t;
  t.body_cap = impl_->options.max_response_bytes;
  t.keep_body = true;
  t.keep_headers = true;
  t.attach(e);
  const CURLcode code = curl_easy_perform(e);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);  // t's buffer goes away with t
  if (code != CURLE_OK) {
    return internal::transfer_status(e, t, code, method_text + " " + impl_->origin + target, impl_->easy_options);
  }
  HttpResponse out;
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  out.body = std::move(t.body);
  out.headers = std::move(t.headers);
  auto ct = out.headers.find("Content-Type");
  out.content_type = ct == out.headers.end() ? "" : ct->second;
  return out;
}

absl::StatusOr<HttpResponse> HttpClient::post_json(const std::string& path, const std::string& body,
                                                   const HttpHeaders& headers) {
  return request("POST", path, headers, body, "application/json");
}

absl::StatusOr<HttpResponse> HttpClient::get(const std::string& path, const HttpHeaders& headers) {
  return request("GET", path, headers);
}

const std::string& HttpClient::origin() const { return impl_->origin; }

}  // namespace kstreams::runtime::http
