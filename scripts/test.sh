#!/usr/bin/env bash
# The project's test command (README, .ci/run). On a fresh Debian machine it installs what the tests
# need (ZooKeeper, kcat and Chromium from Debian's packages), then: gofmt, go vet, go test -race, a
# short run of every fuzz target, and docker-compose.yml on the Docker engine (scripts/compose-test.sh).
# Any failing step fails the run; a missing dependency is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

# Count budgets, not durations: Go 1.26's fuzz coordinator can fail a duration -fuzztime at its
# deadline with no failing input (golang/go#75804). A real failing input still fails the run.
FUZZTIME="${FUZZTIME:-20000x}"
# Minimizing a new input is time-bounded by default (60 s); bound it by count as well.
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-500x}"
step() { printf '\n=== %s\n' "$*"; }

need_pkgs=()
[ -f /usr/share/java/zookeeper.jar ] || need_pkgs+=(zookeeper)
command -v kcat >/dev/null 2>&1 || need_pkgs+=(kcat)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
# The cluster page's test drives headless Chromium (internal/e2e/clusterpage_test.go).
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  step "installing ${need_pkgs[*]}"
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${need_pkgs[*]}: run as root on Debian/Ubuntu, or: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${need_pkgs[@]}"
fi
command -v java >/dev/null 2>&1 || { echo "java not found (the zookeeper package should have pulled it in)" >&2; exit 1; }
command -v go >/dev/null 2>&1 || { echo "go not found: install Go 1.26+ (https://go.dev/dl/)" >&2; exit 1; }

step "gofmt"
# Every .go file in the tree, tracked or not (a new file not yet added is checked too); hidden
# directories (.git, .cluster, caches) are pruned. A file gofmt cannot parse fails the step.
go_files() { find . -type d -name '.?*' -prune -o -type f -name '*.go' -print0; }
unformatted="$(go_files | xargs -0 gofmt -l)"
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" >&2; echo "$unformatted" >&2; exit 1
fi

step "go vet"
go vet ./...

step "go test -race"
# The end-to-end package alone takes about 19 minutes on 2 cores under -race; the timeout only
# catches a hang, and leaves the whole run under 40 minutes.
go test -race -count=1 -timeout 30m ./...

step "fuzz targets (${FUZZTIME} each)"
# Every FuzzXxx in a _test.go file runs briefly on top of its committed seed corpus.
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "--- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg"
  done
done

step "docker-compose.yml on the Docker engine (scripts/compose-test.sh)"
# Installs docker.io, docker-compose and debootstrap itself when missing.
scripts/compose-test.sh

step "all checks passed"
