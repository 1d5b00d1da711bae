#include "loadgen/flags.h"

#include <charconv>
#include <cstdio>
#include <sstream>

namespace ecommerce::tools {
namespace {

template <typename T>
bool parse_number(const std::string& text, T* out) {
  if (text.empty()) return false;
  if constexpr (std::is_floating_point_v<T>) {
    try {
      size_t pos = 0;
      *out = static_cast<T>(std::stod(text, &pos));
      return pos == text.size();
    } catch (const std::exception&) {
      return false;
    }
  } else {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, *out);
    return ec == std::errc() && ptr == end;
  }
}

template <typename T>
std::string to_text(const T& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

FlagParser::FlagParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void FlagParser::add(const std::string& name, std::string* target, const std::string& help) {
  flags_.push_back({name, help, "\"" + *target + "\"", false, [target](const std::string& v) {
                      *target = v;
                      return true;
                    }});
}

#define KSTREAMS_ECOM_NUMBER_FLAG(T)                                                                                \
  void FlagParser::add(const std::string& name, T* target, const std::string& help) {                               \
    flags_.push_back(                                                                                               \
        {name, help, to_text(*target), false, [target](const std::string& v) { return parse_number(v, target); }}); \
  }
KSTREAMS_ECOM_NUMBER_FLAG(int64_t)
KSTREAMS_ECOM_NUMBER_FLAG(int32_t)
KSTREAMS_ECOM_NUMBER_FLAG(uint64_t)
KSTREAMS_ECOM_NUMBER_FLAG(double)
#undef KSTREAMS_ECOM_NUMBER_FLAG

void FlagParser::add(const std::string& name, bool* target, const std::string& help) {
  flags_.push_back({name, help, *target ? "true" : "false", true, [target](const std::string& v) {
                      if (v == "true" || v == "1") {
                        *target = true;
                      } else if (v == "false" || v == "0") {
                        *target = false;
                      } else {
                        return false;
                      }
                      return true;
                    }});
}

FlagParser::Flag* FlagParser::find(const std::string& name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool FlagParser::given(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name) return f.given;
  }
  return false;
}

std::string FlagParser::usage() const {
  std::ostringstream os;
  os << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
  for (const auto& f : flags_) {
    os << "  " << f.name << (f.is_bool ? "" : " VALUE") << "\n      " << f.help << " (default " << f.default_text
       << ")\n";
  }
  os << "  --help\n      print this help\n";
  return os.str();
}

std::optional<int> FlagParser::parse(int argc, const char* const* argv) {
  auto fail = [this](const std::string& message) {
    std::fprintf(stderr, "%s: error: %s\n\n%s", program_.c_str(), message.c_str(), usage().c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    if (arg.rfind("--", 0) != 0) return fail("unexpected argument '" + arg + "'");
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    Flag* f = find(arg);
    if (f == nullptr) return fail("unknown flag '" + arg + "'");
    if (!value) {
      if (f->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return fail("flag '" + arg + "' needs a value");
      }
    }
    if (!f->set(*value)) return fail("bad value '" + *value + "' for " + arg);
    f->given = true;
  }
  return std::nullopt;
}

}  // namespace ecommerce::tools
