#include "contenders/contender.h"

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>

namespace kbench {

namespace {

std::mutex g_out_mu;
volatile std::sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

bool one_of(const std::string& v, std::initializer_list<const char*> values) {
  for (const char* x : values) {
    if (v == x) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<ContenderArgs> parse_args(int argc, const char* const* argv, bool needs_state_dir) {
  ContenderArgs a;
  std::string expect;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return absl::InvalidArgumentError("flag " + flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--scenario") {
      a.scenario = value;
    } else if (flag == "--guarantee") {
      a.guarantee = value;
    } else if (flag == "--bootstrap") {
      a.bootstrap = value;
    } else if (flag == "--app-id") {
      a.app_id = value;
    } else if (flag == "--prefix") {
      a.prefix = value;
    } else if (flag == "--expect") {
      expect = value;
    } else if (flag == "--state-dir") {
      a.state_dir = value;
    } else if (flag == "--set") {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return absl::InvalidArgumentError("--set needs k=v, got '" + value + "'");
      a.sets.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else {
      return absl::InvalidArgumentError("unknown flag " + flag);
    }
  }
  bool known = false;
  for (const char* s : kScenarios) known = known || a.scenario == s;
  if (!known)
    return absl::InvalidArgumentError(
        "--scenario must be one of stateless|count|tumbling|hopping|table_join|"
        "stream_join|saga|restore, got '" +
        a.scenario + "'");
  if (!one_of(a.guarantee, {"at_least_once", "exactly_once_v2"})) {
    return absl::InvalidArgumentError("--guarantee must be at_least_once or exactly_once_v2, got '" + a.guarantee +
                                      "'");
  }
  if (a.bootstrap.empty()) return absl::InvalidArgumentError("--bootstrap is required");
  if (a.app_id.empty()) return absl::InvalidArgumentError("--app-id is required");
  if (a.prefix.empty()) return absl::InvalidArgumentError("--prefix is required");
  const auto r = std::from_chars(expect.data(), expect.data() + expect.size(), a.expect);
  if (expect.empty() || r.ec != std::errc() || r.ptr != expect.data() + expect.size() || a.expect < 1) {
    return absl::InvalidArgumentError("--expect needs a positive integer, got '" + expect + "'");
  }
  if (needs_state_dir && a.state_dir.empty()) return absl::InvalidArgumentError("--state-dir is required");
  return a;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void emit(const std::string& json) {
  std::lock_guard lock(g_out_mu);
  std::fputs(json.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void emit_ready() { emit(R"({"event":"ready","t_ms":)" + std::to_string(now_ms()) + "}"); }

void emit_error(const std::string& message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') {
      escaped += '\\';
      escaped += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      escaped += ' ';
    } else {
      escaped += c;
    }
  }
  emit(R"({"event":"error","message":")" + escaped + "\"}");
}

void report_setting(const std::string& key, const std::string& value) {
  std::fprintf(stderr, "setting %s=%s\n", key.c_str(), value.c_str());
}

ProgressMonitor::ProgressMonitor(const std::atomic<int64_t>& counter, int64_t expect)
    : counter_(counter), expect_(expect), thread_([this] { run(); }) {}

ProgressMonitor::~ProgressMonitor() { stop(); }

void ProgressMonitor::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ProgressMonitor::run() {
  bool first = false;
  while (!stop_.load()) {
    const int64_t n = counter_.load(std::memory_order_relaxed);
    if (!first && n >= 1) {
      first = true;
      emit(R"({"event":"first","t_ms":)" + std::to_string(now_ms()) + R"(,"processed":)" + std::to_string(n) + "}");
    }
    if (first && n >= expect_) {
      emit(R"({"event":"done","t_ms":)" + std::to_string(now_ms()) + R"(,"processed":)" + std::to_string(n) + "}");
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void install_stop_signals() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
}

bool stop_requested() { return g_stop != 0; }

}  // namespace kbench
