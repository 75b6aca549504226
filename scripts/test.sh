#!/usr/bin/env bash
# The project's test command (README, .ci/run). On a fresh Debian machine it installs what the tests
# need (ZooKeeper and kcat from Debian's packages), then: gofmt, go vet, go test -race, and a short run
# of every fuzz target. Any failing step fails the run; a missing dependency is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-3s}"
step() { printf '\n=== %s\n' "$*"; }

need_pkgs=()
[ -f /usr/share/java/zookeeper.jar ] || need_pkgs+=(zookeeper)
command -v kcat >/dev/null 2>&1 || need_pkgs+=(kcat)
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
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cluster/*'))"
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" >&2; echo "$unformatted" >&2; exit 1
fi

step "go vet"
go vet ./...

step "go test -race"
go test -race -count=1 -timeout 25m ./...

step "fuzz targets (${FUZZTIME} each)"
# Every FuzzXxx in a _test.go file runs briefly on top of its committed seed corpus.
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "--- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done

step "all checks passed"
