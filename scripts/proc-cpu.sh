#!/usr/bin/env bash
# Sourced by the benchmark scripts. cpu PID: the process's CPU seconds so far — the sum of its
# threads' run time from /proc/PID/task/*/schedstat (nanoseconds; a Go process keeps its
# threads), else utime + stime from /proc/PID/stat (clock ticks, 10 ms: too coarse for a 50 ms
# run, hence schedstat first).
cpu() {
  if [ -r "/proc/$1/schedstat" ]; then
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 } END { printf "%.4f", ns / 1e9 }'
  else
    awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"
  fi
}
