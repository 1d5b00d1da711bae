#include "mailbox.h"

#include <exception>

#include "kstreams/common/logging.h"

namespace kstreams::runtime {

absl::Status Mailbox::call(const std::function<void()>& fn, std::chrono::milliseconds timeout) {
  auto c = std::make_shared<Call>();
  c->fn = &fn;
  std::unique_lock lock(mu_);
  if (closed_) return absl::UnavailableError("stream thread is not running");
  queue_.push_back(c);
  pending_ = true;
  const auto result = [&] {
    return c->threw ? absl::InternalError("the call on the stream thread threw") : absl::OkStatus();
  };
  if (done_.wait_for(lock, timeout, [&] { return c->state == Call::State::kDone; })) return result();
  if (c->state == Call::State::kQueued) {
    c->state = Call::State::kCancelled;  // drain() skips it: fn is never called after we return
    return absl::UnavailableError("stream thread did not answer in time");
  }
  // Running: fn references our frame, so wait for it to finish (a store read: short).
  done_.wait(lock, [&] { return c->state == Call::State::kDone; });
  return result();
}

void Mailbox::run(Call& call) {
  {
    std::lock_guard lock(mu_);
    if (call.state != Call::State::kQueued) return;  // cancelled by a caller that gave up
    call.state = Call::State::kRunning;
  }
  bool threw = false;
  try {
    (*call.fn)();
  } catch (const std::exception& e) {
    threw = true;
    KS_LOG_ERROR("a call on the stream thread threw: {}", e.what());
  } catch (...) {
    threw = true;
    KS_LOG_ERROR("a call on the stream thread threw");
  }
  {
    std::lock_guard lock(mu_);
    call.threw = threw;
    call.state = Call::State::kDone;
  }
  done_.notify_all();
}

void Mailbox::drain() {
  if (!pending()) return;
  std::vector<std::shared_ptr<Call>> work;
  {
    std::lock_guard lock(mu_);
    work.swap(queue_);
    pending_ = false;
  }
  for (auto& c : work) run(*c);
}

void Mailbox::close() {
  std::vector<std::shared_ptr<Call>> work;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    work.swap(queue_);
    pending_ = false;
  }
  for (auto& c : work) run(*c);  // never leave a query waiting
}

}  // namespace kstreams::runtime
