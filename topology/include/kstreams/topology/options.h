// Naming and serde options of DSL operators, as in Kafka Streams (Consumed, Produced, Grouped,
// Repartitioned, Joined, Materialized, Named).
//
// Serdes are optional everywhere: an operator uses the serde given here, else the one its input
// stream carries, else default_serde<T>(). A serde of the wrong type is reported by build().
// Options are values; copy them freely.
#pragma once

#include "kstreams/common/record.h"

#include <functional>

#include <any>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "kstreams/common/serde.h"

namespace kstreams {

namespace internal {
// Serdes held untyped by the options below; typed again by the operator that uses them.
struct SerdeSlots {
  std::any key;
  std::any value;
};
}  // namespace internal

// Event time of a source record (Kafka Streams' TimestampExtractor): called once per record as it
// enters its task, before ordering, with the record (bytes) and the partition's stream time so far.
// A negative result drops the record (counted as `invalid_timestamp`). Unset: the record timestamp.
using TimestampExtractor = std::function<TimestampMs(const RawRecord& record, TimestampMs partition_time)>;

// Source options: serdes of the topic, an optional source node name, and a timestamp extractor.
struct Consumed {
  internal::SerdeSlots serdes;
  std::string name;
  TimestampExtractor timestamp_extractor;
  Consumed& with_timestamp_extractor(TimestampExtractor extractor) {
    timestamp_extractor = std::move(extractor);
    return *this;
  }
  template <typename K, typename V>
  static Consumed with(SerdePtr<K> k, SerdePtr<V> v) {
    Consumed c;
    c.serdes.key = std::move(k);
    c.serdes.value = std::move(v);
    return c;
  }
  static Consumed as(std::string n) {
    Consumed c;
    c.name = std::move(n);
    return c;
  }
  Consumed& with_name(std::string n) {
    name = std::move(n);
    return *this;
  }
};

// Sink options.
struct Produced {
  internal::SerdeSlots serdes;
  std::string name;
  template <typename K, typename V>
  static Produced with(SerdePtr<K> k, SerdePtr<V> v) {
    Produced p;
    p.serdes.key = std::move(k);
    p.serdes.value = std::move(v);
    return p;
  }
  static Produced as(std::string n) {
    Produced p;
    p.name = std::move(n);
    return p;
  }
};

// Names the repartition topic a grouping may need (`<application.id>-<name>-repartition`).
struct Grouped {
  internal::SerdeSlots serdes;
  std::string name;
  static Grouped as(std::string n) {
    Grouped g;
    g.name = std::move(n);
    return g;
  }
  template <typename K, typename V>
  Grouped& with_serdes(SerdePtr<K> k, SerdePtr<V> v) {
    serdes.key = std::move(k);
    serdes.value = std::move(v);
    return *this;
  }
};

// An explicit repartition point; partitions 0 means "as many as the upstream sources".
struct Repartitioned {
  internal::SerdeSlots serdes;
  std::string name;
  int32_t partitions = 0;
  static Repartitioned as(std::string n) {
    Repartitioned r;
    r.name = std::move(n);
    return r;
  }
  Repartitioned& with_partitions(int32_t n) {
    partitions = n;
    return *this;
  }
  template <typename K, typename V>
  Repartitioned& with_serdes(SerdePtr<K> k, SerdePtr<V> v) {
    serdes.key = std::move(k);
    serdes.value = std::move(v);
    return *this;
  }
};

// Join options: the name of the repartition topic(s) a join may need and of the join stores
// (stream-stream joins: `<name>-this-store` / `<name>-other-store`).
struct Joined {
  std::string name;
  static Joined as(std::string n) { return Joined{std::move(n)}; }
};

// A store backing a table or an aggregation: its name (required: it names the changelog), serdes,
// in-memory or RocksDB, changelog on/off, and retention for window stores.
struct Materialized {
  internal::SerdeSlots serdes;
  std::string name;
  bool persistent = true;
  bool logging = true;
  std::chrono::milliseconds retention{0};  // window stores: 0 means window size + grace
  static Materialized as(std::string n) {
    Materialized m;
    m.name = std::move(n);
    return m;
  }
  Materialized& in_memory() {
    persistent = false;
    return *this;
  }
  Materialized& with_logging_disabled() {
    logging = false;
    return *this;
  }
  Materialized& with_retention(std::chrono::milliseconds r) {
    retention = r;
    return *this;
  }
  template <typename K, typename V>
  Materialized& with_serdes(SerdePtr<K> k, SerdePtr<V> v) {
    serdes.key = std::move(k);
    serdes.value = std::move(v);
    return *this;
  }
  template <typename V>
  Materialized& with_value_serde(SerdePtr<V> v) {
    serdes.value = std::move(v);
    return *this;
  }
};

// A processor name for operators that take one.
struct Named {
  std::string name;
  static Named as(std::string n) { return Named{std::move(n)}; }
};

}  // namespace kstreams
