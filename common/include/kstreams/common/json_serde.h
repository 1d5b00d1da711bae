// JSON serde for any type with nlohmann to_json/from_json (ADL or adl_serializer).
//
// deserialize() returns kDataLoss naming the parse or type error; it never throws.
#pragma once

#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "kstreams/common/serde.h"

namespace kstreams {

template <typename T>
class JsonSerde final : public Serde<T> {
 public:
  void serialize(const T& v, std::string* out) const override { *out = nlohmann::json(v).dump(); }
  [[nodiscard]] absl::Status deserialize(std::string_view b, T* out) const override {
    nlohmann::json j = nlohmann::json::parse(b.begin(), b.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return absl::DataLossError("malformed JSON");
    try {
      j.get_to(*out);
    } catch (const nlohmann::json::exception& e) {
      return absl::DataLossError(std::string("JSON does not match the expected type: ") + e.what());
    }
    return absl::OkStatus();
  }
  [[nodiscard]] std::string name() const override { return "Json"; }
};

namespace serdes {
template <typename T>
SerdePtr<T> Json() {
  return std::make_shared<JsonSerde<T>>();
}
}  // namespace serdes

namespace detail {
template <typename T, typename = void>
struct HasJson : std::false_type {};
template <typename T>
struct HasJson<T, std::void_t<decltype(nlohmann::json(std::declval<const T&>())),
                              decltype(std::declval<const nlohmann::json&>().template get<T>())>> : std::true_type {};
}  // namespace detail

// JSON is the default serde for class types that nlohmann can convert (not for the built-ins).
template <typename T>
struct DefaultSerde<T, std::enable_if_t<std::is_class_v<T> && !std::is_same_v<T, std::string> &&
                                        !std::is_same_v<T, Bytes> && detail::HasJson<T>::value>> {
  static SerdePtr<T> get() { return serdes::Json<T>(); }
};

}  // namespace kstreams
