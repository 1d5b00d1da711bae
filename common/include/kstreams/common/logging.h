// Logging through spdlog. Lines carry the component and, where there is one, the thread and task:
//   stream-thread [app-StreamThread-1] task [0_3] ...
//
// Thread-safety: loggers are spdlog's thread-safe (_mt) loggers; set_level() may be called any time.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace kstreams::log {

// The shared "kstreams" logger (stderr, created on first use). Level from KSTREAMS_LOG_LEVEL
// (trace, debug, info, warn, error, off; default info).
std::shared_ptr<spdlog::logger> get();
void set_level(const std::string& level);

}  // namespace kstreams::log

#define KS_LOG_TRACE(...) SPDLOG_LOGGER_TRACE(::kstreams::log::get(), __VA_ARGS__)
#define KS_LOG_DEBUG(...) ::kstreams::log::get()->debug(__VA_ARGS__)
#define KS_LOG_INFO(...) ::kstreams::log::get()->info(__VA_ARGS__)
#define KS_LOG_WARN(...) ::kstreams::log::get()->warn(__VA_ARGS__)
#define KS_LOG_ERROR(...) ::kstreams::log::get()->error(__VA_ARGS__)
