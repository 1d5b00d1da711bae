// Records that exceeded processing.record.budget.ms in an earlier run of this instance.
//
// When a record hangs a stream thread, the watchdog adds its coordinates here and the process
// exits (a hung thread cannot be stopped). The file survives the restart in the state directory;
// when the record is read again, StreamTask hands it to the processing exception handler (error
// class PROCESSING_BUDGET: the dead-letter topic by default) instead of processing it, and removes
// it from the quarantine. A record dead-lettered and not committed yet (a crash right after)
// hangs the thread once more and is quarantined again: never lost, never processed.
//
// File: `<state.dir>/<application.id>/quarantine`, one record per line, "<partition> <offset>
// <topic>" (the topic last: it may contain spaces in theory). Lines that do not parse are reported
// by load() and the file is not used. At most kMaxRecords entries: add() refuses more (a topology
// that hangs on that many records is broken, not unlucky; the instance stops all the same).
//
// Thread-safety: every member may be called from any thread (stream threads and the watchdog);
// contains() is lock-free while the quarantine is empty (the common case, once per record).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "record_watch.h"

namespace kstreams::runtime {

class Quarantine {
 public:
  static constexpr size_t kMaxRecords = 1000;

  // Reads the file at `path` (absent: empty quarantine).
  static absl::StatusOr<std::unique_ptr<Quarantine>> load(std::string path);

  [[nodiscard]] bool contains(const std::string& topic, int32_t partition, int64_t offset) const;
  // Adds a record and writes the file durably (write to a temporary file, fsync, rename) before
  // returning: the caller exits the process right after.
  absl::Status add(const RecordCoordinates& record);
  // Removes a record (it was handed to the exception handler) and rewrites the file.
  absl::Status remove(const RecordCoordinates& record);
  [[nodiscard]] size_t size() const;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  explicit Quarantine(std::string path) : path_(std::move(path)) {}
  absl::Status write_locked() const;

  const std::string path_;
  mutable std::mutex mu_;
  std::set<RecordCoordinates> records_;
  std::atomic<size_t> size_{0};
};

}  // namespace kstreams::runtime
