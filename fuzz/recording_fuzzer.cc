// Fuzzes the record/replay reader (kstreams/runtime/recording.h): read_recording() over a file
// holding the input, and from_json_line() on each of its lines.
//
// Invariants beyond "no crash":
//   - read_recording() succeeds exactly when every non-blank line parses, and then returns one
//     record per such line, in order;
//   - a record read back is written by to_json_line() as one line that reads back to the same
//     record (topic, partition, offset, timestamp, key, value and headers; bytes that are not
//     UTF-8 go through base64), and writing that again gives the same line.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "kstreams/runtime/recording.h"

namespace {

using kstreams::RawRecord;
namespace recording = kstreams::recording;

bool same(const RawRecord& a, const RawRecord& b) {
  return a.topic == b.topic && a.partition == b.partition && a.offset == b.offset && a.timestamp == b.timestamp &&
         a.key == b.key && a.value == b.value && a.headers == b.headers;
}

// One in-memory file for the whole run, rewritten for each input.
const std::string& file_path() {
  static const std::string path = [] {
    const int fd = memfd_create("kstreams-recording-fuzz", 0);
    FUZZ_CHECK(fd >= 0, "memfd_create");
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

void write_file(std::string_view bytes) {
  const int fd = std::stoi(file_path().substr(std::string_view("/proc/self/fd/").size()));
  FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate");
  FUZZ_CHECK(pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()), "pwrite");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // The lines as read_recording() sees them (std::getline: split on '\n', a last line without one).
  std::vector<RawRecord> expected;
  bool all_parse = true;
  size_t start = 0;
  while (start < in.size()) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto r = recording::from_json_line(line);
    if (!r.ok()) {
      all_parse = false;
      continue;
    }
    const std::string written = recording::to_json_line(*r);
    FUZZ_CHECK(written.find('\n') == std::string::npos, "a record is written as one line");
    auto back = recording::from_json_line(written);
    FUZZ_CHECK(back.ok(), "a written record reads back");
    FUZZ_CHECK(same(*r, *back), "a written record reads back to the same record");
    FUZZ_CHECK(recording::to_json_line(*back) == written, "writing is deterministic");
    expected.push_back(std::move(*r));
  }

  write_file(in);
  auto records = recording::read_recording(file_path());
  FUZZ_CHECK(records.ok() == all_parse, "read_recording fails exactly when a line does not parse");
  if (records.ok()) {
    FUZZ_CHECK(records->size() == expected.size(), "one record per non-blank line");
    for (size_t i = 0; i < expected.size(); ++i) FUZZ_CHECK(same((*records)[i], expected[i]), "same records");
  }
  return 0;
}
