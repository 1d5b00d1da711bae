// Shared fixtures of the state tests: temporary directories, a recording changelog, and the store
// implementations the typed contract suites run against.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kstreams/common/record.h"
#include "kstreams/state/state_manager.h"

namespace kstreams::state::testing {

// "key=value" of every entry an iterator yields (key-value, window or session iterators).
template <typename It>
std::vector<std::string> entries(It it) {
  std::vector<std::string> out;
  for (; it->valid(); it->next()) {
    if constexpr (std::is_same_v<It, std::unique_ptr<KeyValueIterator>>) {
      out.emplace_back(std::string(it->key()) + "=" + std::string(it->value()));
    } else {
      out.push_back(it->entry().key + "=" + it->entry().value);
    }
  }
  return out;
}

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("kstreams_state_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Records every changelog append as a RawRecord (topic `app-<store>-changelog`, offsets counting up
// per store), so tests can replay them through restore_batch.
class RecordingChangelog final : public ChangelogWriter {
 public:
  void append(const std::string& store, std::string_view key, std::optional<std::string_view> value,
              TimestampMs timestamp) override {
    auto& log = logs_[store];
    RawRecord r;
    r.topic = "app-" + store + "-changelog";
    r.partition = Partition(0);
    r.offset = Offset(static_cast<int64_t>(log.size()));
    r.timestamp = timestamp;
    r.key = std::string(key);
    if (value) r.value = std::string(*value);
    log.push_back(std::move(r));
  }
  [[nodiscard]] const std::vector<RawRecord>& records(const std::string& store) { return logs_[store]; }
  void clear() { logs_.clear(); }

 private:
  std::map<std::string, std::vector<RawRecord>> logs_;
};

// The implementations every contract suite runs against. `kCommitBeforeRead` commits after each
// batch of writes, so reads go to the committed state rather than the pending overlay.
struct InMemoryPending {
  static constexpr bool kPersistent = false;
  static constexpr bool kCommitBeforeRead = false;
};
struct InMemoryCommitted {
  static constexpr bool kPersistent = false;
  static constexpr bool kCommitBeforeRead = true;
};
struct RocksDBPending {
  static constexpr bool kPersistent = true;
  static constexpr bool kCommitBeforeRead = false;
};
struct RocksDBCommitted {
  static constexpr bool kPersistent = true;
  static constexpr bool kCommitBeforeRead = true;
};
using StoreImplementations = ::testing::Types<InMemoryPending, InMemoryCommitted, RocksDBPending, RocksDBCommitted>;

class ImplementationNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, InMemoryPending>) return "InMemoryPending";
    if constexpr (std::is_same_v<T, InMemoryCommitted>) return "InMemoryCommitted";
    if constexpr (std::is_same_v<T, RocksDBPending>) return "RocksDBPending";
    return "RocksDBCommitted";
  }
};

// Opens a manager over a temp dir holding one store built from `spec` (persistence from Impl).
template <typename Impl>
class StoreHarness {
 public:
  explicit StoreHarness(StoreSpec spec) : spec_(std::move(spec)) {
    spec_.persistent = Impl::kPersistent;
    reopen();
  }
  void reopen() {
    if (manager_) {
      EXPECT_TRUE(manager_->close().ok());
    }
    manager_.reset();
    StateManagerOptions options;
    options.task = TaskId{0, 1};
    options.task_dir = dir_.path() / "0_1";
    options.changelog = &changelog_;
    auto opened = ProcessorStateManager::open(options, {spec_});
    EXPECT_TRUE(opened.ok()) << opened.status();
    manager_ = std::move(*opened);
  }
  // Commits when the implementation reads committed state.
  void settle() {
    if (Impl::kCommitBeforeRead) {
      ASSERT_TRUE(manager_->commit({}).ok());
    }
  }
  ProcessorStateManager& manager() { return *manager_; }
  RecordingChangelog& changelog() { return changelog_; }
  const StoreSpec& spec() const { return spec_; }

 private:
  StoreSpec spec_;
  TempDir dir_;
  RecordingChangelog changelog_;
  std::unique_ptr<ProcessorStateManager> manager_;
};

}  // namespace kstreams::state::testing
