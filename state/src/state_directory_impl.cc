// StateDirectory: `<state.dir>/<application.id>/<task id>`, each task directory guarded by an
// exclusive flock(2) on `<task dir>/.lock`. flock locks belong to an open file description, so a
// second owner conflicts whether it is another process or another StateDirectory in this one.
// Within one StateDirectory a lock belongs to the thread that took it: another stream thread of the
// instance asking for the same task gets kUnavailable until the owner unlocks it.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "kstreams/state/state_manager.h"

namespace kstreams::state {
namespace {

constexpr char kLockFile[] = ".lock";

class StateDirectoryImpl final : public StateDirectory {
 public:
  explicit StateDirectoryImpl(std::filesystem::path root) : root_(std::move(root)) {}
  ~StateDirectoryImpl() override {
    std::lock_guard lock(mu_);
    for (auto& [task, held] : locks_) release(held.fd);
  }

  [[nodiscard]] std::filesystem::path task_dir(TaskId task) const override { return root_ / task.to_string(); }

  [[nodiscard]] absl::Status lock(TaskId task) override {
    std::lock_guard lock(mu_);
    if (auto held = locks_.find(task); held != locks_.end()) {
      if (held->second.owner == std::this_thread::get_id()) return absl::OkStatus();
      // Another stream thread of this instance still has the task open (its close is on its way:
      // a rebalance moved the task between threads). Retry later; never open the stores twice.
      return absl::UnavailableError("task directory " + task_dir(task).string() +
                                    " is still held by another stream thread of this instance");
    }
    const std::filesystem::path dir = task_dir(task);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError("cannot create task directory " + dir.string() + ": " + ec.message());
    const std::string path = (dir / kLockFile).string();
    int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError("cannot open " + path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return absl::UnavailableError("task directory " + dir.string() +
                                      " is locked by another process (an instance sharing this state.dir, or "
                                      "one still shutting down)");
      }
      return absl::InternalError("cannot lock " + path + ": " + std::strerror(err));
    }
    locks_.emplace(task, Held{fd, std::this_thread::get_id()});
    return absl::OkStatus();
  }

  void unlock(TaskId task) override {
    std::lock_guard lock(mu_);
    auto it = locks_.find(task);
    if (it == locks_.end() || it->second.owner != std::this_thread::get_id()) return;  // not ours
    release(it->second.fd);
    locks_.erase(it);
  }

  [[nodiscard]] absl::Status wipe(TaskId task) override {
    std::lock_guard lock(mu_);
    auto held = locks_.find(task);
    if (held == locks_.end() || held->second.owner != std::this_thread::get_id()) {
      return absl::FailedPreconditionError("wipe of task " + task.to_string() + " without holding its lock");
    }
    // Everything but the lock file, which must stay so that the lock keeps excluding other owners.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(task_dir(task), ec)) {
      if (entry.path().filename() == kLockFile) continue;
      std::filesystem::remove_all(entry.path(), ec);
      if (ec) return absl::InternalError("cannot remove " + entry.path().string() + ": " + ec.message());
    }
    if (ec) return absl::InternalError("cannot list " + task_dir(task).string() + ": " + ec.message());
    return absl::OkStatus();
  }

 private:
  static void release(int fd) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
  }

  const std::filesystem::path root_;
  std::mutex mu_;
  struct Held {
    int fd;
    std::thread::id owner;  // the thread that locked it: only it may use, wipe or unlock the task
  };
  std::map<TaskId, Held> locks_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StateDirectory>> StateDirectory::open(const std::filesystem::path& state_dir,
                                                                     const std::string& application_id) {
  if (application_id.empty() || application_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("application.id '" + application_id + "' cannot name a directory");
  }
  std::filesystem::path root = state_dir / application_id;
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return absl::InternalError("cannot create state directory " + root.string() + ": " + ec.message());
  return std::unique_ptr<StateDirectory>(std::make_unique<StateDirectoryImpl>(std::move(root)));
}

}  // namespace kstreams::state
