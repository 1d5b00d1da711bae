// HttpPool (kstreams/runtime/http_pool.h) on libcurl's multi interface.
#include "kstreams/runtime/http_pool.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "http_url.h"
#include "kstreams/common/fault_points.h"
#include "kstreams/common/logging.h"
#include "kstreams/common/status.h"

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

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    KSTREAMS_CHECK(rc == CURLE_OK, "curl_global_init failed");
  });
}

// SCHED_BATCH for `thread` (priority 0; the nice value stays the process's). Linux lets a process
// lower its own threads' policy, but a sandbox (seccomp) may refuse it: the fault point stands for
// that refusal in tests.
absl::Status set_batch_policy(std::thread& thread) {
  KSTREAMS_FAULT_POINT("http_pool.sched_batch");
  const sched_param param{};
  const int rc = pthread_setschedparam(thread.native_handle(), SCHED_BATCH, &param);
  if (rc != 0) return absl::PermissionDeniedError(std::string("SCHED_BATCH refused: ") + std::strerror(rc));
  return absl::OkStatus();
}

struct Request {
  std::string body;
  curl_slist* headers = nullptr;  // owned
  HttpPool::Callback done;
  CURL* easy = nullptr;  // while running
  size_t body_cap = 0;   // Options::max_response_bytes
  size_t body_bytes = 0;
  size_t header_bytes = 0;
  enum class Abort { kNone, kBody, kHeaders } abort = Abort::kNone;
  char error[CURL_ERROR_SIZE] = {};

  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request() { curl_slist_free_all(headers); }
};

}  // namespace

struct HttpPool::Impl {
  std::string url;          // normalised: scheme://host[:port]/path
  std::string host_header;  // host[:port], for messages
  Options options;
  CURLM* multi = nullptr;
  std::thread thread;

  std::mutex mu;
  std::deque<std::unique_ptr<Request>> queue;  // guarded by mu
  bool stopping = false;                       // guarded by mu

  std::atomic<int64_t> opened{0};
  bool batch_scheduling = false;  // written by create() before the pool is handed out

  // I/O thread only (and the destructor, after the join).
  std::vector<std::unique_ptr<Request>> running;
  std::vector<CURL*> idle_handles;

  static size_t on_body(char*, size_t size, size_t n, void* user) {
    auto* r = static_cast<Request*>(user);
    r->body_bytes += size * n;
    // The body is discarded; the cap bounds how long a server can keep us reading.
    if (r->body_bytes > r->body_cap) {
      r->abort = Request::Abort::kBody;
      return 0;
    }
    return size * n;
  }
  static size_t on_header(char*, size_t size, size_t n, void* user) {
    auto* r = static_cast<Request*>(user);
    r->header_bytes += size * n;
    if (r->header_bytes > kMaxResponseHeaderBytes) {  // all header lines, interim responses included
      r->abort = Request::Abort::kHeaders;
      return 0;
    }
    return size * n;
  }

  // An easy handle with every per-pool option set; handles are reused as they are (options stay
  // set between transfers), so a request only sets what is its own.
  CURL* take_handle() {
    if (!idle_handles.empty()) {
      CURL* e = idle_handles.back();
      idle_handles.pop_back();
      return e;
    }
    CURL* e = curl_easy_init();
    if (e == nullptr) return nullptr;
    const long timeout_ms = static_cast<long>(options.timeout.count());
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");  // no proxy from the environment
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_response_bytes));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    return e;
  }

  // Starts `r` (or finishes it with kInternal when libcurl refuses it).
  void start(std::unique_ptr<Request> r) {
    CURL* e = take_handle();
    if (e == nullptr) {
      r->done(absl::InternalError("curl_easy_init failed"));
      return;
    }
    r->easy = e;
    r->body_cap = options.max_response_bytes;
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r->body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r.get());
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r.get());
    const CURLMcode mc = curl_multi_add_handle(multi, e);
    if (mc != CURLM_OK) {
      idle_handles.push_back(e);
      r->done(absl::InternalError(std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc)));
      return;
    }
    running.push_back(std::move(r));
  }

  absl::Status error_status(const Request& r, CURLcode code) const {
    const std::string detail = r.error[0] != '\0' ? r.error : curl_easy_strerror(code);
    const std::string ms = std::to_string(options.timeout.count());
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connect_us = 0;
        curl_easy_getinfo(r.easy, CURLINFO_CONNECT_TIME_T, &connect_us);
        return absl::DeadlineExceededError((connect_us == 0 ? "could not connect to " : "no response from ") +
                                           host_header + " within " + ms + " ms");
      }
      case CURLE_COULDNT_RESOLVE_HOST:
        return absl::UnavailableError("resolving " + host_header + ": " + detail);
      case CURLE_COULDNT_CONNECT:
        return absl::UnavailableError("connecting to " + host_header + ": " + detail);
      case CURLE_FILESIZE_EXCEEDED:
        return absl::ResourceExhaustedError("response larger than " + std::to_string(options.max_response_bytes) +
                                            " bytes from " + host_header);
      case CURLE_WRITE_ERROR:
        if (r.abort == Request::Abort::kBody) {
          return absl::ResourceExhaustedError("response larger than " + std::to_string(options.max_response_bytes) +
                                              " bytes from " + host_header);
        }
        if (r.abort == Request::Abort::kHeaders) {
          return absl::ResourceExhaustedError("response headers larger than " +
                                              std::to_string(kMaxResponseHeaderBytes) + " bytes from " + host_header);
        }
        return absl::InternalError("reading the response of " + host_header + ": " + detail);
      case CURLE_WEIRD_SERVER_REPLY:
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_BAD_CONTENT_ENCODING:
        return absl::InternalError("bad response from " + host_header + ": " + detail);
      default:  // send/receive errors, connections closed early, TLS failures
        return absl::UnavailableError(host_header + ": " + detail);
    }
  }

  void finish(CURL* e, CURLcode code) {
    auto it = std::find_if(running.begin(), running.end(), [e](const auto& r) { return r->easy == e; });
    if (it == running.end()) return;
    std::unique_ptr<Request> r = std::move(*it);
    running.erase(it);
    curl_multi_remove_handle(multi, e);
    long connects = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    opened.fetch_add(connects, std::memory_order_relaxed);
    absl::StatusOr<int> result;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
      result = static_cast<int>(status);
    } else {
      result = error_status(*r, code);
    }
    r->easy = nullptr;
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);  // r's buffer goes away with r
    idle_handles.push_back(e);
    r->done(std::move(result));
  }

  void run() {
    pthread_setname_np(pthread_self(), options.thread_name.substr(0, 15).c_str());
    std::vector<std::unique_ptr<Request>> starting;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) break;
        while (!queue.empty() && running.size() + starting.size() < static_cast<size_t>(options.connections)) {
          starting.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      for (auto& r : starting) start(std::move(r));
      starting.clear();
      int still_running = 0;
      curl_multi_perform(multi, &still_running);
      bool finished_any = false;
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        finish(msg->easy_handle, msg->data.result);
        finished_any = true;
      }
      if (finished_any) continue;  // start what was waiting for a free connection before polling
      // Returns on socket activity, libcurl's own timers, or curl_multi_wakeup() from post().
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
  }
};

