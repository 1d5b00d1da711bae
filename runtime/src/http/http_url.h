// The one parser of http(s) URLs for HttpClient and HttpPool (runtime-internal; http_url.cc).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace kstreams::runtime::http::internal {

struct HttpUrl {
  std::string scheme;  // "http" or "https" ("http" when the URL has none)
  std::string host;    // as written: a name, an IPv4 address, or "[IPv6]" with the brackets
  std::string port;    // as written, else the scheme's default (80 / 443)
  bool explicit_port = false;
  std::string path;  // "" or "/..." as written
};

// "[http|https://]host[:port][/path]"; kInvalidArgument for anything else (other schemes, a port
// outside 1..65535, characters a host name cannot have).
[[nodiscard]] absl::StatusOr<HttpUrl> parse_url(const std::string& url);

}  // namespace kstreams::runtime::http::internal
