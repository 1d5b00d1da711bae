// The one header an application includes: the DSL, the Processor API, serdes, and the
// TopologyTestDriver (KafkaStreams joins it when the Kafka runtime lands). No librdkafka or RocksDB
// type is reachable from here.
#pragma once

#include "kstreams/common/json_serde.h"
#include "kstreams/common/serde.h"
#include "kstreams/runtime/kafka_streams.h"
#include "kstreams/runtime/streams_config.h"
#include "kstreams/runtime/topology_test_driver.h"
#include "kstreams/topology/processor.h"
#include "kstreams/topology/streams_builder.h"
#include "kstreams/topology/topology.h"
#include "kstreams/topology/topology_exception.h"
