// Store failures inside the e-commerce processors are infrastructure errors: the record goes to
// the dead-letter topic with the reason (nothing is lost) and the task's processing-error metrics
// count it. These helpers turn a store Status into that ProcessingException.
#pragma once

#include <string>
#include <utility>

#include "kstreams/topology/processor.h"

namespace ecommerce {

template <typename T>
T check(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) throw kstreams::ProcessingException("STORE_ERROR", std::string(what) + ": " + v.status().ToString());
  return std::move(*v);
}

inline void check(const absl::Status& st, const char* what) {
  if (!st.ok()) throw kstreams::ProcessingException("STORE_ERROR", std::string(what) + ": " + st.ToString());
}

}  // namespace ecommerce
