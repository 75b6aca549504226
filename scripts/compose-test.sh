#!/usr/bin/env bash
# Proves docker-compose.yml on a machine with a Docker engine and no container registry.
#
# docker-compose.yml is what users run where a registry is reachable: the official ZooKeeper
# image and brokers built from ./Dockerfile on golang and debian-slim. Here no image can be
# pulled, so this script makes the base images itself and runs the same compose file with an
# override that points at them and at nothing else:
#
#   - ZooKeeper: Debian's `zookeeper` package (Java included), debootstrapped from the mirror apt
#     already uses (read from /etc/apt/sources.list* at run time), then `docker import`ed, with
#     the official image's paths (/data, /datalog, zkCli.sh and zkServer.sh on PATH);
#   - the broker: ./Dockerfile unchanged, built by compose, with its two base images substituted
#     through the Dockerfile's build arguments: GO_IMAGE = that Debian root plus this machine's Go
#     toolchain and a file GOPROXY of the module cache (so `go mod download` in the build needs
#     no network), RUNTIME_IMAGE = scratch (Docker's empty base, no pull needed: the runtime is
#     the static binary and the files the build stage makes, nothing else).
#
# Then it checks what a user would: three brokers seen and RF 3 produce/consume from the host
# (localhost:9092,9093,9094) and from inside the compose network (broker1:19092, from a client
# container of the broker image); zkCli.sh lists /kafka/brokers/ids as [1, 2, 3]; the health
# checks; `docker kill` of a broker leaves the cluster serving and `up` brings it back with its
# data intact (named volumes); SIGTERM (`stop`) is a clean shutdown within the stop timeout;
# `down` then `up` keeps every topic and record. Everything it made — containers, the network,
# volumes, images, the temporary directory — is removed at the end, pass or fail.
#
# Needs root (debootstrap, Docker). On Debian it installs docker.io, docker-compose, debootstrap,
# kcat and curl when missing. GREGOR_COMPOSE_CACHE=DIR keeps the debootstrapped root between runs
# (default: none, a fresh one in the run's temporary directory). COMPOSE="docker compose" picks
# Compose v2 (default: docker-compose if installed, else docker compose).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

say() { printf '\n--- [%3ds] %s\n' "$SECONDS" "$*"; }
die() { echo "compose-test: FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and Docker need it)"
need=()
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ -z "${COMPOSE:-}" ] && ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  need+=(docker-compose)
fi
if [ "${#need[@]}" -gt 0 ]; then
  say "installing ${need[*]}"
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -z "${COMPOSE:-}" ]; then
  if command -v docker-compose >/dev/null 2>&1; then COMPOSE=docker-compose; else COMPOSE="docker compose"; fi
fi
if ! docker info >/dev/null 2>&1; then
  # Machines of this kind start the engine before a session; start it if it is not running.
  say "starting the Docker engine"
  if command -v systemctl >/dev/null 2>&1 && systemctl start docker 2>/dev/null; then :
  elif command -v service >/dev/null 2>&1 && service docker start >/dev/null 2>&1; then :
  else nohup dockerd >/var/log/gregor-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "the Docker engine is not running and could not be started"
fi
command -v go >/dev/null 2>&1 || die "go not found"

# ---------------------------------------------------------------- run state and cleanup
RUN="$(date +%s)$$"
PROJECT="gregorct${RUN}"
WORK="$(mktemp -d /tmp/gregor-compose-test.XXXXXX)"
ZK_IMAGE="gregor-compose-test/zookeeper:${RUN}"
GO_IMAGE="gregor-compose-test/go:${RUN}"
BROKER_IMAGE="gregor-compose-test/broker:${RUN}"
NET="${PROJECT}_default"
CLIENT_LABEL="gregor-compose-test=${RUN}"

