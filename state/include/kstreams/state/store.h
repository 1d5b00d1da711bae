// Byte-level state stores: the contract every implementation (RocksDB, in-memory) fulfils.
//
// Bytes at the bottom, types on top (typed_store.h adds serdes). Keys order lexicographically as
// unsigned bytes. Ownership: stores are owned by their task's ProcessorStateManager; processors get
// raw pointers valid until the task closes. Thread-safety: a store belongs to one stream thread;
// interactive queries read through `ReadOnly*` views which the implementations make safe to call
// from HTTP threads concurrently with the owning thread (reads see the last committed state plus,
// for the owner only, its uncommitted writes).
//
// Errors: reads and writes return absl::Status; kNotFound is never used for "absent key"
// (absent is an empty optional). I/O errors are kInternal/kUnavailable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kstreams/common/status.h"
#include "kstreams/common/types.h"

namespace kstreams::state {

// Forward iterator over (key, value) byte pairs. key()/value() views are valid until next().
// A store must outlive its iterators. Iterators see a consistent snapshot taken at creation.
// (Including the task's own uncommitted writes made before the iterator was created; writing while
// iterating is allowed and does not affect an open iterator.)
class KeyValueIterator {
 public:
  virtual ~KeyValueIterator() = default;
  [[nodiscard]] virtual bool valid() const = 0;
  virtual void next() = 0;
  [[nodiscard]] virtual std::string_view key() const = 0;
  [[nodiscard]] virtual std::string_view value() const = 0;
  // Non-ok when iteration stopped because of an error rather than the end.
  [[nodiscard]] virtual absl::Status status() const = 0;
};

enum class StoreType { kKeyValue, kWindow, kSession };

// What a topology asks for; the state layer builds the store from it. Names are user-chosen and
// stable across topology changes: the changelog topic is `<application.id>-<name>-changelog`.
struct StoreSpec {
  std::string name;
  StoreType type = StoreType::kKeyValue;
  bool persistent = true;    // RocksDB (default) or in-memory
  bool logging = true;       // backed by a changelog topic
  bool queryable = true;     // visible to interactive queries
  int64_t retention_ms = 0;  // window/session: how long data is kept (>= window size + grace)
  int64_t window_size_ms = 0;
  int64_t segment_interval_ms = 0;  // window/session RocksDB segments; 0 = max(retention/2, 60 s)
  bool retain_duplicates = false;   // window stores of stream-stream joins keep every record
};

// "key-value", "window" or "session".
[[nodiscard]] const char* to_string(StoreType type);

class StateStore {
 public:
  virtual ~StateStore() = default;
  [[nodiscard]] virtual const std::string& name() const = 0;
  [[nodiscard]] virtual StoreType type() const = 0;
  [[nodiscard]] virtual bool persistent() const = 0;
};

class KeyValueBytesStore : public StateStore {
 public:
  [[nodiscard]] StoreType type() const override { return StoreType::kKeyValue; }
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> get(std::string_view key) = 0;
  [[nodiscard]] virtual absl::Status put(std::string_view key, std::string_view value) = 0;
  [[nodiscard]] virtual absl::Status put_all(const std::vector<std::pair<std::string, std::string>>& entries) = 0;
  // Deleting an absent key is not an error.
  [[nodiscard]] virtual absl::Status remove(std::string_view key) = 0;
  // Keys in [from, to] inclusive, ascending / descending. An empty `to` means "no upper bound".
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> range(std::string_view from, std::string_view to) = 0;
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> reverse_range(std::string_view from, std::string_view to) = 0;
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> prefix_scan(std::string_view prefix) = 0;
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> all() = 0;
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> reverse_all() = 0;
  [[nodiscard]] virtual uint64_t approximate_num_entries() = 0;
};

// One window entry as returned by window iterators.
struct WindowedEntry {
  std::string key;
  TimestampMs window_start = 0;
  std::string value;
};

class WindowIterator {
 public:
  virtual ~WindowIterator() = default;
  [[nodiscard]] virtual bool valid() const = 0;
  virtual void next() = 0;
  [[nodiscard]] virtual const WindowedEntry& entry() const = 0;
  [[nodiscard]] virtual absl::Status status() const = 0;
};

// Windows keyed by (key, window start). Entries older than `stream time - retention` are dropped
// (whole segments at a time in RocksDB); writes of expired windows are ignored.
//
// Details every implementation follows (tests/unit/state/window_store_contract_test.cc):
// - window starts are >= 0 (a negative start is kInvalidArgument); retention_ms <= 0 keeps everything;
// - a window is expired when start <= observed_stream_time() - retention; expired windows are
//   neither returned nor written nor logged;
// - single-key fetches are ascending by window start (backward_fetch: descending); multi-key
//   fetches (fetch_range, fetch_all, all) are ascending by (window start, key); with
//   retain_duplicates, entries of the same (key, start) come in insertion order;
// - changelog key: key || be64(start) || be32(sequence) as Kafka Streams' WindowKeySchema
//   (sequence 0 unless retain_duplicates);
// - window iterators hold their results (bounded by the time range asked for).
class WindowBytesStore : public StateStore {
 public:
  [[nodiscard]] StoreType type() const override { return StoreType::kWindow; }
  // nullopt deletes. With retain_duplicates every put adds an entry (never overwrites or deletes).
  [[nodiscard]] virtual absl::Status put(std::string_view key, std::optional<std::string_view> value,
                                         TimestampMs window_start) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                                         TimestampMs window_start) = 0;
  // One key, window starts in [time_from, time_to], ascending by start.
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> fetch(std::string_view key, TimestampMs time_from,
                                                              TimestampMs time_to) = 0;
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> backward_fetch(std::string_view key, TimestampMs time_from,
                                                                       TimestampMs time_to) = 0;
  // Keys in [key_from, key_to], window starts in [time_from, time_to].
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> fetch_range(std::string_view key_from, std::string_view key_to,
                                                                    TimestampMs time_from, TimestampMs time_to) = 0;
  // Every key, window starts in [time_from, time_to].
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> fetch_all(TimestampMs time_from, TimestampMs time_to) = 0;
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> all() = 0;
  [[nodiscard]] virtual int64_t retention_ms() const = 0;
  // The highest timestamp this store has observed (drives expiry).
  [[nodiscard]] virtual TimestampMs observed_stream_time() const = 0;
};