HttpPool::HttpPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<HttpPool>> HttpPool::create(const std::string& url, Options options) {
  KSTREAMS_ASSIGN_OR_RETURN(internal::HttpUrl u, internal::parse_url(url));
  if (options.connections < 1) return absl::InvalidArgumentError("HttpPool needs at least one connection");
  if (options.timeout.count() <= 0) return absl::InvalidArgumentError("HttpPool timeout must be positive");
  if (options.max_response_bytes == 0) return absl::InvalidArgumentError("HttpPool max_response_bytes must be > 0");
  init_curl_once();
  auto impl = std::make_unique<Impl>();
  impl->host_header = u.host + (u.explicit_port ? ":" + u.port : "");
  impl->url = u.scheme + "://" + u.host + ":" + u.port + (u.path.empty() ? "/" : u.path);
  impl->options = std::move(options);
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) return absl::InternalError("curl_multi_init failed");
  const long connections = impl->options.connections;
  curl_multi_setopt(impl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, connections);
  curl_multi_setopt(impl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, connections);
  curl_multi_setopt(impl->multi, CURLMOPT_MAXCONNECTS, connections);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  if (impl->options.batch_scheduling) {
    // Set from here, not from the thread, so stats() reports it as soon as create() returns.
    const absl::Status set = set_batch_policy(impl->thread);
    impl->batch_scheduling = set.ok();
    if (!set.ok()) {
      KS_LOG_WARN("http pool {}: {}; its I/O thread keeps the default policy", impl->options.thread_name,
                  set.ToString());
    }
  }
  return std::unique_ptr<HttpPool>(new HttpPool(std::move(impl)));
}

HttpPool::~HttpPool() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
  for (auto& r : impl_->running) {
    curl_multi_remove_handle(impl_->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->done(absl::CancelledError("HttpPool destroyed"));
  }
  impl_->running.clear();
  for (auto& r : impl_->queue) r->done(absl::CancelledError("HttpPool destroyed"));
  impl_->queue.clear();
  for (CURL* e : impl_->idle_handles) curl_easy_cleanup(e);
  curl_multi_cleanup(impl_->multi);
}

void HttpPool::post(std::string body, const std::vector<std::pair<std::string, std::string>>& headers, Callback done) {
  auto r = std::make_unique<Request>();
  for (const auto& [name, value] : headers) {
    if (absl::Status valid = check_header(name, value); !valid.ok()) {
      done(std::move(valid));  // nothing of it reaches the wire
      return;
    }
  }
  r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
  r->headers = curl_slist_append(r->headers, "Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : headers) {
    r->headers = curl_slist_append(r->headers, (name + ": " + value).c_str());
  }
  r->body = std::move(body);
  r->done = std::move(done);
  bool was_empty = false;
  {
    std::lock_guard lock(impl_->mu);
    was_empty = impl_->queue.empty();
    impl_->queue.push_back(std::move(r));
  }
  // A non-empty queue is seen anyway: the I/O thread takes from it after every poll. Waking it once
  // per batch, not once per request, spares a context switch per call.
  if (was_empty) curl_multi_wakeup(impl_->multi);
}

HttpPool::Stats HttpPool::stats() const {
  return Stats{impl_->opened.load(std::memory_order_relaxed), impl_->batch_scheduling};
}

}  // namespace kstreams::runtime::http
