// Typed views over the byte stores for processors and tests: the state module's typed layer
// (kstreams/state/typed_store.h), named in the kstreams namespace for application code.
//
// Ownership: a view does not own its store (the task's ProcessorStateManager does) and is valid
// until the task closes. Thread-compatible: use it on the task's thread only.
#pragma once

#include "kstreams/state/typed_store.h"

namespace kstreams {

using state::KeyValueStore;
using state::SessionStore;
using state::WindowStore;

}  // namespace kstreams
