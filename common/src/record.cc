#include "kstreams/common/record.h"

#include <algorithm>

namespace kstreams {

void Headers::set(std::string_view key, std::string value) {
  remove(key);
  entries_.emplace_back(std::string(key), std::move(value));
}

void Headers::remove(std::string_view key) {
  std::erase_if(entries_, [&](const Entry& e) { return e.first == key; });
}

std::optional<std::string_view> Headers::last(std::string_view key) const {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->first == key) return std::string_view(it->second);
  }
  return std::nullopt;
}

}  // namespace kstreams
