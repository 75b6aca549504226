#!/usr/bin/env bash
# Sourced by the benchmark scripts: the page cache a server writes into during a benchmark.
#
# A broker's writes land in the page cache. On a long-running host that cache is full, and a
# write reuses a page the kernel just reclaimed. On a fresh VM most memory has never been touched,
# and some hypervisors (Firecracker's free page reporting, seen on these machines) take freed guest
# memory back within seconds, so nearly every write faults in a page from the host. `dd` into a
# new file measured 2.9 GB/s into reused pages and 330 MB/s into pages from the host. A
# benchmark that writes hundreds of MB then measures the host, and it punishes a workload that
# writes each byte three times (RF 3) with three times the host's cost.
#
# PAGECACHE selects which of the two a benchmark measures:
#   steady (default where it can be had): each server runs in a memory cgroup of its own,
#          limited to PAGECACHE_LIMIT (default 1G), whose page cache is filled with a file in
#          the server's data directory before the workloads. The server's writes then evict and
#          reuse that memory, as on a broker host whose cache is full. Needs root and the memory
#          controller (cgroup v1 or v2).
#   fresh: no cgroup; writes take whatever pages the machine gives them.
#
#   pagecache_init                 picks the mode; prints nothing
#   pagecache_mode                 "steady (1G memory cgroup per server, cache filled first)" or "fresh ..."
#   pagecache_confine NAME PID DIR moves PID into its own cgroup and fills the cgroup's cache with
#                                  a file in DIR (kept there until the server's data goes)
#   pagecache_cleanup              removes the cgroups (their processes must have exited)

PAGECACHE="${PAGECACHE:-}"
PAGECACHE_LIMIT="${PAGECACHE_LIMIT:-1G}"
PAGECACHE_ROOT=
PAGECACHE_GROUPS=()

pagecache_init() {
  local want="$PAGECACHE"
  PAGECACHE=fresh
  [ "$want" = fresh ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
      PAGECACHE_ROOT=/sys/fs/cgroup
      grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
        echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || PAGECACHE_ROOT=
    elif [ -d /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/memory ]; then
      PAGECACHE_ROOT=/sys/fs/cgroup/memory
    fi
  fi
  if [ -n "$PAGECACHE_ROOT" ]; then
    PAGECACHE=steady
  elif [ "$want" = steady ]; then
    echo "PAGECACHE=steady needs root and a writable memory cgroup controller" >&2
    return 1
  fi
}

pagecache_mode() {
  if [ "$PAGECACHE" = steady ]; then
    echo "steady (each server in a ${PAGECACHE_LIMIT} memory cgroup, its page cache filled first)"
  else
    echo "fresh (no cgroup: writes take new pages, from the host on a fresh VM)"
  fi
}

pagecache_confine() {
  local name=$1 pid=$2 dir=$3 cg limit_file
  [ "$PAGECACHE" = steady ] || return 0
  cg="$PAGECACHE_ROOT/gregor-bench-$$-$name"
  mkdir "$cg"
  PAGECACHE_GROUPS+=("$cg")
  if [ -f "$cg/memory.max" ]; then limit_file="$cg/memory.max"; else limit_file="$cg/memory.limit_in_bytes"; fi
  echo "$PAGECACHE_LIMIT" >"$limit_file"
  echo "$pid" >"$cg/cgroup.procs"
  # The fill runs in the same cgroup: it writes the limit's worth, so the cgroup ends full of
  # this file's pages (the kernel reclaims the oldest as it goes), clean once synced.
  sh -c 'echo $$ >"$1/cgroup.procs" && exec dd if=/dev/zero of="$2/.pagecache-fill" bs=1M count="$3" status=none' \
    sh "$cg" "$dir" "$(numfmt --from=iec "$PAGECACHE_LIMIT" | awk '{ print int($1 / 1048576) }')"
  sync "$dir/.pagecache-fill"
}

pagecache_cleanup() {
  local cg
  for cg in "${PAGECACHE_GROUPS[@]}"; do
    rmdir "$cg" 2>/dev/null || true
  done
  PAGECACHE_GROUPS=()
}
