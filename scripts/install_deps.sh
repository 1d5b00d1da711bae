#!/usr/bin/env bash
# Installs the Debian packages kstreams needs, only those missing (non-interactive), then the Kafka
# broker jars (Maven Central, cached outside the work tree). Safe to run any number of times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
packages=(
  build-essential cmake ninja-build pkg-config ccache git
  librdkafka-dev librocksdb-dev nlohmann-json3-dev libabsl-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev libcpp-httplib-dev libcurl4-openssl-dev libssl-dev libjemalloc-dev
  clang-format clang-tidy clang libclang-rt-14-dev llvm default-jdk-headless maven curl openssl python3 docker-compose
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK that is already there (e.g. a Temurin install) serves as well as Debian's. A JDK, not a JRE:
# the benchmark harness compiles its Kafka Streams peer (bench/peers/kafka-streams) with Maven.
if command -v javac >/dev/null 2>&1; then
  missing=("${missing[@]/default-jdk-headless/}")
fi
if command -v mvn >/dev/null 2>&1; then
  missing=("${missing[@]/maven/}")
fi
filtered=()
for p in "${missing[@]}"; do [ -n "$p" ] && filtered+=("$p"); done
if [ ${#filtered[@]} -gt 0 ]; then
  echo "[deps] installing: ${filtered[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
fi
"$here/kafka/broker.sh" fetch
