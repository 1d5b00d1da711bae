// Mailbox: how other threads (HTTP query handlers) run a function on a stream thread and wait for
// it, with a deadline.
//
// call(fn, timeout) enqueues fn and waits up to `timeout` for the owner thread to run it in
// drain(). fn may reference the caller's stack: when the wait times out, a call the owner has not
// started yet is cancelled (it will never run), and a call it is already running is waited for to
// the end, so fn never outlives its caller's frame. close() runs what is still queued and makes
// later calls fail at once with kUnavailable.
//
// Thread-safety: call() from any thread but the owner's; drain() and close() from the owner only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "kstreams/common/status.h"

namespace kstreams::runtime {

class Mailbox {
 public:
  // kUnavailable: closed, or not started by the owner within `timeout` (then it never runs);
  // kInternal: fn threw (logged; the owner thread goes on).
  [[nodiscard]] absl::Status call(const std::function<void()>& fn, std::chrono::milliseconds timeout);
  // Runs every queued call (owner thread). Cheap when nothing is queued.
  void drain();
  // Runs what is queued, then refuses new calls (owner thread, once).
  void close();
  [[nodiscard]] bool pending() const { return pending_.load(std::memory_order_relaxed); }

 private:
  struct Call {
    enum class State { kQueued, kRunning, kDone, kCancelled };
    const std::function<void()>* fn;  // the caller's: valid until the caller returns
    State state = State::kQueued;
    bool threw = false;
  };
  void run(Call& call);

  std::mutex mu_;
  std::condition_variable done_;
  std::vector<std::shared_ptr<Call>> queue_;
  std::atomic<bool> pending_{false};
  bool closed_ = false;
};

}  // namespace kstreams::runtime