dc() { $COMPOSE -p "$PROJECT" -f "$REPO/docker-compose.yml" -f "$WORK/override.yml" "$@"; }

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ] && [ -f "$WORK/override.yml" ]; then
    echo "--- last broker and ZooKeeper logs" >&2
    dc logs --no-color --tail=40 >&2 2>/dev/null
  fi
  say "cleaning up ${PROJECT}"
  docker ps -aq --filter "label=${CLIENT_LABEL}" | xargs -r docker rm -f >/dev/null
  # A build interrupted half-way leaves its build-stage container.
  docker image inspect "$GO_IMAGE" >/dev/null 2>&1 &&
    docker ps -aq --filter "ancestor=$GO_IMAGE" | xargs -r docker rm -f >/dev/null
  [ -f "$WORK/override.yml" ] && dc down -v --remove-orphans -t 5 >/dev/null 2>&1
  # Whatever compose did not remove (a failed down) goes by its project label.
  docker ps -aq --filter "label=com.docker.compose.project=${PROJECT}" | xargs -r docker rm -f >/dev/null
  docker volume ls -q --filter "label=com.docker.compose.project=${PROJECT}" | xargs -r docker volume rm >/dev/null
  docker network ls -q --filter "label=com.docker.compose.project=${PROJECT}" | xargs -r docker network rm >/dev/null
  docker rmi -f "$BROKER_IMAGE" >/dev/null 2>&1
  # The legacy builder keeps the build stage as untagged images made from GO_IMAGE.
  docker image inspect "$GO_IMAGE" >/dev/null 2>&1 &&
    docker images -q --filter dangling=true --filter "since=$GO_IMAGE" | xargs -r docker rmi -f >/dev/null 2>&1
  docker rmi -f "$GO_IMAGE" "$ZK_IMAGE" >/dev/null 2>&1
  rm -rf "$WORK"
  left="$(docker ps -aq --filter "label=com.docker.compose.project=${PROJECT}")$(docker volume ls -q --filter "label=com.docker.compose.project=${PROJECT}")$(docker network ls -q --filter "label=com.docker.compose.project=${PROJECT}")"
  if [ -n "$left" ]; then
    echo "compose-test: FAIL: left behind: $left" >&2
    rc=1
  fi
  if [ "$rc" -eq 0 ]; then echo "compose-test: all checks passed"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND once a second until it succeeds.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${secs}s waiting for: $what"
    sleep 1
  done
}

for port in 2181 9092 9093 9094 9404 9405 9406; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use on this machine; the compose file publishes it"
  fi
done

# ---------------------------------------------------------------- base images
CODENAME="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ -n "$CODENAME" ] || die "no VERSION_CODENAME in /etc/os-release"

# apt_mirror prints the first URI that apt uses for $CODENAME itself (not -updates/-security),
# from one-line sources.list files and deb822 .sources files.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$CODENAME" '$1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == s) print $i
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$CODENAME" 'BEGIN { RS = ""; FS = "\n" } {
        types = ""; uris = ""; suites = ""
        for (j = 1; j <= NF; j++) {
          if ($j ~ /^Types:/) types = " " substr($j, 7) " "
          if ($j ~ /^URIs:/) uris = substr($j, 6)
          if ($j ~ /^Suites:/) suites = " " substr($j, 8) " "
        }
        gsub(/[ \t]+/, " ", types); gsub(/[ \t]+/, " ", suites)
        if (types ~ / deb / && suites ~ (" " s " ")) { split(uris, u, /[ \t]+/); for (k in u) if (u[k] != "") { print u[k]; break } }
      }' "$f"
  done
}
MIRROR="$(apt_mirror | head -n1)"
[ -n "$MIRROR" ] || die "no apt source for $CODENAME in /etc/apt/sources.list*"

CACHE="${GREGOR_COMPOSE_CACHE:-$WORK}"
mkdir -p "$CACHE"
ROOTFS_TAR="$CACHE/debian-${CODENAME}-zookeeper.tar"
if [ ! -s "$ROOTFS_TAR" ]; then
  say "debootstrap $CODENAME (minbase + zookeeper) from $MIRROR"
  ROOT="$WORK/rootfs"
  debootstrap --variant=minbase --include=zookeeper "$CODENAME" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # The official image's layout: data in /data and /datalog, console logging, the 4-letter
  # words on, no admin HTTP server.
  mkdir -p "$ROOT/data" "$ROOT/datalog"
  cat > "$ROOT/etc/zookeeper/conf_example/zoo.cfg" <<'CFG'
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/data
dataLogDir=/datalog
clientPort=2181
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
autopurge.snapRetainCount=3
autopurge.purgeInterval=24
CFG
  rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
  tar -C "$ROOT" -cf "$ROOTFS_TAR.part" .
  mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
  rm -rf "$ROOT"
