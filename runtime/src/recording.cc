#include "kstreams/runtime/recording.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "kstreams/common/logging.h"
#include "kstreams/runtime/topology_test_driver.h"

namespace kstreams::recording {

namespace {

// Strict UTF-8 (RFC 3629), as the JSON writer demands: no overlong forms, no surrogates, nothing
// beyond U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// An integer field within [lo, hi]; `fallback` when absent. A float, a string or an integer out of
// range is kDataLoss (never converted).
absl::StatusOr<int64_t> int_field(const nlohmann::json& j, const char* field, int64_t fallback, int64_t lo,
                                  int64_t hi) {
  auto it = j.find(field);
  if (it == j.end()) return fallback;
  int64_t v = 0;
  if (it->is_number_unsigned() && it->get<uint64_t>() <= static_cast<uint64_t>(hi)) {
    v = static_cast<int64_t>(it->get<uint64_t>());
  } else if (it->is_number_integer() && !it->is_number_unsigned()) {
    v = it->get<int64_t>();
  } else {
    return absl::DataLossError(std::string("'") + field + "' must be an integer in " + std::to_string(lo) + ".." +
                               std::to_string(hi));
  }
  if (v < lo || v > hi) {
    return absl::DataLossError(std::string("'") + field + "' must be an integer in " + std::to_string(lo) + ".." +
                               std::to_string(hi));
  }
  return v;
}

// Sets j[field] (and j[field + "_encoding"] = "base64" when needed) from optional bytes.
void put_bytes(nlohmann::json& j, const std::string& field, const std::string& encoding_field,
               const std::optional<std::string>& bytes) {
  if (!bytes) {
    j[field] = nullptr;
  } else if (valid_utf8(*bytes)) {
    j[field] = *bytes;
  } else {
    j[field] = absl::Base64Escape(*bytes);
    j[encoding_field] = "base64";
  }
}

absl::StatusOr<std::optional<std::string>> get_bytes(const nlohmann::json& j, const std::string& field,
                                                     const std::string& encoding_field) {
  if (!j.contains(field) || j[field].is_null()) return std::optional<std::string>{};
  if (!j[field].is_string()) return absl::DataLossError("'" + field + "' must be a string or null");
  std::string s = j[field].get<std::string>();
  if (j.contains(encoding_field) && j[encoding_field] == "base64") {
    std::string out;
    if (!absl::Base64Unescape(s, &out)) return absl::DataLossError("'" + field + "' is not valid base64");
    return std::optional<std::string>(std::move(out));
  }
  return std::optional<std::string>(std::move(s));
}

std::string show(const std::optional<std::string>& v) {
  if (!v) return "null";
  return nlohmann::json(valid_utf8(*v) ? *v : "base64:" + absl::Base64Escape(*v)).dump();
}

std::string show_headers(const Headers& h) {
  std::string out = "[";
  for (const auto& [k, v] : h.entries()) out += (out.size() > 1 ? ", " : "") + k + "=" + show(v);
  return out + "]";
}

}  // namespace

std::string to_json_line(const RawRecord& r) {
  nlohmann::json j;
  j["topic"] = r.topic;
  j["partition"] = r.partition.value();
  j["offset"] = r.offset.value();
  j["timestamp"] = r.timestamp;
  put_bytes(j, "key", "key_encoding", r.key);
  put_bytes(j, "value", "value_encoding", r.value);
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [k, v] : r.headers.entries()) {
    nlohmann::json h;
    h["key"] = k;
    put_bytes(h, "value", "encoding", v);
    headers.push_back(std::move(h));
  }
  j["headers"] = std::move(headers);
  return j.dump();
}

