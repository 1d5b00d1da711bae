// A task's side of the ChangelogCache (state_manager.h): holds the task's logged writes per
// (store, key), last write wins, and sends them to the real ChangelogWriter on flush, stores in the
// order they were first written, keys in the order of their first write. Not thread-safe: the
// task's stream thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "kstreams/state/state_manager.h"
#include "state_probe.h"

namespace kstreams::state::internal {

class ChangelogBuffer final : public ChangelogWriter, public ChangelogCache::Member {
 public:
  // inner and cache are not owned and outlive the buffer; cache->max_bytes() > 0 (without a
  // budget the state manager hands writes to `inner` directly); probe may be null.
  ChangelogBuffer(ChangelogWriter* inner, ChangelogCache* cache, StateProbe* probe);
  ~ChangelogBuffer() override;
  ChangelogBuffer(const ChangelogBuffer&) = delete;
  ChangelogBuffer& operator=(const ChangelogBuffer&) = delete;

  void append(const std::string& store, std::string_view key, std::optional<std::string_view> value,
              TimestampMs timestamp) override;
  // Sends every held record to the inner writer and empties the buffer.
  void flush_buffer() override;
  // Drops every held record (the transaction aborted).
  void drop();
  [[nodiscard]] bool empty() const { return held_ == 0; }
  [[nodiscard]] size_t held_records() const { return held_; }

 private:
  struct Entry {
    std::string key;
    std::optional<std::string> value;  // nullopt: tombstone
    TimestampMs timestamp = kNoTimestamp;
  };
  struct StoreBuffer {
    std::string name;
    std::vector<Entry> entries;
    absl::flat_hash_map<std::string, size_t> index;  // key -> position in entries
  };
  static int64_t entry_bytes(size_t key_size, size_t value_size) {
    return static_cast<int64_t>(key_size + value_size + kEntryOverhead);
  }
  static constexpr size_t kEntryOverhead = 96;  // Entry, index slot and allocation headers

  StoreBuffer& buffer_of(const std::string& store);

  ChangelogWriter* inner_;
  ChangelogCache* cache_;
  StateProbe* probe_;
  std::vector<StoreBuffer> stores_;  // a task has few stores: linear lookup, last one cached
  size_t last_ = 0;
  size_t held_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace kstreams::state::internal
