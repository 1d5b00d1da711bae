#include "kstreams/common/logging.h"

#include <cstdlib>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace kstreams::log {

std::shared_ptr<spdlog::logger> get() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("kstreams");
    l->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
    const char* level = std::getenv("KSTREAMS_LOG_LEVEL");
    l->set_level(spdlog::level::from_str(level != nullptr ? level : "info"));
    return l;
  }();
  return logger;
}

void set_level(const std::string& level) { get()->set_level(spdlog::level::from_str(level)); }

}  // namespace kstreams::log