struct SessionEntry {
  std::string key;
  TimestampMs start = 0;
  TimestampMs end = 0;  // inclusive, as in Kafka Streams' SessionWindow
  std::string value;
};

class SessionIterator {
 public:
  virtual ~SessionIterator() = default;
  [[nodiscard]] virtual bool valid() const = 0;
  virtual void next() = 0;
  [[nodiscard]] virtual const SessionEntry& entry() const = 0;
  [[nodiscard]] virtual absl::Status status() const = 0;
};

// Sessions keyed by (key, start, end). Session times are >= 0 with start <= end (else
// kInvalidArgument). A session is expired when end <= stream time - retention (stream time = the
// highest session end seen). Iterators are ordered by (end, key, start). Changelog key:
// key || be64(end) || be64(start) as Kafka Streams' SessionKeySchema.
class SessionBytesStore : public StateStore {
 public:
  [[nodiscard]] StoreType type() const override { return StoreType::kSession; }
  [[nodiscard]] virtual absl::Status put(std::string_view key, TimestampMs start, TimestampMs end,
                                         std::string_view value) = 0;
  [[nodiscard]] virtual absl::Status remove(std::string_view key, TimestampMs start, TimestampMs end) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                                                 TimestampMs start,
                                                                                 TimestampMs end) = 0;
  // Sessions of `key` with end >= earliest_session_end and start <= latest_session_start
  // (Kafka Streams' findSessions: the candidates to merge with a new record).
  [[nodiscard]] virtual std::unique_ptr<SessionIterator> find_sessions(std::string_view key,
                                                                       TimestampMs earliest_session_end,
                                                                       TimestampMs latest_session_start) = 0;
  // Every session of `key`.
  [[nodiscard]] virtual std::unique_ptr<SessionIterator> fetch(std::string_view key) = 0;
  [[nodiscard]] virtual std::unique_ptr<SessionIterator> all() = 0;
  [[nodiscard]] virtual int64_t retention_ms() const = 0;
};

// Read-only views of a store's last committed state, for interactive queries
// (ProcessorStateManager::read_only_*_store). Unlike the stores above they may be called from any
// thread concurrently with the owning stream thread; they never see uncommitted writes, and
// results follow the same ordering and expiry rules. Iterators are snapshots and may outlive later
// commits, but not the store (close() waits for nothing: the caller ensures no call is in flight).
class ReadOnlyKeyValueStore {
 public:
  virtual ~ReadOnlyKeyValueStore() = default;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> get(std::string_view key) = 0;
  // Keys in [from, to] inclusive; an empty `to` means "no upper bound".
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> range(std::string_view from, std::string_view to) = 0;
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> reverse_range(std::string_view from, std::string_view to) = 0;
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> prefix_scan(std::string_view prefix) = 0;
  [[nodiscard]] virtual std::unique_ptr<KeyValueIterator> all() = 0;
  [[nodiscard]] virtual uint64_t approximate_num_entries() = 0;
};

class ReadOnlyWindowStore {
 public:
  virtual ~ReadOnlyWindowStore() = default;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                                         TimestampMs window_start) = 0;
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> fetch(std::string_view key, TimestampMs time_from,
                                                              TimestampMs time_to) = 0;
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> backward_fetch(std::string_view key, TimestampMs time_from,
                                                                       TimestampMs time_to) = 0;
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> fetch_range(std::string_view key_from, std::string_view key_to,
                                                                    TimestampMs time_from, TimestampMs time_to) = 0;
  [[nodiscard]] virtual std::unique_ptr<WindowIterator> fetch_all(TimestampMs time_from, TimestampMs time_to) = 0;
};

class ReadOnlySessionStore {
 public:
  virtual ~ReadOnlySessionStore() = default;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                                                 TimestampMs start,
                                                                                 TimestampMs end) = 0;
  [[nodiscard]] virtual std::unique_ptr<SessionIterator> find_sessions(std::string_view key,
                                                                       TimestampMs earliest_session_end,
                                                                       TimestampMs latest_session_start) = 0;
  [[nodiscard]] virtual std::unique_ptr<SessionIterator> fetch(std::string_view key) = 0;
};

}  // namespace kstreams::state
