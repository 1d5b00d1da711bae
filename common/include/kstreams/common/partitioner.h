// Kafka's default partitioner (murmur2, Java-compatible): the partition a key lands in.
//
// Every producer of kstreams (sinks, repartition, changelogs) and the key-to-instance mapping of
// interactive queries use this function, so records written by any Kafka client agree with it.
#pragma once

#include <cstdint>
#include <string_view>

namespace kstreams {

// Kafka's murmur2 hash of the key bytes (org.apache.kafka.common.utils.Utils.murmur2).
[[nodiscard]] int32_t murmur2(std::string_view key);

// toPositive(murmur2(key)) % num_partitions, as in Kafka's DefaultPartitioner / BuiltInPartitioner.
[[nodiscard]] int32_t partition_for_key(std::string_view key, int32_t num_partitions);

}  // namespace kstreams