else
  say "reusing $ROOTFS_TAR"
fi

say "docker import $ZK_IMAGE"
docker import \
  -c 'ENV PATH=/usr/share/zookeeper/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV JVMFLAGS=-Dzookeeper.root.logger=INFO,CONSOLE' \
  -c 'EXPOSE 2181' -c 'VOLUME ["/data", "/datalog"]' -c 'WORKDIR /data' \
  -c 'CMD ["/usr/share/zookeeper/bin/zkServer.sh", "start-foreground"]' \
  "$ROOTFS_TAR" "$ZK_IMAGE" >/dev/null
docker run --rm --entrypoint java "$ZK_IMAGE" -version >"$WORK/java-version" 2>&1 || die "no Java in $ZK_IMAGE: $(cat "$WORK/java-version")"

say "$GO_IMAGE: the Debian root + $(go env GOVERSION) + the module cache as a file GOPROXY"
GOROOT_DIR="$(go env GOROOT)"
MODCACHE="$(go env GOMODCACHE)"
go mod download # every module of go.sum in the cache, for the image's file GOPROXY
mkdir -p "$WORK/go-context"
cat > "$WORK/go-context/Dockerfile" <<DOCKERFILE
FROM ${ZK_IMAGE}
COPY go /usr/local/go
COPY goproxy /goproxy
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    GOPROXY=file:///goproxy GOSUMDB=off GOTOOLCHAIN=local HOME=/root
DOCKERFILE
# The build context is streamed: the toolchain and the cache are not copied on disk first. The
# toolchain's own sources and tests (src/cmd, test, api, misc, doc: half its files) are left out:
# building a module needs only the standard library's sources and pkg/tool.
GOBASE="$(basename "$GOROOT_DIR")"
tar -c -C "$WORK/go-context" Dockerfile \
    -C "$(dirname "$GOROOT_DIR")" --anchored --exclude="$GOBASE/src/cmd" --exclude="$GOBASE/test" \
    --exclude="$GOBASE/api" --exclude="$GOBASE/misc" --exclude="$GOBASE/doc" \
    --transform "s|^$GOBASE\(/\|\$\)|go\1|" "$GOBASE" \
    -C "$MODCACHE/cache" --transform 's|^download\(/\|$\)|goproxy\1|' download |
  docker build -q --label "gregor-compose-test=${RUN}" -t "$GO_IMAGE" - >"$WORK/go-image.log" 2>&1 ||
  { cat "$WORK/go-image.log" >&2; die "building $GO_IMAGE failed"; }

# The override: images only (and the build arguments that substitute the Dockerfile's bases).
cat > "$WORK/override.yml" <<YAML
services:
  zookeeper:
    image: ${ZK_IMAGE}
  broker1: &broker
    image: ${BROKER_IMAGE}
    build:
      context: ${REPO}
      args:
        GO_IMAGE: ${GO_IMAGE}
        RUNTIME_IMAGE: scratch
      labels:
        gregor-compose-test: "${RUN}"
  broker2: *broker
  broker3: *broker
YAML
dc config -q || die "docker-compose.yml with the override is not valid"

say "$COMPOSE build broker1 (./Dockerfile, GO_IMAGE=$GO_IMAGE RUNTIME_IMAGE=scratch)"
# The three brokers share the image: build it once; every `up` below runs with --no-build.
dc build broker1 >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; die "compose build failed"; }
docker image inspect "$BROKER_IMAGE" >/dev/null || die "compose build made no $BROKER_IMAGE"
say "broker image: $(docker image inspect -f '{{.Size}}' "$BROKER_IMAGE") bytes, $(docker history -q "$BROKER_IMAGE" | wc -l) layers"

