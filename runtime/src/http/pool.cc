// HttpPool (kstreams/runtime/http_pool.h) on libcurl's multi interface; the handle options and
// error mapping it shares with HttpClient are in curl_transfer.h.
#include "kstreams/runtime/http_pool.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "curl_transfer.h"
#include "http_url.h"
#include "kstreams/common/fault_points.h"
#include "kstreams/common/logging.h"
#include "kstreams/common/status.h"

namespace kstreams::runtime::http {

namespace {

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
  internal::Transfer transfer;

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
  internal::EasyOptions easy_options;  // from options
  bool https = false;
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
    internal::configure_easy(e, easy_options);
    if (https) internal::configure_tls(e, options.tls);
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
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
    r->transfer.body_cap = options.max_response_bytes;
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r->body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    r->transfer.attach(e);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r.get());
    const CURLMcode mc = curl_multi_add_handle(multi, e);
    if (mc != CURLM_OK) {
      idle_handles.push_back(e);
      r->done(absl::InternalError(std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc)));
      return;
    }
    running.push_back(std::move(r));
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
      result = internal::transfer_status(e, r->transfer, code, host_header, easy_options);
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
  internal::init_curl_once();
  auto impl = std::make_unique<Impl>();
  impl->https = u.scheme == "https";
  impl->easy_options.connect_timeout = options.timeout;
  impl->easy_options.total_timeout = options.timeout;
  impl->easy_options.max_response_bytes = options.max_response_bytes;
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
  absl::StatusOr<curl_slist*> list = internal::header_list(headers, "application/json");
  if (!list.ok()) {
    done(list.status());  // nothing of it reaches the wire
    return;
  }
  auto r = std::make_unique<Request>();
  r->headers = *list;
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
