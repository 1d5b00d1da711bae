#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft) on 127.0.0.1 for development, tests and benchmarks.
#
#   scripts/kafka/broker.sh fetch          download the broker jars once (Maven Central) into the cache
#   scripts/kafka/broker.sh start          start a broker unless one already answers; waits until ready
#   scripts/kafka/broker.sh stop           stop the broker this script started (nothing else)
#   scripts/kafka/broker.sh status         exit 0 if a broker answers at the configured address
#   scripts/kafka/broker.sh crash [N]      SIGKILL the broker this script started, keeping its data
#   scripts/kafka/broker.sh revive [N]     start a crashed broker again on its data; waits until ready
#   scripts/kafka/broker.sh freeze|thaw [N]  SIGSTOP / SIGCONT the broker (a hung broker: nothing answers)
#   scripts/kafka/broker.sh coordinator ID print the node id of the transaction coordinator of ID
#   (N: one node of a cluster, 1..3; without N every node)
#
# Environment:
#   KAFKA_PROFILE   3.9 (default: Kafka 3.9.1) or 4.1 (Kafka 4.1.x)
#   KAFKA_MODE      single (default) or cluster (3 brokers, replication 3, min.insync.replicas 2)
#   KAFKA_PORT      first client port (default 9092; cluster mode uses PORT, PORT+10, PORT+20)
#   KSTREAMS_CACHE  jar cache outside the work tree (default ~/.cache/kstreams)
#   KAFKA_RUN_DIR   throwaway data/log folder (default /tmp/kstreams-kafka-<port>)
#   KAFKA_BROKER_PROPS  extra server.properties lines for experiments (they win over the defaults)
#   KAFKA_HEAP      the JVM's heap options (default -Xmx1G -Xms256m)
#   KAFKA_GC_OPTS   the JVM's collector options (default -XX:+UseG1GC -XX:MaxGCPauseMillis=20)
#
# Idempotent: `start` twice reuses the running broker; `stop` only stops a broker whose pid file
# this script wrote, so a broker someone else runs at the same address is never killed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
profile=${KAFKA_PROFILE:-3.9}
mode=${KAFKA_MODE:-single}
port=${KAFKA_PORT:-9092}
cache=${KSTREAMS_CACHE:-$HOME/.cache/kstreams}
run_dir=${KAFKA_RUN_DIR:-/tmp/kstreams-kafka-$port}

case "$profile" in
  3.9) version=3.9.1; pom="$here/pom-3.9.xml"; api_versions=kafka.admin.BrokerApiVersionsCommand ;;
  # Kafka 4 moved the command-line tools from kafka.admin to org.apache.kafka.tools.
  4.1) version=4.1.1; pom="$here/pom-4.1.xml"; api_versions=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  *) echo "broker.sh: unknown KAFKA_PROFILE '$profile' (3.9 or 4.1)" >&2; exit 2 ;;
esac
libs="$cache/kafka-$version/libs"

log() { echo "[broker] $*" >&2; }

ensure_java() {
  if ! command -v java >/dev/null 2>&1; then
    log "java missing: installing default-jre-headless"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    log "maven missing: installing maven"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
  fi
}

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  ensure_java
  log "fetching Kafka $version jars from Maven Central into $libs"
  mkdir -p "$libs"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime
  touch "$libs/.complete"
}

node_ports() {
  if [ "$mode" = cluster ]; then echo "$port $((port + 10)) $((port + 20))"; else echo "$port"; fi
}

bootstrap() {
  local out="" p
  for p in $(node_ports); do out="${out:+$out,}127.0.0.1:$p"; done
  echo "$out"
}

# A metadata request answered by the broker (not just an open port); $1: only that client port.
answers() {
  local p any=0 ports servers=""
  ports=${1:-$(node_ports)}
  for p in $ports; do port_open "$p" && any=1; servers="${servers:+$servers,}127.0.0.1:$p"; done
  [ $any = 1 ] || return 1
  timeout 30 java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$libs/*" -Dlog4j.configuration=file:"$here/log4j-quiet.properties" \
    "$api_versions" --bootstrap-server "$servers" >/dev/null 2>&1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() { # node_id client_port controller_port voters rf min_isr
  local id=$1 cport=$2 ctl=$3 voters=$4 rf=$5 isr=$6 dir="$run_dir/node-$1"
  mkdir -p "$dir/data"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$cport,CONTROLLER://127.0.0.1:$ctl
advertised.listeners=PLAINTEXT://127.0.0.1:$cport
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
# Throwaway dev/test broker: keep data regardless of record timestamps (tests replay old event times).
log.retention.ms=-1
transaction.max.timeout.ms=900000
PROPS
  # Experiments: extra broker properties, one per line (they override the ones above).
  if [ -n "${KAFKA_BROKER_PROPS:-}" ]; then printf '%s\n' "$KAFKA_BROKER_PROPS" >> "$dir/server.properties"; fi
}

start() {
  fetch
  if answers; then log "a broker already answers at $(bootstrap); reusing it"; echo "$(bootstrap)"; return 0; fi
  local p
  for p in $(node_ports); do
    if port_open "$p"; then log "port $p is taken by something that is not a Kafka broker"; exit 1; fi
  done
  rm -rf "$run_dir"; mkdir -p "$run_dir"
  local ids=() voters="" i=0 rf=1 isr=1
  for p in $(node_ports); do i=$((i + 1)); ids+=("$i"); voters="${voters:+$voters,}$i@127.0.0.1:$((p + 1))"; done
  if [ "$mode" = cluster ]; then rf=3; isr=2; fi
  local cluster_id; cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  i=0
  for p in $(node_ports); do
    i=$((i + 1))
    write_config "$i" "$p" "$((p + 1))" "$voters" "$rf" "$isr"
    java -cp "$libs/*" -Dlog4j.configuration=file:"$here/log4j-quiet.properties" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$run_dir/node-$i/server.properties" --ignore-formatted >/dev/null
    launch_node "$i"
  done
  wait_ready
}

launch_node() { # node_id: the JVM of one formatted node, in the background
  local i=$1
  KAFKA_HEAP=${KAFKA_HEAP:--Xmx1G -Xms256m}
  local gc=${KAFKA_GC_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}
  # shellcheck disable=SC2086
  nohup java $KAFKA_HEAP $gc -Djava.awt.headless=true \
    -Dlog4j.configuration=file:"$here/log4j-broker.properties" -Dkafka.logs.dir="$run_dir/node-$i" \
    -cp "$libs/*" kafka.Kafka "$run_dir/node-$i/server.properties" \
    >> "$run_dir/node-$i/stdout.log" 2>&1 &
  echo $! > "$run_dir/node-$i/pid"
}

wait_ready() { # [client port]: wait for that node only
  log "waiting for Kafka $version ($mode) at ${1:+127.0.0.1:}${1:-$(bootstrap)}"
  local deadline=$((SECONDS + 90))
  until answers "${1:-}"; do
    if [ $SECONDS -gt $deadline ]; then log "broker did not answer within 90 s; see $run_dir/node-*/stdout.log"; stop keep; exit 1; fi
    for f in "$run_dir"/node-*/pid; do
      if ! kill -0 "$(cat "$f")" 2>/dev/null; then log "broker process died; log:"; tail -n 30 "$(dirname "$f")/stdout.log" >&2; exit 1; fi
    done
    sleep 1
  done
  log "ready at $(bootstrap) (data and logs in $run_dir)"
  echo "$(bootstrap)"
}