say "building the host's client"
go build -o "$WORK/gregor" ./cmd/gregor
G="$WORK/gregor"
HOST_BOOTSTRAP=localhost:9092,localhost:9093,localhost:9094

# ---------------------------------------------------------------- checks
cid() { dc ps -q "$1"; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(cid "$1")"; }
is_healthy() { [ "$(health "$1")" = healthy ]; }
all_healthy() { is_healthy zookeeper && is_healthy broker1 && is_healthy broker2 && is_healthy broker3; }
# zk_ids prints /kafka/brokers/ids as zkCli.sh inside the ZooKeeper container lists it.
zk_ids() {
  docker exec -e JVMFLAGS=-Dzookeeper.root.logger=ERROR,CONSOLE "$(cid zookeeper)" \
    zkCli.sh -server localhost:2181 ls /kafka/brokers/ids 2>/dev/null | grep -E '^\[[0-9, ]*\]$' | tail -n1
}
zk_ids_are() { [ "$(zk_ids)" = "$1" ]; }
# net_client runs the broker image's gregor inside the compose network.
net_client() {
  docker run --rm -i --label "$CLIENT_LABEL" --network "$NET" --entrypoint /usr/local/bin/gregor "$BROKER_IMAGE" "$@"
}
# full_isr TOPIC BOOTSTRAP (host or net): every partition has 3 replicas, all in the ISR.
full_isr_out() {
  awk '/Partition:/ {
      for (i = 1; i <= NF; i++) { if ($i == "Replicas:") r = $(i + 1); if ($i == "Isr:") s = $(i + 1) }
      n++; split(r, a, ","); split(s, b, ",")
      if (length(a) != 3 || length(b) != 3) bad++
    } END { exit !(n > 0 && bad == 0) }'
}
full_isr_host() { "$G" topics describe --bootstrap-server "$HOST_BOOTSTRAP" --topic "$1" | full_isr_out; }
isr_without() { # TOPIC ID: no partition lists broker ID in its ISR, and every partition has a leader
  "$G" topics describe --bootstrap-server "$HOST_BOOTSTRAP" --topic "$1" | awk -v id="$2" '/Partition:/ {
      for (i = 1; i <= NF; i++) { if ($i == "Isr:") s = $(i + 1); if ($i == "Leader:") l = $(i + 1) }
      n++; k = split(s, b, ","); for (j = 1; j <= k; j++) if (b[j] == id) bad++
      if (l == "none") bad++
    } END { exit !(n > 0 && bad == 0) }'
}
# consume_host / consume_net TOPIC: every record of the topic from the beginning to the end of
# each partition (every partition has records here), one per line.
consume_host() { timeout 90 "$G" consume -b "$HOST_BOOTSTRAP" -t "$1" -o beginning -e; }
consume_net() { timeout 90 docker run --rm --label "$CLIENT_LABEL" --network "$NET" --entrypoint /usr/local/bin/gregor "$BROKER_IMAGE" consume -b broker1:19092 -t "$1" -o beginning -e; }
# expect_records TOPIC FROM TO WHERE(host|net): the topic holds exactly the records FROM..TO.
# A producer without idempotence may write a batch twice when it retries across a failover
# (at-least-once, as with Kafka): duplicates are reported, a missing or unknown record fails.
expect_records() {
  local all want got dups
  all="$("consume_$4" "$1")" || die "consuming $1 from the $4 failed"
  want="$(seq "$2" "$3")"
  got="$(echo "$all" | sort -nu)"
  [ "$got" = "$want" ] || die "$1 read from the $4 is not the records $2..$3: $(comm -3 <(echo "$want" | sort) <(echo "$got" | sort) | head -5 | tr '\n' ' ')"
  dups=$(( $(echo "$all" | wc -l) - $(echo "$got" | wc -l) ))
  echo "$1: records $2..$3 read back from the $4 (${dups} duplicates from producer retries)"
}

