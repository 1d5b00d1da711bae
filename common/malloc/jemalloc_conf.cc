// jemalloc's compiled-in options for the executables that link kstreams::malloc (jemalloc reads this
// symbol when it initialises; MALLOC_CONF in the environment is applied after it and wins).
//
// jemalloc's defaults give a 2-core machine 8 arenas and keep freed pages for 10 s: peak RSS of the
// benchmark contenders rose 10-30% over glibc's. Two arenas (a stream thread, librdkafka's threads
// and the HTTP workers share them) and returning dirty pages after 1 s keep the CPU gain.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
