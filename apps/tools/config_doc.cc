// Prints docs/configuration.md from the StreamsConfig table.
#include <cstdio>

#include "kstreams/runtime/streams_config.h"

int main() {
  std::fputs(kstreams::runtime::StreamsConfig::to_markdown().c_str(), stdout);
  return 0;
}