# create_topic WHERE(host|net) TOPIC: 3 partitions, RF 3. `gregor topics create` asks the broker to
# wait 2 s (kafka-go's default CreateTopics timeout) for the new partitions' leaders to reach its
# metadata cache, and answers REQUEST_TIMED_OUT after that although the topic is created, as
# Kafka would; on a loaded machine that happens. The topic must then be there: the wait for its
# in-sync replicas that follows every create decides.
create_topic() {
  local where="$1" topic="$2" start=$SECONDS
  if [ "$where" = host ]; then
    "$G" topics create --bootstrap-server "$HOST_BOOTSTRAP" --topic "$topic" --partitions 3 --replication-factor 3 ||
      echo "(create answered an error; the topic must exist all the same)"
  else
    net_client topics create --bootstrap-server broker1:19092 --topic "$topic" --partitions 3 --replication-factor 3 ||
      echo "(create answered an error; the topic must exist all the same)"
  fi
  wait_for "$topic to have 3 in-sync replicas per partition" 60 full_isr_host "$topic"
  echo "$topic: 3 partitions × 3 in-sync replicas after $((SECONDS - start)) s"
}

say "$COMPOSE up -d"
dc up -d --no-build >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "compose up failed"; }
wait_for "ZooKeeper serving and three healthy brokers (docker health checks)" 180 all_healthy
echo "health: zookeeper $(health zookeeper), broker1 $(health broker1), broker2 $(health broker2), broker3 $(health broker3)"

say "ZooKeeper: zkCli.sh ls /kafka/brokers/ids"
wait_for "zkCli.sh to list [1, 2, 3]" 60 zk_ids_are "[1, 2, 3]"
echo "zkCli.sh: /kafka/brokers/ids = $(zk_ids)"

say "from the host: $HOST_BOOTSTRAP"
kcat -b "$HOST_BOOTSTRAP" -L -m 10 >"$WORK/kcat-L" 2>&1 || { cat "$WORK/kcat-L" >&2; die "kcat -L failed"; }
grep -q '^ 3 brokers:' "$WORK/kcat-L" || { cat "$WORK/kcat-L" >&2; die "kcat does not see 3 brokers"; }
for i in 1 2 3; do
  grep -q "^  broker $i at localhost:909$((i + 1))" "$WORK/kcat-L" || { cat "$WORK/kcat-L" >&2; die "broker $i is not advertised as localhost:909$((i + 1))"; }
done
grep '^ 3 brokers:' -A3 "$WORK/kcat-L"
create_topic host host-rf3
"$G" topics describe --bootstrap-server "$HOST_BOOTSTRAP" --topic host-rf3
seq 1 300 | "$G" produce -b "$HOST_BOOTSTRAP" -t host-rf3 --acks -1
expect_records host-rf3 1 300 host

say "inside the compose network: broker1:19092 (a client container of $BROKER_IMAGE)"
net_client healthcheck --bootstrap-server broker1:19092 | tee "$WORK/net-health"
grep -q '3 live broker(s)' "$WORK/net-health" || die "broker1:19092 does not see 3 live brokers"
create_topic net net-rf3
net_client topics describe --bootstrap-server broker1:19092 --topic net-rf3 | tee "$WORK/net-describe"
full_isr_out <"$WORK/net-describe" || die "net-rf3 described from the network has not 3 replicas in sync"
seq 1 300 | net_client produce -b broker1:19092 -t net-rf3 --acks -1
expect_records net-rf3 1 300 net
expect_records net-rf3 1 300 host

say "the cluster page and /metrics on each broker's HTTP port"
for port in 9404 9405 9406; do
  curl -fsS "http://localhost:$port/metrics" >"$WORK/metrics-$port" || die "no /metrics on :$port"
  grep -q '^kafka_server_replicamanager_partitioncount ' "$WORK/metrics-$port" || die ":$port/metrics has no kafka_server_replicamanager_partitioncount"
  curl -fsS "http://localhost:$port/" >"$WORK/page-$port" || die "no cluster page on :$port"
  grep -q '<title>Gregor cluster</title>' "$WORK/page-$port" || die ":$port/ is not the cluster page"
  curl -fsS "http://localhost:$port/api/cluster" >"$WORK/api-$port" || die "no /api/cluster on :$port"
  grep -q '"brokers":\[{"id":1,' "$WORK/api-$port" || die ":$port/api/cluster does not list broker 1"
