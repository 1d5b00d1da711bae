# Every dependency comes from a Debian package (scripts/install_deps.sh installs what is missing).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# librdkafka 2.0.2 ships no CMake config.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka rdkafka++)
# cpp-httplib 0.11.4 (a compiled library in Debian): only bench_http_server_cpu, which measures its
# server against ours; kstreams itself does not use it.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# libcurl (Debian libcurl4-openssl-dev): HttpClient and HttpPool (runtime-private).
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
# OpenSSL (Debian libssl-dev): TLS in the event-loop server (runtime-private, OpenSSL::SSL).
find_package(OpenSSL 1.1.1 REQUIRED)

find_package(RocksDB CONFIG REQUIRED)        # RocksDB::rocksdb-shared
find_package(nlohmann_json CONFIG REQUIRED)  # nlohmann_json::nlohmann_json
find_package(absl CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED) # prometheus-cpp::core / ::pull
# jemalloc for the executables that run topologies (kstreams::malloc): the stream thread allocates
# and frees many small strings per record; with glibc malloc 12-15% of the e-commerce saga's CPU
# went to malloc/free, jemalloc cuts the saga's CPU per order by ~12% (docs/benchmarks.md). Its
# options are compiled into each executable (common/malloc/jemalloc_conf.cc).
option(KSTREAMS_JEMALLOC "Link applications and benchmark contenders with jemalloc" ON)
add_library(kstreams_malloc INTERFACE)
add_library(kstreams::malloc ALIAS kstreams_malloc)
if(KSTREAMS_JEMALLOC)
  pkg_check_modules(JEMALLOC IMPORTED_TARGET jemalloc)
  if(JEMALLOC_FOUND)
    target_link_libraries(kstreams_malloc INTERFACE PkgConfig::JEMALLOC)
    # Compiled-in options (fewer arenas, dirty pages returned sooner): see the file.
    target_sources(kstreams_malloc INTERFACE ${CMAKE_SOURCE_DIR}/common/malloc/jemalloc_conf.cc)
  else()
    message(WARNING "jemalloc not found (Debian: libjemalloc-dev): applications use glibc malloc")
  endif()
endif()

if(KSTREAMS_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  find_package(benchmark CONFIG REQUIRED)
endif()
