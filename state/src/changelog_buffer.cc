#include "changelog_buffer.h"

#include <algorithm>

namespace kstreams::state {

void ChangelogCache::join(Member* m) { members_.push_back(m); }

void ChangelogCache::leave(Member* m) {
  members_.erase(std::remove(members_.begin(), members_.end(), m), members_.end());
}

void ChangelogCache::account(int64_t delta) {
  bytes_ = static_cast<size_t>(static_cast<int64_t>(bytes_) + delta);
  if (bytes_ <= max_bytes_ || flushing_) return;
  ++overflows_;
  flushing_ = true;
  for (Member* m : members_) m->flush_buffer();
  flushing_ = false;
}

namespace internal {

ChangelogBuffer::ChangelogBuffer(ChangelogWriter* inner, ChangelogCache* cache, StateProbe* probe)
    : inner_(inner), cache_(cache), probe_(probe) {
  cache_->join(this);
}

ChangelogBuffer::~ChangelogBuffer() {
  drop();
  cache_->leave(this);
}

ChangelogBuffer::StoreBuffer& ChangelogBuffer::buffer_of(const std::string& store) {
  if (last_ < stores_.size() && stores_[last_].name == store) return stores_[last_];
  for (size_t i = 0; i < stores_.size(); ++i) {
    if (stores_[i].name == store) {
      last_ = i;
      return stores_[i];
    }
  }
  stores_.push_back(StoreBuffer{store, {}, {}});
  last_ = stores_.size() - 1;
  return stores_.back();
}

void ChangelogBuffer::append(const std::string& store, std::string_view key, std::optional<std::string_view> value,
                             TimestampMs timestamp) {
  StoreBuffer& buf = buffer_of(store);
  const size_t value_size = value ? value->size() : 0;
  int64_t delta = 0;
  if (auto it = buf.index.find(absl::string_view(key.data(), key.size())); it != buf.index.end()) {
    Entry& e = buf.entries[it->second];
    delta = entry_bytes(key.size(), value_size) - entry_bytes(key.size(), e.value ? e.value->size() : 0);
    if (value) {
      if (e.value) {
        e.value->assign(value->data(), value->size());
      } else {
        e.value.emplace(*value);
      }
    } else {
      e.value.reset();
    }
    e.timestamp = timestamp;
    if (probe_ != nullptr) probe_->record_coalesced_write(store);
  } else {
    buf.index.emplace(std::string(key), buf.entries.size());
    buf.entries.push_back(
        Entry{std::string(key), value ? std::optional<std::string>(std::string(*value)) : std::nullopt, timestamp});
    ++held_;
    delta = entry_bytes(key.size(), value_size);
  }
  bytes_ += delta;
  cache_->account(delta);  // may flush this buffer (and the others) when over budget
}

void ChangelogBuffer::flush_buffer() {
  if (held_ == 0) return;
  for (StoreBuffer& buf : stores_) {
    for (const Entry& e : buf.entries) {
      inner_->append(buf.name, e.key,
                     e.value ? std::optional<std::string_view>(*e.value) : std::optional<std::string_view>(),
                     e.timestamp);
    }
    buf.entries.clear();
    buf.index.clear();
  }
  held_ = 0;
  const int64_t released = bytes_;
  bytes_ = 0;
  cache_->account(-released);
}

void ChangelogBuffer::drop() {
  for (StoreBuffer& buf : stores_) {
    buf.entries.clear();
    buf.index.clear();
  }
  held_ = 0;
  const int64_t released = bytes_;
  bytes_ = 0;
  if (released != 0) cache_->account(-released);
}

}  // namespace internal
}  // namespace kstreams::state