# The pid files of node $1 (1..3), or of every node when $1 is empty.
pid_files() {
  if [ -n "${1:-}" ]; then echo "$run_dir/node-$1/pid"; else ls "$run_dir"/node-*/pid 2>/dev/null || true; fi
}

# Tests of a broker that goes away: SIGKILL every node (or node N) this script started (a crash: no controlled
# shutdown), keeping the data; `revive` starts the same nodes on that data (log recovery included).
crash() { # crash [node]
  local f pid crashed=0
  for f in $(pid_files "${1:-}"); do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      crashed=1
    fi
    rm -f "$f"
  done
  if [ $crashed = 1 ]; then log "crashed (SIGKILL); data kept in $run_dir"; else log "no broker started by this script is running"; exit 1; fi
}

# A broker that hangs instead: SIGSTOP every node (connections stay open, nothing answers), SIGCONT.
signal_nodes() { # signal [node]
  local f any=0
  for f in $(pid_files "${2:-}"); do
    [ -f "$f" ] || continue
    kill -"$1" "$(cat "$f")" 2>/dev/null && any=1
  done
  if [ $any = 0 ]; then log "no broker started by this script is running"; exit 1; fi
  log "sent SIG$1"
}

revive() { # revive [node]
  fetch
  local i=0 p only=${1:-}
  for p in $(node_ports); do
    i=$((i + 1))
    if [ -n "$only" ] && [ "$only" != "$i" ]; then continue; fi
    if [ ! -f "$run_dir/node-$i/server.properties" ]; then log "no data of node $i in $run_dir to revive"; exit 1; fi
    if [ -f "$run_dir/node-$i/pid" ] && kill -0 "$(cat "$run_dir/node-$i/pid")" 2>/dev/null; then
      log "node $i is running"; exit 1
    fi
    if port_open "$p"; then log "port $p is taken"; exit 1; fi
  done
  i=0
  for p in $(node_ports); do
    i=$((i + 1))
    if [ -n "$only" ] && [ "$only" != "$i" ]; then continue; fi
    launch_node "$i"
    if [ -n "$only" ]; then wait_ready "$p"; return; fi
  done
  wait_ready
}

# The node id of the transaction coordinator (leader of its __transaction_state partition) of a
# transactional id, as the broker reports it.
coordinator() { # transactional_id
  fetch
  local cls=org.apache.kafka.tools.TransactionsCommand
  timeout 60 java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$libs/*" -Dlog4j.configuration=file:"$here/log4j-quiet.properties" \
    "$cls" --bootstrap-server "$(bootstrap)" describe --transactional-id "$1" 2>/dev/null |
    awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "CoordinatorId") col = i; next } col { print $col; exit }'
}

stop() { # stop [keep]: keep leaves the data and logs for a post-mortem
  local f pid stopped=0 keep=${1:-}
  for f in "$run_dir"/node-*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      stopped=1
    fi
    rm -f "$f"
  done
  if [ $stopped = 1 ] && [ "$keep" != keep ]; then log "stopped; removing $run_dir"; rm -rf "$run_dir"
  elif [ $stopped = 1 ]; then log "stopped; logs kept in $run_dir"; else log "no broker started by this script is running"; fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  crash) crash "${2:-}" ;;
  revive) revive "${2:-}" ;;
  freeze) signal_nodes STOP "${2:-}" ;;
  thaw) signal_nodes CONT "${2:-}" ;;
  coordinator) coordinator "${2:?transactional id}" ;;
  status) fetch; answers ;;
  bootstrap) bootstrap ;;
  *) echo "usage: $0 fetch|start|stop|crash [N]|revive [N]|freeze [N]|thaw [N]|coordinator ID|status|bootstrap" >&2; exit 2 ;;
esac
