// The route table of an HttpServer, shared by its two engines (worker pool and inline handlers):
// route patterns, matching on percent-decoded segments (the first route that matches wins), and the
// JSON answers for a malformed path (400), an unknown path (404), a known path with another method
// (405, with an Allow header naming the path's methods) and a
// handler that throws (500, a generic body; the exception is logged). Messages never echo bytes of
// the request other than printable ASCII. See kstreams/runtime/http.h for the routing contract.
//
// Thread-safety: add() before serving starts; dispatch() is const and may run on many threads.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kstreams/common/status.h"
#include "kstreams/runtime/http.h"

namespace kstreams::runtime::http::internal {

class Router {
 public:
  // kInvalidArgument for an unsupported method, an empty handler or a malformed pattern.
  [[nodiscard]] absl::Status add(const std::string& method, const std::string& pattern, HttpHandler handler);

  // A handler for every request that matches no route's path (instead of the 404).
  [[nodiscard]] absl::Status set_fallback(HttpHandler handler);

  // Routes one request. `target`: the raw request target ("/path" or "/path?query"); `request`
  // carries method, headers, body and the decoded query; path and params are filled here.
  [[nodiscard]] HttpResponse dispatch(std::string_view target, HttpRequest request) const;

 private:
  struct Segment {
    bool is_param = false;
    std::string text;  // literal text or parameter name
  };
  struct Route {
    std::string method;
    std::vector<Segment> segments;
    HttpHandler handler;
  };
  static HttpResponse call(const HttpHandler& handler, const HttpRequest& request);
  static bool match(const Route& route, const std::vector<std::string>& decoded,
                    std::map<std::string, std::string>* params);

  std::vector<Route> routes_;
  HttpHandler fallback_;
};

// Decodes a query string ("a=1&b=x%20y", without the '?') into `out`: %XX escapes and '+' as a
// space (as HTML forms and cpp-httplib do); a name without '=' gets ""; a repeated name keeps its
// last value. False on a malformed escape.
[[nodiscard]] bool parse_query(std::string_view query, std::map<std::string, std::string>* out);

}  // namespace kstreams::runtime::http::internal
