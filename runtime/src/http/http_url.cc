// parse_url (http_url.h).
#include "http_url.h"

#include <regex>

namespace kstreams::runtime::http::internal {

absl::StatusOr<HttpUrl> parse_url(const std::string& url) {
  static const std::regex kUrl(R"(^(?:(https?)://)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(/.*)?$)");
  std::smatch m;
  if (!std::regex_match(url, m, kUrl)) return absl::InvalidArgumentError("malformed URL: '" + url + "'");
  HttpUrl out;
  out.scheme = m[1].matched ? m[1].str() : "http";
  out.host = m[2].str();
  out.explicit_port = m[3].matched;
  out.port = out.explicit_port ? m[3].str() : (out.scheme == "https" ? "443" : "80");
  if (std::stoi(out.port) <= 0 || std::stoi(out.port) > 65535) {
    return absl::InvalidArgumentError("port out of range in URL: '" + url + "'");
  }
  out.path = m[4].matched ? m[4].str() : "";
  return out;
}

}  // namespace kstreams::runtime::http::internal
