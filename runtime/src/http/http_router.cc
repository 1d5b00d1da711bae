#include "http_router.h"

#include <cctype>
#include <exception>
#include <utility>

#include "kstreams/common/logging.h"

namespace kstreams::runtime::http::internal {
namespace {

constexpr const char* kSupportedMethods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};

bool is_supported_method(const std::string& method) {
  for (const char* m : kSupportedMethods) {
    if (method == m) return true;
  }
  return false;
}

// For messages: at most 100 characters, anything but printable ASCII as '?'.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) out += c > 0x20 && c < 0x7f ? c : '?';
  if (s.size() > 100) out += "...";
  return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

absl::Status Router::add(const std::string& method, const std::string& pattern, HttpHandler handler) {
  if (!is_supported_method(method)) return absl::InvalidArgumentError("unsupported HTTP method: " + method);
  if (!handler) return absl::InvalidArgumentError("empty handler for " + pattern);
  if (pattern.empty() || pattern.front() != '/') {
    return absl::InvalidArgumentError("route pattern must start with '/': " + pattern);
  }
  Route route{method, {}, std::move(handler)};
  for (std::string_view s : split_path(pattern)) {
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
      if (s.size() == 2) return absl::InvalidArgumentError("route parameter without a name: " + pattern);
      route.segments.push_back({true, std::string(s.substr(1, s.size() - 2))});
    } else if (s.find_first_of("{}") != std::string_view::npos) {
      return absl::InvalidArgumentError("a route parameter must be a whole segment: " + pattern);
    } else {
      route.segments.push_back({false, std::string(s)});
    }
  }
  routes_.push_back(std::move(route));
  return absl::OkStatus();
}

bool Router::match(const Route& route, const std::vector<std::string>& decoded,
                   std::map<std::string, std::string>* params) {
  if (route.segments.size() != decoded.size()) return false;
  std::map<std::string, std::string> bound;
  for (size_t i = 0; i < decoded.size(); ++i) {
    const Segment& seg = route.segments[i];
    if (seg.is_param) {
      if (decoded[i].empty()) return false;
      bound[seg.text] = decoded[i];
    } else if (seg.text != decoded[i]) {
      return false;
    }
  }
  *params = std::move(bound);
  return true;
}

HttpResponse Router::dispatch(std::string_view target, HttpRequest request) const {
  const std::string raw_path(target.substr(0, target.find('?')));
  if (raw_path.empty() || raw_path.front() != '/') {
    return json_error(400, "bad_request", "the request target must be a path starting with '/'");
  }
  std::vector<std::string> decoded;
  for (std::string_view seg : split_path(raw_path)) {
    std::string d;
    if (!url_decode(seg, &d)) return json_error(400, "bad_request", "malformed percent-escape in path");
    decoded.push_back(std::move(d));
  }
  std::string allowed;  // the methods of the routes whose path matches, for a 405's Allow header
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!match(route, decoded, &params)) continue;
    if (route.method != request.method) {
      if (allowed.find(route.method) == std::string::npos) {
        allowed += (allowed.empty() ? "" : ", ") + route.method + (route.method == "GET" ? ", HEAD" : "");
      }
      continue;
    }
    request.path = raw_path;
    request.params = std::move(params);
    return call(route.handler, request);
  }
  const bool path_known = !allowed.empty();
  if (!path_known && fallback_) {
    request.path = raw_path;
    return call(fallback_, request);
  }
  if (path_known) {
    HttpResponse r =
        json_error(405, "method_not_allowed", printable(request.method) + " is not allowed on " + printable(raw_path));
    r.headers["Allow"] = allowed;
    return r;
  }
  return json_error(404, "not_found", "no route for " + printable(raw_path));
}

HttpResponse Router::call(const HttpHandler& handler, const HttpRequest& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    KS_LOG_ERROR("http server: {} {} failed: {}", printable(request.method), printable(request.path), e.what());
  } catch (...) {
    KS_LOG_ERROR("http server: {} {} failed with an unknown exception", printable(request.method),
                 printable(request.path));
  }
  return json_error(500, "internal", "internal error");
}

absl::Status Router::set_fallback(HttpHandler handler) {
  if (!handler) return absl::InvalidArgumentError("empty fallback handler");
  fallback_ = std::move(handler);
  return absl::OkStatus();
}

bool parse_query(std::string_view query, std::map<std::string, std::string>* out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string name(pair.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    for (std::string* s : {&name, &value}) {
      for (char& c : *s) {
        if (c == '+') c = ' ';
      }
    }
    std::string name_decoded, value_decoded;
    if (!url_decode(name, &name_decoded) || !url_decode(value, &value_decoded)) return false;
    (*out)[std::move(name_decoded)] = std::move(value_decoded);
  }
  return true;
}

}  // namespace kstreams::runtime::http::internal
