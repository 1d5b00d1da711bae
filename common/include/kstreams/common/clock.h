// Wall-clock time, injected so tests can control it.
//
// Thread-safety: SystemClock is stateless; ManualClock is safe to read and advance from any thread.
#pragma once

#include <atomic>
#include <chrono>

#include "kstreams/common/types.h"

namespace kstreams {

class Clock {
 public:
  virtual ~Clock() = default;
  // Epoch milliseconds.
  [[nodiscard]] virtual TimestampMs now_ms() const = 0;
  // A monotonic reading in nanoseconds, for measuring durations.
  [[nodiscard]] virtual int64_t monotonic_ns() const = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimestampMs now_ms() const override;
  [[nodiscard]] int64_t monotonic_ns() const override;
  // A process-wide instance (never destroyed).
  static SystemClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimestampMs start_ms = 0) : now_ms_(start_ms) {}
  [[nodiscard]] TimestampMs now_ms() const override { return now_ms_.load(); }
  [[nodiscard]] int64_t monotonic_ns() const override { return now_ms_.load() * 1'000'000; }
  void advance(std::chrono::milliseconds d) { now_ms_ += d.count(); }
  void set(TimestampMs t) { now_ms_ = t; }

 private:
  std::atomic<TimestampMs> now_ms_;
};

}  // namespace kstreams
