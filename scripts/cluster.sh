#!/usr/bin/env bash
# A real local cluster: ZooKeeper (Debian's package) on 127.0.0.1:2181 and N Gregor brokers built
# from this working tree, ids 1..N on ports 9092.., data under .cluster/ (GREGOR_CLUSTER_DIR).
#
#   scripts/cluster.sh up [N]     start ZooKeeper and N brokers (default 3); returns when all are registered
#   scripts/cluster.sh down       stop the brokers (cleanly) and ZooKeeper
#   scripts/cluster.sh status     brokers, controller and topics as ZooKeeper sees them
#   scripts/cluster.sh kill ID    SIGKILL broker ID (a crash)
#   scripts/cluster.sh start ID   start broker ID again
#   scripts/cluster.sh logs ID    follow broker ID's log (logs zk: ZooKeeper's)
#
# GREGOR_ZK_PORT (2181), GREGOR_BROKER_PORT (9092: broker ID listens on it + ID - 1) and
# GREGOR_METRICS_PORT (7070: broker ID serves /metrics on it + ID) move a cluster off the default
# ports, so that a second one (a benchmark beside a running cluster or a test) can run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
DIR="${GREGOR_CLUSTER_DIR:-$ROOT/.cluster}"
ZK_PORT="${GREGOR_ZK_PORT:-2181}"
BROKER_PORT="${GREGOR_BROKER_PORT:-9092}"
METRICS_PORT="${GREGOR_METRICS_PORT:-7070}"
ZK="127.0.0.1:$ZK_PORT"
BIN="$ROOT/bin/gregor"
ZK_JAR=/usr/share/java/zookeeper.jar

die() { echo "cluster.sh: $*" >&2; exit 1; }

ensure_zookeeper() {
  [ -f "$ZK_JAR" ] && command -v java >/dev/null 2>&1 && return
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's zookeeper package..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
  else
    die "ZooKeeper is not installed: run 'sudo apt-get install -y zookeeper' (Debian/Ubuntu)"
  fi
}