absl::StatusOr<RawRecord> from_json_line(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("not a JSON object");
  RawRecord r;
  try {
    r.topic = j.at("topic").get<std::string>();
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    KSTREAMS_ASSIGN_OR_RETURN(const int64_t partition,
                              int_field(j, "partition", 0, 0, std::numeric_limits<int32_t>::max()));
    r.partition = Partition(static_cast<int32_t>(partition));
    KSTREAMS_ASSIGN_OR_RETURN(const int64_t offset, int_field(j, "offset", -1, kMin, kMax));
    r.offset = Offset(offset);
    KSTREAMS_ASSIGN_OR_RETURN(r.timestamp, int_field(j, "timestamp", kNoTimestamp, kMin, kMax));
    if (j.contains("headers")) {
      for (const auto& h : j.at("headers")) {
        KSTREAMS_ASSIGN_OR_RETURN(std::optional<std::string> v, get_bytes(h, "value", "encoding"));
        r.headers.add(h.at("key").get<std::string>(), v.value_or(""));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(std::string("bad recording line: ") + e.what());
  }
  KSTREAMS_ASSIGN_OR_RETURN(r.key, get_bytes(j, "key", "key_encoding"));
  KSTREAMS_ASSIGN_OR_RETURN(r.value, get_bytes(j, "value", "value_encoding"));
  return r;
}

absl::StatusOr<std::unique_ptr<RecordingWriter>> RecordingWriter::open(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return absl::InternalError("cannot open " + path.string() + " for writing");
  return std::unique_ptr<RecordingWriter>(new RecordingWriter(f));
}

RecordingWriter::~RecordingWriter() {
  absl::Status st = close();
  if (!st.ok()) KS_LOG_WARN("closing a recording: {}", std::string(st.message()));
}

absl::Status RecordingWriter::write(const RawRecord& record) {
  if (!file_) return absl::FailedPreconditionError("recording is closed");
  std::string line = to_json_line(record);
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) return absl::InternalError("write failed");
  return absl::OkStatus();
}

absl::Status RecordingWriter::close() {
  if (!file_) return absl::OkStatus();
  const int rc = std::fclose(file_);
  file_ = nullptr;
  return rc == 0 ? absl::OkStatus() : absl::InternalError("close failed");
}

absl::Status write_recording(const std::filesystem::path& path, const std::vector<RawRecord>& records) {
  KSTREAMS_ASSIGN_OR_RETURN(auto writer, RecordingWriter::open(path));
  for (const auto& r : records) KSTREAMS_RETURN_IF_ERROR(writer->write(r));
  return writer->close();
}

absl::StatusOr<std::vector<RawRecord>> read_recording(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read " + path.string());
  std::vector<RawRecord> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto r = from_json_line(line);
    if (!r.ok())
      return absl::DataLossError(path.string() + ":" + std::to_string(n) + ": " + std::string(r.status().message()));
    out.push_back(std::move(*r));
  }
  return out;
}

std::string diff_records(const std::vector<RawRecord>& expected, const std::vector<RawRecord>& actual) {
  std::map<std::string, std::pair<std::vector<const RawRecord*>, std::vector<const RawRecord*>>> by_topic;
  for (const auto& r : expected) by_topic[r.topic].first.push_back(&r);
  for (const auto& r : actual) by_topic[r.topic].second.push_back(&r);
  std::string out;
  for (const auto& [topic, pair] : by_topic) {
    const auto& [exp, act] = pair;
    const size_t n = std::min(exp.size(), act.size());
    for (size_t i = 0; i < n; ++i) {
      const std::string where = "topic " + topic + ", record " + std::to_string(i) + ": ";
      if (exp[i]->key != act[i]->key)
        out += where + "key expected " + show(exp[i]->key) + " but was " + show(act[i]->key) + "\n";
      if (exp[i]->value != act[i]->value) {
        out += where + "value expected " + show(exp[i]->value) + " but was " + show(act[i]->value) + "\n";
      }
      if (exp[i]->timestamp != act[i]->timestamp) {
        out += where + "timestamp expected " + std::to_string(exp[i]->timestamp) + " but was " +
               std::to_string(act[i]->timestamp) + "\n";
      }
      if (!(exp[i]->headers == act[i]->headers)) {
        out += where + "headers expected " + show_headers(exp[i]->headers) + " but were " +
               show_headers(act[i]->headers) + "\n";
      }
    }
    if (exp.size() != act.size()) {
      out += "topic " + topic + ": " + std::to_string(exp.size()) + " records expected, " + std::to_string(act.size()) +
             " produced\n";
      for (size_t i = n; i < exp.size(); ++i) out += "  missing: " + to_json_line(*exp[i]) + "\n";
      for (size_t i = n; i < act.size(); ++i) out += "  unexpected: " + to_json_line(*act[i]) + "\n";
    }
  }
  return out;
}

std::string replay_and_diff(const Topology& topology, std::map<std::string, std::string> config,
                            const std::vector<RawRecord>& input, const std::vector<RawRecord>& golden) {
  std::map<std::string, int32_t> max_partition;
  for (const auto& r : input) max_partition[r.topic] = std::max(max_partition[r.topic], r.partition.value() + 1);
  for (const auto& [topic, n] : max_partition) config.emplace("topic.partitions." + topic, std::to_string(n));
  TopologyTestDriver driver(topology, std::move(config));
  for (const auto& r : input) driver.pipe_raw(r.topic, r.key, r.value, r.timestamp, r.headers, r.partition.value());
  driver.commit();
  std::set<std::string> topics;
  for (const auto& r : golden) topics.insert(r.topic);
  std::vector<RawRecord> produced;
  for (const auto& t : topics) {
    for (auto& r : driver.read_raw(t)) produced.push_back(std::move(r));
  }
  std::string diff = diff_records(golden, produced);
  if (!driver.status().ok()) diff += "replay stopped: " + std::string(driver.status().message()) + "\n";
  return diff;
}

}  // namespace kstreams::recording
