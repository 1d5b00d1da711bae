// CPU per request of the HTTP server stacks (docs/http-library.md): cpp-httplib's thread-pool
// server as the query server used it, and the project's HttpServer with its two engines. Each run
// serves `connections` keep-alive clients sending `requests` small GETs one after the other on
// loopback; server CPU = process CPU - the client threads' CPU. Prints the median of `runs` runs.
//
//   bench_http_server_cpu [connections=4] [requests=20000] [runs=5]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kstreams/runtime/http.h"

namespace {

using namespace std::chrono_literals;
namespace http = kstreams::runtime::http;

const std::string kBody = R"({"state":"RUNNING"})";

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double process_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One keep-alive client: `n` GETs, each answer read whole (Content-Length framing); reconnects when
// the server closes (cpp-httplib does after 100 requests). Returns the thread's CPU seconds; *ok
// counts the 200s.
double client(int port, int n, std::atomic<int>* ok) {
  const double start = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  int fd = connect_to(port);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";
  std::string in;
  char buf[16384];
  for (int i = 0; i < n && fd >= 0; ++i) {
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) break;
    for (;;) {
      const size_t head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t cl = in.find("Content-Length: ");
        const size_t len = cl == std::string::npos ? 0 : std::strtoul(in.c_str() + cl + 16, nullptr, 10);
        if (in.size() >= head_end + 4 + len) {
          if (in.compare(0, 12, "HTTP/1.1 200") == 0) ++*ok;
          in.erase(0, head_end + 4 + len);
          break;
        }
      }
      const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got <= 0) {  // closed after the last answer: reconnect and ask again
        ::close(fd);
        in.clear();
        fd = connect_to(port);
        if (fd < 0 || ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
          return cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - start;
        }
        continue;
      }
      in.append(buf, static_cast<size_t>(got));
    }
  }
  if (fd >= 0) ::close(fd);
  return cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - start;
}

struct Result {
  double server_us_per_request;
  double requests_per_second;
};

Result run_once(int port, int connections, int requests) {
  std::atomic<int> ok{0};
  std::vector<double> client_cpu(static_cast<size_t>(connections));
  const double cpu0 = process_cpu();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] { client_cpu[static_cast<size_t>(c)] = client(port, requests, &ok); });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double clients = 0;
  for (double c : client_cpu) clients += c;
  const double server = process_cpu() - cpu0 - clients;
  const int total = connections * requests;
  if (ok != total) std::fprintf(stderr, "warning: %d of %d requests answered 200\n", ok.load(), total);
  return {server / total * 1e6, total / wall};
}

void report(const char* name, const std::function<int()>& start, const std::function<void()>& stop, int connections,
            int requests, int runs) {
  const int port = start();
  (void)run_once(port, connections, requests / 10);  // warm-up
  std::vector<Result> results;
  for (int r = 0; r < runs; ++r) results.push_back(run_once(port, connections, requests));
  stop();
  std::sort(results.begin(), results.end(),
            [](const Result& a, const Result& b) { return a.server_us_per_request < b.server_us_per_request; });
  const Result& m = results[results.size() / 2];
  std::printf("%-34s server CPU %6.1f us/request (median of %d; min %.1f, max %.1f), %8.0f requests/s\n", name,
              m.server_us_per_request, runs, results.front().server_us_per_request,
              results.back().server_us_per_request, m.requests_per_second);
}

}  // namespace

int main(int argc, char** argv) {
  const int connections = argc > 1 ? std::atoi(argv[1]) : 4;
  const int requests = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;

  // Before: cpp-httplib's server, configured as the query server was (8 workers, keep-alive).
  {
    httplib::Server svr;
    svr.new_task_queue = [] { return new httplib::ThreadPool(8); };
    svr.set_keep_alive_max_count(100);
    svr.set_tcp_nodelay(true);
    svr.Get(".*", [](const httplib::Request&, httplib::Response& res) { res.set_content(kBody, "application/json"); });
    std::thread listener;
    report(
        "cpp-httplib 0.11.4, 8 workers",
        [&] {
          const int port = svr.bind_to_any_port("127.0.0.1");
          listener = std::thread([&] { svr.listen_after_bind(); });
          while (!svr.is_running()) std::this_thread::sleep_for(1ms);
          return port;
        },
        [&] {
          svr.stop();
          listener.join();
        },
        connections, requests, runs);
  }
  for (const auto engine : {http::HttpServerEngine::kThreadPool, http::HttpServerEngine::kEventLoop}) {
    http::HttpServerOptions o;
    o.engine = engine;
    o.worker_threads = 8;
    http::HttpServer server(o);
    if (!server.handle("GET", "/healthz",
                       [](const http::HttpRequest&) {
                         return http::HttpResponse{200, kBody};
                       })
             .ok()) {
      return 1;
    }
    report(
        engine == http::HttpServerEngine::kThreadPool ? "HttpServer event loop + 8 workers"
                                                      : "HttpServer event loop, inline handlers",
        [&] { return server.start().ok() ? server.port() : -1; }, [&] { server.stop(); }, connections, requests, runs);
  }
  return 0;
}
