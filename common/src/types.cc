#include "kstreams/common/types.h"

#include <charconv>

namespace kstreams {

bool TaskId::parse(const std::string& text, TaskId* out) {
  const auto sep = text.find('_');
  if (sep == std::string::npos || sep == 0 || sep + 1 == text.size()) return false;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  TaskId id;
  auto r1 = std::from_chars(begin, begin + sep, id.subtopology);
  auto r2 = std::from_chars(begin + sep + 1, end, id.partition);
  if (r1.ec != std::errc() || r1.ptr != begin + sep || r2.ec != std::errc() || r2.ptr != end) return false;
  if (id.subtopology < 0 || id.partition < 0) return false;
  *out = id;
  return true;
}

}  // namespace kstreams
