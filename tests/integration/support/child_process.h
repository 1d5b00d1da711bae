// A child process for tests that must kill and restart an application (fork/exec, SIGKILL).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace kstreams::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with the arguments; stdout and stderr are appended to `log_path`.
  ChildProcess(std::vector<std::string> argv, std::string log_path);
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void kill_hard();  // SIGKILL and reap
  // SIGTERM, then wait up to `timeout`; returns the exit code (-1 if it had to be killed).
  int terminate(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// The last `lines` lines of a file (for failure messages).
std::string tail_file(const std::string& path, int lines);

}  // namespace kstreams::testing
