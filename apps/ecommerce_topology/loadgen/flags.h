// A small command-line flag parser shared by the e-commerce tools: `--name value` or
// `--name=value`, booleans as `--name` or `--name=true|false`, `--help`.
//
// Usage:
//   FlagParser flags("ecommerce_verify", "Checks every invariant of the contract.");
//   flags.add("--bootstrap", &bootstrap, "Kafka bootstrap servers");
//   if (auto exit_code = flags.parse(argc, argv)) return *exit_code;
// parse() returns 0 after printing usage for --help, 2 after printing the error and usage for a bad
// flag or value (unknown flag, missing value, not a number, positional argument), nullopt otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ecommerce::tools {

class FlagParser {
 public:
  FlagParser(std::string program, std::string summary);

  void add(const std::string& name, std::string* target, const std::string& help);
  void add(const std::string& name, int64_t* target, const std::string& help);
  void add(const std::string& name, int32_t* target, const std::string& help);
  void add(const std::string& name, uint64_t* target, const std::string& help);
  void add(const std::string& name, double* target, const std::string& help);
  void add(const std::string& name, bool* target, const std::string& help);

  [[nodiscard]] std::optional<int> parse(int argc, const char* const* argv);
  // Usage text (flags with their defaults).
  [[nodiscard]] std::string usage() const;
  // Whether `name` was given on the command line (after parse()).
  [[nodiscard]] bool given(const std::string& name) const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<bool(const std::string&)> set;  // false: bad value
    bool given = false;
  };
  Flag* find(const std::string& name);

  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
};

}  // namespace ecommerce::tools
