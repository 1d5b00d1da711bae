// Serdes: how typed keys and values become bytes and back.
//
// Contract: serialize() never fails for a value of the type; deserialize() returns kDataLoss with a
// message when the bytes are not a valid encoding (the caller routes the record to its
// deserialization error handler). Serdes are immutable after construction and safe to share between
// threads; they are held by `SerdePtr<T>` (shared because one serde serves many processors).
//
// Built-ins: strings (UTF-8 bytes as is), Bytes, int32/int64/double (big-endian, as Kafka's Java
// serializers), and JSON for any type with nlohmann to_json/from_json (json_serde.h).
// `default_serde<T>()` picks the built-in for T; user-defined serdes derive from Serde<T>.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "kstreams/common/status.h"

namespace kstreams {

// Opaque bytes (a value kstreams does not interpret).
struct Bytes {
  std::string data;
  bool operator==(const Bytes&) const = default;
  auto operator<=>(const Bytes&) const = default;
};

template <typename T>
class Serde {
 public:
  using Type = T;
  virtual ~Serde() = default;
  // Replaces *out with the encoding of value.
  virtual void serialize(const T& value, std::string* out) const = 0;
  [[nodiscard]] virtual absl::Status deserialize(std::string_view bytes, T* out) const = 0;
  // A short name for describe() and error messages.
  [[nodiscard]] virtual std::string name() const = 0;

  [[nodiscard]] std::string to_bytes(const T& value) const {
    std::string out;
    serialize(value, &out);
    return out;
  }
  [[nodiscard]] absl::StatusOr<T> from_bytes(std::string_view bytes) const {
    T value{};
    KSTREAMS_RETURN_IF_ERROR(deserialize(bytes, &value));
    return value;
  }
};

template <typename T>
using SerdePtr = std::shared_ptr<const Serde<T>>;

class StringSerde final : public Serde<std::string> {
 public:
  void serialize(const std::string& v, std::string* out) const override { out->assign(v); }
  [[nodiscard]] absl::Status deserialize(std::string_view b, std::string* out) const override {
    out->assign(b.data(), b.size());
    return absl::OkStatus();
  }
  [[nodiscard]] std::string name() const override { return "String"; }
};

class BytesSerde final : public Serde<Bytes> {
 public:
  void serialize(const Bytes& v, std::string* out) const override { out->assign(v.data); }
  [[nodiscard]] absl::Status deserialize(std::string_view b, Bytes* out) const override {
    out->data.assign(b.data(), b.size());
    return absl::OkStatus();
  }
  [[nodiscard]] std::string name() const override { return "Bytes"; }
};

// Fixed-width big-endian integers and IEEE doubles, byte-compatible with Kafka's Java serdes.
template <typename T>
class FixedWidthSerde final : public Serde<T> {
  static_assert(std::is_arithmetic_v<T>);

 public:
  void serialize(const T& v, std::string* out) const override {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    out->resize(sizeof(T));
    for (size_t i = 0; i < sizeof(T); ++i) (*out)[i] = static_cast<char>(bits >> (8 * (sizeof(T) - 1 - i)));
  }
  [[nodiscard]] absl::Status deserialize(std::string_view b, T* out) const override {
    if (b.size() != sizeof(T)) {
      return absl::DataLossError(name() + " serde expects " + std::to_string(sizeof(T)) + " bytes, got " +
                                 std::to_string(b.size()));
    }
    uint64_t bits = 0;
    for (size_t i = 0; i < sizeof(T); ++i) bits = (bits << 8) | static_cast<unsigned char>(b[i]);
    std::memcpy(out, &bits, sizeof(T));
    return absl::OkStatus();
  }
  [[nodiscard]] std::string name() const override {
    if constexpr (std::is_same_v<T, double>) return "Double";
    if constexpr (sizeof(T) == 8) return "Long";
    return "Integer";
  }
};

using Int32Serde = FixedWidthSerde<int32_t>;
using Int64Serde = FixedWidthSerde<int64_t>;
using DoubleSerde = FixedWidthSerde<double>;

namespace serdes {
inline SerdePtr<std::string> String() { return std::make_shared<StringSerde>(); }
inline SerdePtr<Bytes> ByteArray() { return std::make_shared<BytesSerde>(); }
inline SerdePtr<int32_t> Int32() { return std::make_shared<Int32Serde>(); }
inline SerdePtr<int64_t> Int64() { return std::make_shared<Int64Serde>(); }
inline SerdePtr<double> Double() { return std::make_shared<DoubleSerde>(); }
}  // namespace serdes

// The serde used when the user names none. Specialised for the built-ins here and for JSON-capable
// types in json_serde.h; a type with neither has no default, and build() reports the missing serde.
template <typename T, typename Enable = void>
struct DefaultSerde {
  static SerdePtr<T> get() { return nullptr; }
};
template <>
struct DefaultSerde<std::string> {
  static SerdePtr<std::string> get() { return serdes::String(); }
};
template <>
struct DefaultSerde<Bytes> {
  static SerdePtr<Bytes> get() { return serdes::ByteArray(); }
};
template <>
struct DefaultSerde<int32_t> {
  static SerdePtr<int32_t> get() { return serdes::Int32(); }
};
template <>
struct DefaultSerde<int64_t> {
  static SerdePtr<int64_t> get() { return serdes::Int64(); }
};
template <>
struct DefaultSerde<double> {
  static SerdePtr<double> get() { return serdes::Double(); }
};

template <typename T>
SerdePtr<T> default_serde() {
  return DefaultSerde<T>::get();
}

}  // namespace kstreams

// The JSON default serde is part of the serde vocabulary: including it here keeps
// DefaultSerde<T> the same in every translation unit (a TU without it would silently pick "no
// default" for JSON types — an ODR trap).
#include "kstreams/common/json_serde.h"  // IWYU pragma: export
