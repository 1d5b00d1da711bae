// CPU per webhook call of HttpPool (the e-commerce webhook client) on the loopback interface,
// against the event-loop server the test webhook receiver uses, answering 200 to every POST.
// Each iteration posts a batch of 256 notifications (8 keep-alive connections) and waits for all
// of them. Counters, per request: io_cpu_us (the pool's I/O thread, read with
// CLOCK_THREAD_CPUTIME_ID inside its callbacks) and process_cpu_us (the whole process: client, I/O
// thread and the server). Run the executable directly for numbers
// (`webhook_client_bench --benchmark_repetitions=5`); the ctest smoke run only checks it works.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "kstreams/runtime/http.h"
#include "kstreams/runtime/http_pool.h"

namespace kstreams::runtime::http {
namespace {

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t process_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t{ru.ru_utime.tv_sec} + ru.ru_stime.tv_sec) * 1'000'000'000 +
         (int64_t{ru.ru_utime.tv_usec} + ru.ru_stime.tv_usec) * 1000;
}

void BM_WebhookPost(benchmark::State& state) {
  HttpServerOptions server_options;
  server_options.engine = HttpServerEngine::kEventLoop;
  HttpServer server(server_options);
  if (!server.handle("POST", "/n", [](const HttpRequest&) { return HttpResponse{}; }).ok() || !server.start().ok()) {
    state.SkipWithError("server did not start");
    return;
  }
  HttpPool::Options options;
  options.connections = 8;
  options.thread_name = "bench-webhook";
  auto pool = HttpPool::create("http://127.0.0.1:" + std::to_string(server.port()) + "/n", options);
  if (!pool.ok()) {
    state.SkipWithError(pool.status().ToString().c_str());
    return;
  }
  constexpr int kBatch = 256;
  const std::string body =
      R"({"order_id":"o-000001","status":"CONFIRMED","reason":null,"total_cents":2598,"created_at":1764288000000,)"
      R"("updated_at":1764288000100,"items":[{"sku":"sku-0007","qty":2,"unit_price_cents":1299}]})";
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int failed = 0;
  std::atomic<int64_t> io_cpu{0};
  auto callback = [&](absl::StatusOr<int> status) {
    io_cpu.store(thread_cpu_ns(), std::memory_order_relaxed);
    std::lock_guard lock(mu);
    ++done;
    if (!status.ok() || *status != 200) ++failed;
    cv.notify_all();
  };
  auto run_batch = [&](int batch_no) {
    {
      std::lock_guard lock(mu);
      done = 0;
    }
    for (int i = 0; i < kBatch; ++i) {
      (*pool)->post(body, {{"Idempotency-Key", "o-" + std::to_string(batch_no) + "-" + std::to_string(i)}}, callback);
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done == kBatch; });
  };
  run_batch(-1);  // connections open, caches warm
  const int64_t io_before = io_cpu.load();
  const int64_t process_before = process_cpu_ns();
  int batches = 0;
  for (auto _ : state) run_batch(batches++);
  const int64_t requests = int64_t{batches} * kBatch;
  state.SetItemsProcessed(requests);
  state.counters["io_cpu_us"] = static_cast<double>(io_cpu.load() - io_before) / 1000.0 / static_cast<double>(requests);
  state.counters["process_cpu_us"] =
      static_cast<double>(process_cpu_ns() - process_before) / 1000.0 / static_cast<double>(requests);
  state.counters["connections"] = static_cast<double>((*pool)->stats().connections_opened);
  if (failed > 0) state.SkipWithError("some requests failed");
}
BENCHMARK(BM_WebhookPost)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace kstreams::runtime::http
