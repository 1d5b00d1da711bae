// Fuzzes the URL handling of the HTTP layer: parse_url (runtime/src/http/http_url.h), url_encode /
// url_decode (kstreams/runtime/http.h), parse_query and Router::dispatch (runtime/src/http/http_router.h).
//
// Input: byte 0 picks the method of the routed request, the rest is a URL / request target.
// Invariants beyond "no crash":
//   - parse_url accepts only http/https, a non-empty host, a port 1..65535 and a path that is empty
//     or starts with '/'; the URL written back from its parts parses to the same parts;
//   - url_decode(url_encode(x)) == x for any bytes; what url_decode accepts re-encodes to a string
//     that decodes to the same bytes; url_encode's output is unreserved characters and %XX only;
//   - dispatching any target answers 200 (a route matched: its parameters are the decoded
//     segments), 400, 404 or 405, with a JSON body, and never throws.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "http/http_router.h"
#include "http/http_url.h"
#include "kstreams/runtime/http.h"

namespace {

namespace http = kstreams::runtime::http;

const http::internal::Router& router() {
  static const http::internal::Router* r = [] {
    auto* router = new http::internal::Router();
    auto echo = [](const http::HttpRequest& req) {
      for (const auto& [name, value] : req.params) {
        FUZZ_CHECK(!value.empty(), "a parameter binds a non-empty segment");
        bool is_a_segment = false;
        std::string_view rest = req.path;
        while (!rest.empty()) {
          rest.remove_prefix(1);  // '/'
          const std::string_view segment = rest.substr(0, rest.find('/'));
          std::string decoded;
          is_a_segment = is_a_segment || (http::url_decode(segment, &decoded) && decoded == value);
          rest.remove_prefix(segment.size());
        }
        FUZZ_CHECK(is_a_segment, "a parameter is a percent-decoded segment of the path");
      }
      http::HttpResponse resp;
      resp.body = "{}";
      return resp;
    };
    FUZZ_CHECK(router->add("GET", "/v1/orders/{order_id}", echo).ok(), "route");
    FUZZ_CHECK(router->add("GET", "/v1/stores/{store}/keys/{key}", echo).ok(), "route");
    FUZZ_CHECK(router->add("POST", "/webhook", echo).ok(), "route");
    FUZZ_CHECK(router->add("GET", "/healthz", echo).ok(), "route");
    return router;
  }();
  return *r;
}

void check_url(const std::string& s) {
  auto url = http::internal::parse_url(s);
  if (!url.ok()) return;
  FUZZ_CHECK(url->scheme == "http" || url->scheme == "https", "scheme");
  FUZZ_CHECK(!url->host.empty(), "host");
  FUZZ_CHECK(!url->port.empty() && url->port.size() <= 5, "port digits");
  for (char c : url->port) FUZZ_CHECK(std::isdigit(static_cast<unsigned char>(c)), "port digits");
  const int port = std::stoi(url->port);
  FUZZ_CHECK(port >= 1 && port <= 65535, "port range");
  FUZZ_CHECK(url->path.empty() || url->path.front() == '/', "path");
  auto again = http::internal::parse_url(url->scheme + "://" + url->host + ":" + url->port + url->path);
  FUZZ_CHECK(again.ok(), "a parsed URL written back parses");
  FUZZ_CHECK(again->scheme == url->scheme && again->host == url->host && again->port == url->port &&
                 again->path == url->path && again->explicit_port,
             "a parsed URL written back parses to the same parts");
}

void check_coding(std::string_view s) {
  const std::string encoded = http::url_encode(s);
  for (char c : encoded) {
    FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~' || c == '%',
               "url_encode writes unreserved characters and escapes only");
  }
  std::string decoded;
  FUZZ_CHECK(http::url_decode(encoded, &decoded), "url_encode's output decodes");
  FUZZ_CHECK(decoded == s, "url_decode(url_encode(x)) == x");

  std::string d;
  if (http::url_decode(s, &d)) {
    std::string d2;
    FUZZ_CHECK(http::url_decode(http::url_encode(d), &d2) && d2 == d, "decoded bytes survive re-encoding");
    FUZZ_CHECK(d.size() <= s.size(), "decoding never grows");
  }
  std::map<std::string, std::string> query;
  (void)http::internal::parse_query(s, &query);
}

void check_dispatch(uint8_t selector, std::string_view target) {
  static constexpr const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
  http::HttpRequest req;
  req.method = kMethods[selector % 6];
  const http::HttpResponse resp = router().dispatch(target, std::move(req));
  FUZZ_CHECK(resp.status == 200 || resp.status == 400 || resp.status == 404 || resp.status == 405,
             "dispatch answers 200, 400, 404 or 405");
  FUZZ_CHECK(nlohmann::json::accept(resp.body), "the answer is JSON");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string s(reinterpret_cast<const char*>(data + 1), size - 1);
  check_url(s);
  check_coding(s);
  check_dispatch(data[0], s);
  return 0;
}
