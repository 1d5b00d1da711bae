#include "kstreams/state/store.h"

namespace kstreams::state {

const char* to_string(StoreType type) {
  switch (type) {
    case StoreType::kKeyValue:
      return "key-value";
    case StoreType::kWindow:
      return "window";
    case StoreType::kSession:
      return "session";
  }
  return "unknown";
}

}  // namespace kstreams::state