build() {
  mkdir -p "$ROOT/bin"
  go build -o "$BIN" ./cmd/gregor || die "go build failed"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_zookeeper() {
  mkdir -p "$DIR/zk/data"
  if alive "$DIR/zk/pid"; then return; fi
  if ( (exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT) 2>/dev/null ); then
    die "port $ZK_PORT is in use by another process (another ZooKeeper?)"
  fi
  cat > "$DIR/zk/zoo.cfg" <<CFG
tickTime=2000
dataDir=$DIR/zk/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
maxClientCnxns=0
CFG
  nohup java -Xmx512m -Dzookeeper.log.dir="$DIR/zk" -cp "/etc/zookeeper/conf:$ZK_JAR" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$DIR/zk/zoo.cfg" >"$DIR/zk/zookeeper.log" 2>&1 &
  echo $! > "$DIR/zk/pid"
  for _ in $(seq 1 300); do
    reply=$( (exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT && printf ruok >&3 && head -c4 <&3) 2>/dev/null || true)
    if [ "$reply" = "imok" ]; then
      echo "zookeeper up on $ZK"; return
    fi
    alive "$DIR/zk/pid" || { tail -20 "$DIR/zk/zookeeper.log" >&2; die "zookeeper exited"; }
    sleep 0.1
  done
  die "zookeeper did not answer within 30s (see $DIR/zk/zookeeper.log)"
}

broker_config() {
  local id=$1
  if [ -f "$ROOT/config/broker-$id.yaml" ]; then
    echo "$ROOT/config/broker-$id.yaml"
    return
  fi
  # Brokers beyond the three example files get a generated config.
  local cfg="$DIR/broker-$id.yaml"
  local port=$((BROKER_PORT - 1 + id))
  cat > "$cfg" <<CFG
broker.id: $id
listeners: PLAINTEXT://127.0.0.1:$port
advertised.listeners: PLAINTEXT://127.0.0.1:$port
log.dirs: $DIR/broker-$id/data
zookeeper.connect: $ZK/kafka
offsets.topic.replication.factor: 1
gregor.metrics.listen: 127.0.0.1:$((METRICS_PORT + id))
CFG
  echo "$cfg"
}

start_broker() {
  local id=$1
  local pidf="$DIR/broker-$id/pid"
  mkdir -p "$DIR/broker-$id/data"
  if alive "$pidf"; then echo "broker $id already running"; return; fi
  local port=$((BROKER_PORT - 1 + id))
  # The example configs name the default ports; KAFKA_* variables override the file, so the
  # same configs serve a cluster on other ports.
  KAFKA_LOG_DIRS="$DIR/broker-$id/data" KAFKA_ZOOKEEPER_CONNECT="$ZK/kafka" \
    KAFKA_LISTENERS="PLAINTEXT://127.0.0.1:$port" KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://127.0.0.1:$port" \
    KAFKA_GREGOR_METRICS_LISTEN="127.0.0.1:$((METRICS_PORT + id))" \
    nohup "$BIN" broker --config "$(broker_config "$id")" >>"$DIR/broker-$id/broker.log" 2>&1 &
  echo $! > "$pidf"
}

wait_registered() {
  local id=$1
  if ! "$BIN" zk --server "$ZK" --timeout 30s wait "/kafka/brokers/ids/$id" >/dev/null 2>&1; then
    tail -30 "$DIR/broker-$id/broker.log" >&2 || true
    die "broker $id did not register within 30s"
  fi
  alive "$DIR/broker-$id/pid" || { tail -30 "$DIR/broker-$id/broker.log" >&2; die "broker $id exited"; }
}

stop_pid() {
  local pidf=$1 sig=${2:-TERM}
  alive "$pidf" || { rm -f "$pidf"; return; }
  local pid; pid=$(cat "$pidf")
  kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidf"
}

cmd=${1:-}
case "$cmd" in
  up)
    n=${2:-3}
    ensure_zookeeper
    build
    mkdir -p "$DIR"
    echo "$n" > "$DIR/size"
    start_zookeeper
    for id in $(seq 1 "$n"); do start_broker "$id"; done
    for id in $(seq 1 "$n"); do wait_registered "$id"; echo "broker $id registered"; done
    echo "cluster up: bootstrap 127.0.0.1:$BROKER_PORT (zookeeper $ZK, chroot /kafka, data $DIR)"
    ;;
  down)
    for pidf in "$DIR"/broker-*/pid; do [ -e "$pidf" ] && stop_pid "$pidf" TERM; done
    [ -e "$DIR/zk/pid" ] && stop_pid "$DIR/zk/pid" TERM
    echo "cluster down"
    ;;
  status)
    [ -x "$BIN" ] || build
    echo "brokers:    $("$BIN" zk --server "$ZK" ls /kafka/brokers/ids 2>/dev/null || echo 'zookeeper not reachable')"
    echo "controller: $("$BIN" zk --server "$ZK" get /kafka/controller 2>/dev/null || echo none)"
    echo "topics:     $("$BIN" zk --server "$ZK" ls /kafka/brokers/topics 2>/dev/null || echo -)"
    ;;
  kill)  [ -n "${2:-}" ] || die "usage: kill ID"; stop_pid "$DIR/broker-$2/pid" KILL; echo "broker $2 killed" ;;
  start) [ -n "${2:-}" ] || die "usage: start ID"; [ -x "$BIN" ] || build; start_broker "$2"; wait_registered "$2"; echo "broker $2 registered" ;;
  logs)
    [ -n "${2:-}" ] || die "usage: logs ID|zk"
    if [ "$2" = zk ]; then exec tail -f "$DIR/zk/zookeeper.log"; fi
    exec tail -f "$DIR/broker-$2/broker.log"
    ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
