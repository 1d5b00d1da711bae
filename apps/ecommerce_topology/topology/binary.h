// A compact binary encoding for the records internal to the e-commerce topology (saga_records.h):
// the stock commands and line results on its internal topics, its store values, and what its
// analytics branch repartitions. The external contract stays JSON; these never leave the
// application (they live in `<application.id>-*` topics and changelogs only).
//
// Format: a one-byte type tag (catches a record decoded as the wrong type and future format
// changes), then the fields in declaration order: integers as zigzag varints, strings as a varint
// length and the bytes, optionals as a presence byte and the value. A decoder reads exactly the
// whole input: truncated input, a wrong tag or trailing bytes fail.
// Everything here is a plain value (thread-compatible); BinarySerde is immutable (thread-safe).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "kstreams/common/serde.h"

namespace ecommerce::binary {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) { out_->clear(); }
  void tag(uint8_t t) { out_->push_back(static_cast<char>(t)); }
  void u64(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void i64(int64_t v) { u64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void boolean(bool v) { out_->push_back(v ? '\1' : '\0'); }
  void str(std::string_view s) {
    u64(s.size());
    out_->append(s.data(), s.size());
  }

 private:
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  [[nodiscard]] bool tag(uint8_t expected) {
    if (pos_ >= in_.size() || static_cast<uint8_t>(in_[pos_]) != expected) return false;
    ++pos_;
    return true;
  }
  [[nodiscard]] bool u64(uint64_t* v) {
    uint64_t out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto b = static_cast<uint8_t>(in_[pos_++]);
      out |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = out;
        return true;
      }
    }
    return false;  // more than 10 bytes
  }
  [[nodiscard]] bool i64(int64_t* v) {
    uint64_t u = 0;
    if (!u64(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  template <typename Int>
  [[nodiscard]] bool integer(Int* v) {
    int64_t wide = 0;
    if (!i64(&wide) || wide < static_cast<int64_t>(std::numeric_limits<Int>::min()) ||
        wide > static_cast<int64_t>(std::numeric_limits<Int>::max())) {
      return false;
    }
    *v = static_cast<Int>(wide);
    return true;
  }
  [[nodiscard]] bool boolean(bool* v) {
    if (pos_ >= in_.size() || static_cast<uint8_t>(in_[pos_]) > 1) return false;
    *v = in_[pos_++] == '\1';
    return true;
  }
  [[nodiscard]] bool str(std::string* s) {
    uint64_t n = 0;
    if (!u64(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  // Every byte was read.
  [[nodiscard]] bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// The serde of a type T with `void encode(const T&, Writer&)` and `bool decode(Reader&, T*)`
// (found by ADL) and a display name.
template <typename T>
class BinarySerde final : public kstreams::Serde<T> {
 public:
  explicit BinarySerde(std::string name) : name_(std::move(name)) {}
  void serialize(const T& v, std::string* out) const override {
    Writer w(out);
    encode(v, w);
  }
  [[nodiscard]] absl::Status deserialize(std::string_view bytes, T* out) const override {
    Reader r(bytes);
    if (!decode(r, out) || !r.done()) {
      return absl::DataLossError("not a binary " + name_ + " (" + std::to_string(bytes.size()) + " bytes)");
    }
    return absl::OkStatus();
  }
  [[nodiscard]] std::string name() const override { return "Binary<" + name_ + ">"; }

 private:
  std::string name_;
};

}  // namespace ecommerce::binary
