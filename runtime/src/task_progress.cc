#include "task_progress.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"

namespace kstreams::runtime {

namespace {

constexpr const char* kVersionTag = "ks.progress.v1";

// An int64 JSON number (an unsigned one above INT64_MAX is not).
bool as_int64(const nlohmann::json& j, int64_t* out) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (!j.is_number_integer()) return false;
  *out = j.get<int64_t>();
  return true;
}

}  // namespace

std::string encode_task_progress(const TaskProgress& progress) {
  nlohmann::json j;
  j["v"] = kVersionTag;
  j["seq"] = progress.sequence;
  j["st"] = progress.stream_time;
  nlohmann::json punctuations = nlohmann::json::object();
  for (const auto& [id, next] : progress.punctuations) punctuations[std::to_string(id)] = next;
  j["p"] = std::move(punctuations);
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [key, value] : progress.values) values[key] = value;
  j["n"] = std::move(values);
  // Keys come from node names: never throw on bytes that are not UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<TaskProgress> decode_task_progress(std::string_view metadata) {
  const auto bad = [](std::string_view why) {
    return absl::InvalidArgumentError("commit metadata is not task progress: " + std::string(why));
  };
  if (metadata.empty()) return bad("empty");
  if (metadata.size() > kMaxCommitMetadataBytes) return bad("too large");
  nlohmann::json j = nlohmann::json::parse(metadata.begin(), metadata.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return bad("not a JSON object");
  const auto v = j.find("v");
  if (v == j.end() || !v->is_string() || v->get<std::string>() != kVersionTag) return bad("unknown version");
  const auto seq = j.find("seq");
  const auto st = j.find("st");
  const auto p = j.find("p");
  const auto n = j.find("n");
  TaskProgress out;
  if (seq == j.end() || !as_int64(*seq, &out.sequence) || st == j.end() || !as_int64(*st, &out.stream_time) ||
      p == j.end() || !p->is_object() || n == j.end() || !n->is_object()) {
    return bad("missing or ill-typed fields");
  }
  if (out.sequence < 0 || out.stream_time < kNoTimestamp) return bad("negative sequence or stream time");
  for (const auto& [id, next] : p->items()) {
    int64_t parsed = 0;
    int64_t due = 0;
    if (!absl::SimpleAtoi(id, &parsed) || !as_int64(next, &due)) return bad("ill-typed punctuation");
    out.punctuations[parsed] = due;
  }
  for (const auto& [key, value] : n->items()) {
    int64_t parsed = 0;
    if (!as_int64(value, &parsed)) return bad("ill-typed value");
    out.values[key] = parsed;
  }
  return out;
}

}  // namespace kstreams::runtime