done
echo "/metrics and the cluster page answer on 9404, 9405, 9406"

say "graceful stop: SIGTERM to broker3 (docker stop, grace period 30 s)"
stop_start=$SECONDS
dc stop broker3 >/dev/null 2>&1
stop_secs=$((SECONDS - stop_start))
code="$(docker inspect -f '{{.State.ExitCode}}' "$(cid broker3)")"
[ "$code" = 0 ] || die "broker3 exited $code on SIGTERM (137 = killed at the stop timeout)"
docker logs "$(cid broker3)" 2>&1 | grep -q 'shut down cleanly' || die "broker3's log has no clean shutdown"
echo "broker3 exited 0 on SIGTERM after ${stop_secs} s (grace period 30 s) and logged a clean shutdown"
dc up -d --no-build >/dev/null 2>&1
wait_for "broker3 healthy again" 120 is_healthy broker3

say "docker kill broker2: the cluster keeps serving"
wait_for "host-rf3 back to 3 in-sync replicas" 90 full_isr_host host-rf3
# What broker2 has of partition 0 now, to compare after its restart: the same file, its bytes
# unchanged (a replica that lost its volume would fetch everything again into a new file).
seg=/var/lib/gregor/host-rf3-0/00000000000000000000.log
vol_cmd() { docker run --rm --label "$CLIENT_LABEL" -v "${PROJECT}_broker2-data:/var/lib/gregor:ro" --entrypoint /bin/sh "$ZK_IMAGE" -c "$1"; }
before_size="$(vol_cmd "stat -c %s $seg")" # read while broker2 runs: a follower that has everything
docker kill "$(cid broker2)" >/dev/null
before_sum="$(vol_cmd "head -c $before_size $seg | sha256sum")"
before_ino="$(vol_cmd "stat -c %i $seg")"
wait_for "ZooKeeper to drop broker 2 ([1, 3])" 90 zk_ids_are "[1, 3]"
wait_for "leaders and ISRs of host-rf3 without broker 2" 90 isr_without host-rf3 2
seq 301 600 | "$G" produce -b "$HOST_BOOTSTRAP" -t host-rf3 --acks -1
seq 301 600 | net_client produce -b broker1:19092 -t net-rf3 --acks -1
expect_records host-rf3 1 600 host
expect_records net-rf3 1 600 net

say "$COMPOSE up -d: broker2 rejoins with its data"
dc up -d --no-build >/dev/null 2>&1
wait_for "broker2 healthy again" 120 is_healthy broker2
wait_for "zkCli.sh to list [1, 2, 3] again" 60 zk_ids_are "[1, 2, 3]"
wait_for "host-rf3 back to 3 in-sync replicas" 90 full_isr_host host-rf3
wait_for "net-rf3 back to 3 in-sync replicas" 90 full_isr_host net-rf3
after_ino="$(vol_cmd "stat -c %i $seg")"
after_sum="$(vol_cmd "head -c $before_size $seg | sha256sum")"
[ "$after_ino" = "$before_ino" ] || die "broker2's $seg is a new file after the restart (volume lost?)"
[ "$after_sum" = "$before_sum" ] || die "broker2's first $before_size bytes of $seg changed across the kill"
echo "broker2 kept $seg (same file, first $before_size bytes unchanged) and is back in every ISR"

say "$COMPOSE down, then up: every topic and record is still there"
dc down >/dev/null 2>&1
[ -z "$(dc ps -q)" ] || die "containers left after down"
dc up -d --no-build >/dev/null 2>&1
wait_for "three healthy brokers after down/up" 180 all_healthy
wait_for "zkCli.sh to list [1, 2, 3] after down/up" 60 zk_ids_are "[1, 2, 3]"
"$G" topics list --bootstrap-server "$HOST_BOOTSTRAP" | tee "$WORK/topics"
grep -qx host-rf3 "$WORK/topics" && grep -qx net-rf3 "$WORK/topics" || die "topics lost across down/up"
wait_for "host-rf3 with 3 in-sync replicas after down/up" 90 full_isr_host host-rf3
expect_records host-rf3 1 600 host
expect_records net-rf3 1 600 net
