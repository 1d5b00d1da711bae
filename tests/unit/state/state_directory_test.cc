#include "kstreams/state/state_manager.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "state_test_util.h"

namespace kstreams::state {
namespace {

using testing::TempDir;

TEST(StateDirectoryTest, TaskDirIsStateDirSlashApplicationIdSlashTaskId) {
  TempDir dir;
  auto sd = StateDirectory::open(dir.path(), "app");
  ASSERT_TRUE(sd.ok());
  EXPECT_EQ((*sd)->task_dir(TaskId{0, 3}), dir.path() / "app" / "0_3");
}

TEST(StateDirectoryTest, SecondOwnerInTheSameProcessIsRefusedUntilTheFirstUnlocks) {
  TempDir dir;
  auto first = *StateDirectory::open(dir.path(), "app");
  auto second = *StateDirectory::open(dir.path(), "app");
  ASSERT_TRUE(first->lock(TaskId{0, 1}).ok());
  EXPECT_TRUE(first->lock(TaskId{0, 1}).ok());  // re-entrant for the owner
  EXPECT_EQ(second->lock(TaskId{0, 1}).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(second->lock(TaskId{0, 2}).ok());  // other tasks are independent
  first->unlock(TaskId{0, 1});
  EXPECT_TRUE(second->lock(TaskId{0, 1}).ok());
}

TEST(StateDirectoryTest, ALockBelongsToItsThreadNotToTheWholeInstance) {
  // Two stream threads share the instance's StateDirectory. A task moved from one to the other by
  // a rebalance must not be opened by the second while the first still has it open.
  TempDir dir;
  auto sd = *StateDirectory::open(dir.path(), "app");
  ASSERT_TRUE(sd->lock(TaskId{0, 1}).ok());
  absl::Status other_lock;
  absl::Status other_wipe;
  std::thread other([&] {
    other_lock = sd->lock(TaskId{0, 1});
    other_wipe = sd->wipe(TaskId{0, 1});
    sd->unlock(TaskId{0, 1});  // not its lock: no effect
  });
  other.join();
  EXPECT_EQ(other_lock.code(), absl::StatusCode::kUnavailable) << other_lock;
  EXPECT_EQ(other_wipe.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(sd->wipe(TaskId{0, 1}).ok());  // still ours
  sd->unlock(TaskId{0, 1});
  std::thread next([&] { other_lock = sd->lock(TaskId{0, 1}); });
  next.join();
  EXPECT_TRUE(other_lock.ok()) << other_lock;
}

TEST(StateDirectoryTest, LockHeldByAnotherProcessIsRefused) {
  TempDir dir;
  auto sd = *StateDirectory::open(dir.path(), "app");
  int ready[2];
  int done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto other = StateDirectory::open(dir.path(), "app");
    char c = other.ok() && (*other)->lock(TaskId{0, 1}).ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(done[0], &c, 1);  // hold the lock until the parent has checked
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(sd->lock(TaskId{0, 1}).code(), absl::StatusCode::kUnavailable);  // retry later
  (void)!write(done[1], "x", 1);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(sd->lock(TaskId{0, 1}).ok());  // released when the other process exited
}

TEST(StateDirectoryTest, WipeRemovesTheTaskStateButNeedsTheLock) {
  TempDir dir;
  auto sd = *StateDirectory::open(dir.path(), "app");
  const auto task_dir = sd->task_dir(TaskId{1, 0});
  EXPECT_EQ(sd->wipe(TaskId{1, 0}).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(sd->lock(TaskId{1, 0}).ok());
  std::filesystem::create_directories(task_dir / "rocksdb");
  std::ofstream(task_dir / "rocksdb" / "CURRENT") << "x";
  ASSERT_TRUE(sd->wipe(TaskId{1, 0}).ok());
  EXPECT_FALSE(std::filesystem::exists(task_dir / "rocksdb"));
  auto other = *StateDirectory::open(dir.path(), "app");
  EXPECT_EQ(other->lock(TaskId{1, 0}).code(), absl::StatusCode::kUnavailable);  // still locked
}

TEST(StateDirectoryTest, ApplicationIdThatIsNotADirectoryNameIsRejected) {
  TempDir dir;
  EXPECT_EQ(StateDirectory::open(dir.path(), "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StateDirectory::open(dir.path(), "a/b").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kstreams::state
