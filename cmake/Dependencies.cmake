# Every dependency comes from a Debian package (scripts/install_deps.sh installs what is missing).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# librdkafka 2.0.2 ships no CMake config.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka rdkafka++)
# cpp-httplib 0.11.4 is a compiled library in Debian; its pkg-config carries the SSL/zlib/brotli defines.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

find_package(RocksDB CONFIG REQUIRED)        # RocksDB::rocksdb-shared
find_package(nlohmann_json CONFIG REQUIRED)  # nlohmann_json::nlohmann_json
find_package(absl CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED) # prometheus-cpp::core / ::pull
if(KSTREAMS_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  find_package(benchmark CONFIG REQUIRED)
endif()
