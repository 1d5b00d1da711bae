#include "quarantine.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace kstreams::runtime {
namespace {

// "<partition> <offset> <topic>"; false when the line is not that.
bool parse_line(const std::string& line, RecordCoordinates* out) {
  const char* p = line.data();
  const char* end = line.data() + line.size();
  auto r1 = std::from_chars(p, end, out->partition);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ' ' || out->partition < 0) return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, out->offset);
  if (r2.ec != std::errc() || r2.ptr == end || *r2.ptr != ' ' || out->offset < 0) return false;
  out->topic.assign(r2.ptr + 1, end);
  return !out->topic.empty();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Quarantine>> Quarantine::load(std::string path) {
  std::unique_ptr<Quarantine> q(new Quarantine(std::move(path)));
  std::ifstream in(q->path_);
  if (!in) return q;  // no file: nothing quarantined
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    RecordCoordinates r;
    if (!parse_line(line, &r)) {
      return absl::DataLossError("quarantine file " + q->path_ + " line " + std::to_string(number) +
                                 " is not '<partition> <offset> <topic>'");
    }
    if (q->records_.size() >= kMaxRecords) {
      return absl::DataLossError("quarantine file " + q->path_ + " has more than " + std::to_string(kMaxRecords) +
                                 " records");
    }
    q->records_.insert(std::move(r));
  }
  q->size_.store(q->records_.size());
  return q;
}

bool Quarantine::contains(const std::string& topic, int32_t partition, int64_t offset) const {
  if (size_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lock(mu_);
  return records_.count(RecordCoordinates{topic, partition, offset}) > 0;
}

absl::Status Quarantine::add(const RecordCoordinates& record) {
  std::lock_guard lock(mu_);
  if (records_.count(record)) return absl::OkStatus();
  if (records_.size() >= kMaxRecords) {
    return absl::ResourceExhaustedError("quarantine " + path_ + " is full (" + std::to_string(kMaxRecords) +
                                        " records)");
  }
  records_.insert(record);
  size_.store(records_.size(), std::memory_order_release);
  return write_locked();
}

absl::Status Quarantine::remove(const RecordCoordinates& record) {
  std::lock_guard lock(mu_);
  if (records_.erase(record) == 0) return absl::OkStatus();
  size_.store(records_.size(), std::memory_order_release);
  return write_locked();
}

size_t Quarantine::size() const { return size_.load(); }

absl::Status Quarantine::write_locked() const {
  std::ostringstream text;
  for (const auto& r : records_) text << r.partition << ' ' << r.offset << ' ' << r.topic << '\n';
  const std::string body = text.str();
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError("cannot write " + tmp + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < body.size()) {
    const ssize_t n = ::write(fd, body.data() + written, body.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError("cannot write " + tmp + ": " + std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::InternalError("cannot replace " + path_ + ": " + std::strerror(errno));
  }
  return absl::OkStatus();
}

}  // namespace kstreams::runtime
