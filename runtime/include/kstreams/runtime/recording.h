// Recordings of topics as JSON lines, and replay of a recording through the TopologyTestDriver
// against a golden recording of the expected outputs.
//
// One record per line:
//   {"topic":"orders","partition":0,"offset":17,"timestamp":1700000000000,
//    "key":"c1","value":"{\"id\":1}","headers":[{"key":"trace","value":"t-1"}]}
// Bytes are written as UTF-8 strings when they are valid UTF-8, else base64 with a flag:
// "key_encoding":"base64" / "value_encoding":"base64" / a header's "encoding":"base64".
// A null key or value is JSON null (distinct from ""). Lines are independent; blank lines are ignored.
// "partition" (default 0) is an integer in 0..2^31-1, "offset" (default -1) and "timestamp" integers
// that fit int64; a line with anything else there (a float, a string, a number out of range) is
// kDataLoss.
//
// Thread-safety: RecordingWriter belongs to one thread; the free functions are reentrant.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kstreams/common/record.h"
#include "kstreams/common/status.h"
#include "kstreams/topology/topology.h"

namespace kstreams::recording {

[[nodiscard]] std::string to_json_line(const RawRecord& record);  // without the trailing newline
[[nodiscard]] absl::StatusOr<RawRecord> from_json_line(std::string_view line);

// Appends records to a file (created or truncated by open()).
class RecordingWriter {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RecordingWriter>> open(const std::filesystem::path& path);
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;
  [[nodiscard]] absl::Status write(const RawRecord& record);
  // Flushes and closes; also done by the destructor (errors then only logged).
  [[nodiscard]] absl::Status close();

 private:
  explicit RecordingWriter(std::FILE* f) : file_(f) {}
  std::FILE* file_;
};

[[nodiscard]] absl::Status write_recording(const std::filesystem::path& path, const std::vector<RawRecord>& records);
// kDataLoss names the line that does not parse.
[[nodiscard]] absl::StatusOr<std::vector<RawRecord>> read_recording(const std::filesystem::path& path);

// Compares two recordings topic by topic, in order, on key, value, timestamp and headers (not
// offsets or partitions). Returns "" when they agree, else a readable diff, e.g.
//   topic out, record 3: value expected "7" but was "8"
//   topic out: 2 records expected, 1 produced; missing: {"key":"c",...}
[[nodiscard]] std::string diff_records(const std::vector<RawRecord>& expected, const std::vector<RawRecord>& actual);

// Replays `input` (records of the topology's source topics, piped in file order with their
// partition, key, value, timestamp and headers) through a TopologyTestDriver built with `config`
// (input topics get as many partitions as the recording uses unless configured), then compares every
// topic present in `golden` with what the driver produced. Returns "" when they agree, else the diff.
[[nodiscard]] std::string replay_and_diff(const Topology& topology, std::map<std::string, std::string> config,
                                          const std::vector<RawRecord>& input, const std::vector<RawRecord>& golden);

}  // namespace kstreams::recording
