#include "kstreams/topology/streams_builder.h"

namespace kstreams {

Topology StreamsBuilder::build() {
  Topology topology(core_->take());
  core_ = std::make_unique<internal::BuilderCore>();
  return topology;
}

}  // namespace kstreams
