// What the benchmark contenders (bench_ceiling, bench_kstreams) share: the command line and the
// stdout events of bench/harness/PROTOCOL.md, and the monitor thread that turns a processed-record
// counter into the `first` / `done` events.
//
// Events go to stdout, one JSON object per line, flushed at once; everything else goes to stderr.
// Thread-safety: emit() and the Events methods may be called from any thread (one mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kstreams/common/status.h"

namespace kbench {

// The scenarios of PROTOCOL.md.
inline constexpr const char* kScenarios[] = {"stateless",  "count",       "tumbling", "hopping",
                                             "table_join", "stream_join", "saga",     "restore"};

struct ContenderArgs {
  std::string scenario;
  std::string guarantee;  // at_least_once | exactly_once_v2
  std::string bootstrap;
  std::string app_id;
  std::string prefix;
  int64_t expect = 0;
  std::string state_dir;
  std::vector<std::pair<std::string, std::string>> sets;  // --set k=v, in order

  [[nodiscard]] bool exactly_once() const { return guarantee == "exactly_once_v2"; }
  // Topic names of PROTOCOL.md ("Topics").
  [[nodiscard]] std::string in() const { return prefix + "-in"; }
  [[nodiscard]] std::string in2() const { return prefix + "-in2"; }
  [[nodiscard]] std::string table() const { return prefix + "-table"; }
  [[nodiscard]] std::string out() const { return prefix + "-out"; }
};

// Parses the protocol's flags. Every flag but --state-dir and --set is required (--state-dir when
// `needs_state_dir`). A bad or unknown flag is kInvalidArgument with a one-line message.
[[nodiscard]] absl::StatusOr<ContenderArgs> parse_args(int argc, const char* const* argv, bool needs_state_dir);

// Wall clock, epoch milliseconds.
[[nodiscard]] int64_t now_ms();

// Prints one event line (`json` is the whole object) to stdout and flushes.
void emit(const std::string& json);
void emit_ready();
void emit_error(const std::string& message);
// Prints `setting k=v` on stderr (a non-default setting the contender applies by itself).
void report_setting(const std::string& key, const std::string& value);

// Polls `counter` every 2 ms on its own thread: prints `first` once it is >= 1 and `done` once it is
// >= expect. The counter must outlive the monitor; stop() (or the destructor) joins the thread.
class ProgressMonitor {
 public:
  ProgressMonitor(const std::atomic<int64_t>& counter, int64_t expect);
  ~ProgressMonitor();
  ProgressMonitor(const ProgressMonitor&) = delete;
  ProgressMonitor& operator=(const ProgressMonitor&) = delete;
  void stop();

 private:
  void run();
  const std::atomic<int64_t>& counter_;
  const int64_t expect_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// SIGTERM / SIGINT set a flag (installed once; the handler only stores).
void install_stop_signals();
[[nodiscard]] bool stop_requested();

}  // namespace kbench
