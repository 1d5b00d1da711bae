// The processing budget of one record (processing.record.budget.ms), enforced for records that
// hang a stream thread: an endless loop or a call that never returns in user code cannot be
// interrupted, so the instance names the record and stops, and the record is dead-lettered when it
// comes back after the restart (quarantine.h).
//
//   stream thread (StreamTask::process)        watchdog (KafkaStreams' monitor, every 50 ms)
//     watch.begin(&topic, partition, offset)     if (auto r = watch.overdue(budget, now)) {
//     ... the record's processing ...                quarantine.add(*r); exit the process
//     watch.end()                                 }
//
// Thread-safety: begin()/end() on the owning stream thread only; overdue() from any thread. The
// topic passed to begin() comes from intern(): it lives as long as the process, so the watchdog
// never reads a freed name, whatever the stream thread closed meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace kstreams::runtime {

// A record named by its input coordinates (full topic name).
struct RecordCoordinates {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;

  friend bool operator==(const RecordCoordinates&, const RecordCoordinates&) = default;
  friend auto operator<=>(const RecordCoordinates&, const RecordCoordinates&) = default;
};

class InFlightRecord {
 public:
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // The process-lifetime copy of a topic name (one per distinct name; topics are few).
  static const std::string* intern(const std::string& topic) {
    static std::mutex mu;
    static std::set<std::string, std::less<>>* names = new std::set<std::string, std::less<>>();  // never freed
    std::lock_guard lock(mu);
    return &*names->insert(topic).first;
  }

  void begin(const std::string* topic, int32_t partition, int64_t offset) noexcept {
    topic_.store(topic, std::memory_order_relaxed);
    partition_.store(partition, std::memory_order_relaxed);
    offset_.store(offset, std::memory_order_relaxed);
    started_ns_.store(now_ns(), std::memory_order_release);
  }
  void end() noexcept { started_ns_.store(0, std::memory_order_release); }

  // The record in processing since more than `budget` before `now_ns`, if any. Exact only while
  // that record's processing hangs (the case it exists for); a record that ends meanwhile is not
  // reported: begin() is published last and read first.
  [[nodiscard]] std::optional<RecordCoordinates> overdue(std::chrono::nanoseconds budget, int64_t now) const {
    const int64_t started = started_ns_.load(std::memory_order_acquire);
    if (started == 0 || now - started <= budget.count()) return std::nullopt;
    RecordCoordinates r{*topic_.load(std::memory_order_relaxed), partition_.load(std::memory_order_relaxed),
                        offset_.load(std::memory_order_relaxed)};
    if (started_ns_.load(std::memory_order_acquire) != started) return std::nullopt;  // it ended after all
    return r;
  }

 private:
  std::atomic<int64_t> started_ns_{0};
  std::atomic<const std::string*> topic_{nullptr};
  std::atomic<int32_t> partition_{-1};
  std::atomic<int64_t> offset_{-1};
};

}  // namespace kstreams::runtime
