// Queries run on the stream thread through its Mailbox with a deadline. A query that times out
// must never run later: its function references the HTTP handler's stack, which is gone by then.
#include "mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace kstreams::runtime {
namespace {

using namespace std::chrono_literals;

TEST(MailboxTest, RunsACallOnTheOwnerAndReturnsWhenItIsDone) {
  Mailbox mailbox;
  std::atomic<bool> stop{false};
  std::thread owner([&] {
    while (!stop) {
      mailbox.drain();
      std::this_thread::sleep_for(1ms);
    }
  });
  int value = 0;
  EXPECT_TRUE(mailbox.call([&] { value = 42; }, 5s).ok());
  EXPECT_EQ(value, 42);
  stop = true;
  owner.join();
}

TEST(MailboxTest, ACallThatTimedOutNeverRunsAfterTheCallerReturned) {
  Mailbox mailbox;
  auto ran = std::make_shared<std::atomic<int>>(0);
  {
    auto frame = std::make_unique<int>(7);  // stands for the caller's stack
    absl::Status st = mailbox.call([&frame, ran] { *ran += *frame; }, 20ms);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  }
  mailbox.drain();  // the owner gets to it only now
  EXPECT_EQ(*ran, 0);
}

TEST(MailboxTest, ACallAlreadyRunningAtTheDeadlineIsWaitedFor) {
  Mailbox mailbox;
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  std::thread owner([&] {
    while (!mailbox.pending()) std::this_thread::sleep_for(1ms);
    mailbox.drain();
  });
  absl::Status st = mailbox.call(
      [&] {
        started = true;
        std::this_thread::sleep_for(200ms);  // past the caller's deadline
        finished = true;
      },
      50ms);
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(started);
  EXPECT_TRUE(finished);  // the call did not return while fn could still touch its frame
  owner.join();
}

TEST(MailboxTest, CloseRunsWhatIsQueuedAndRefusesLaterCalls) {
  Mailbox mailbox;
  std::atomic<int> ran{0};
  std::thread caller([&] { EXPECT_TRUE(mailbox.call([&] { ++ran; }, 5s).ok()); });
  while (!mailbox.pending()) std::this_thread::sleep_for(1ms);
  mailbox.close();
  caller.join();
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(mailbox.call([&] { ++ran; }, 1s).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ran, 1);
}

TEST(MailboxTest, ACallThatThrowsReturnsAnErrorToItsCaller) {
  Mailbox mailbox;
  std::thread owner([&] {
    while (!mailbox.pending()) std::this_thread::sleep_for(1ms);
    mailbox.drain();
  });
  EXPECT_EQ(mailbox.call([] { throw std::runtime_error("boom"); }, 5s).code(), absl::StatusCode::kInternal);
  owner.join();
}

}  // namespace
}  // namespace kstreams::runtime
