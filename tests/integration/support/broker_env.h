// Shared helpers of the integration tier: where the broker is and unique names per test run.
#pragma once

#include <string>

#include "kstreams/runtime/clients.h"

namespace kstreams::testing {

// KSTREAMS_BOOTSTRAP (CTest sets it for the `kafka` fixture), else 127.0.0.1:19092; while a
// ScopedBootstrap lives, its address.
std::string bootstrap();

// Points bootstrap() (so client_props() and create_topic() too) at another broker while it lives,
// for a test that runs a broker of its own. Not thread-safe: create and destroy it while no other
// thread of the test reads bootstrap().
class ScopedBootstrap {
 public:
  explicit ScopedBootstrap(std::string address);
  ~ScopedBootstrap();
  ScopedBootstrap(const ScopedBootstrap&) = delete;
  ScopedBootstrap& operator=(const ScopedBootstrap&) = delete;

 private:
  std::string previous_;
};
// `<prefix>-<pid>-<counter>-<random>`: topics and groups never collide between tests or runs.
std::string unique_name(const std::string& prefix);
// Client properties for the test broker, plus `extra`.
runtime::Properties client_props(const runtime::Properties& extra = {});
// Creates a topic with `partitions` partitions (replication 1); fails the test on error.
void create_topic(const std::string& topic, int partitions, const runtime::Properties& configs = {});

// A free TCP port on 127.0.0.1 (bound to port 0, read back, released).
int free_tcp_port();

}  // namespace kstreams::testing
