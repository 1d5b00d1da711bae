// ecommerce_webhook: the test webhook receiver (see webhook_receiver.h). Runs until SIGTERM/SIGINT,
// then prints its stats as JSON on stdout.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "loadgen/flags.h"
#include "webhook/webhook_receiver.h"

namespace {

int run(int argc, char** argv) {
  ecommerce::webhook::WebhookOptions o;
  std::string listen = "127.0.0.1:8089";
  ecommerce::tools::FlagParser flags("ecommerce_webhook",
                                     "Receives notifications (POST /notifications), deduplicates them by "
                                     "Idempotency-Key and fails on purpose when asked. GET /stats, "
                                     "POST /admin/outage?ms=N.");
  flags.add("--listen", &listen, "host:port to listen on (port 0 = ephemeral)");
  flags.add("--fail-share", &o.fail_share, "share of notifications answered 503 at random");
  flags.add("--seed", &o.seed, "seed of the random failures");
  flags.add("--outage-ms-from", &o.outage_from_ms, "start of an outage, ms after start (< 0 = none)");
  flags.add("--outage-ms-to", &o.outage_to_ms, "end of that outage, ms after start");
  flags.add("--threads", &o.worker_threads,
            "0 = one event-loop thread serves every connection and runs the handlers (default); N > 0 = "
            "N worker threads run the handlers");
  if (auto code = flags.parse(argc, argv)) return *code;
  const auto colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      size_t pos = 0;
      port = std::stoi(listen.substr(colon + 1), &pos);
      if (pos != listen.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    std::fprintf(stderr, "ecommerce_webhook: error: --listen must be host:port\n\n%s", flags.usage().c_str());
    return 2;
  }
  o.host = listen.substr(0, colon);
  o.port = port;

  // Block the stop signals in every thread (the server's threads inherit the mask), wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ecommerce::webhook::WebhookReceiver receiver(o);
  if (absl::Status st = receiver.start(); !st.ok()) {
    std::cerr << "ecommerce_webhook: " << st << "\n";
    return st.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cerr << "ecommerce_webhook: listening on " << o.host << ":" << receiver.port() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  receiver.stop();
  std::cout << to_json(receiver.stats()).dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
