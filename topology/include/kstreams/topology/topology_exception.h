// Thrown by the DSL and build() on misuse: a missing serde, a duplicate store or processor name,
// inputs that cannot be co-partitioned. The one place kstreams throws (see STYLE.md, error model).
#pragma once

#include <stdexcept>
#include <string>

namespace kstreams {

class TopologyException : public std::runtime_error {
 public:
  explicit TopologyException(const std::string& what) : std::runtime_error("Invalid topology: " + what) {}
};

}  // namespace kstreams
