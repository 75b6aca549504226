// Package testport hands out loopback ports for the test harnesses' listeners (ZooKeeper,
// brokers, metrics). It owns only the choice of a port; it starts nothing.
//
// A port is drawn at random below the kernel's ephemeral range (net.ipv4.ip_local_port_range),
// is free when handed out, and is never handed out twice by one process. Below the ephemeral
// range, neither a client's connect nor another process's bind to port 0 can take it between
// this call and the server's own bind; the kernel's bind(0), which the harnesses used before,
// can return a port it has just freed, and once gave two brokers of one cluster the same port.
//
// Test processes running side by side (go test runs packages in parallel; a developer's test
// beside CI) reserve their ports from each other: a port is handed out only with an exclusive
// flock on its file in os.TempDir()/gregor-testport, held until the process exits (the kernel
// drops it then, however the process ends). Without it two processes could both find a port
// free before either's server bound it — a ZooKeeper takes a second to bind — and a test's
// harness then talked to the other process's server.
package testport

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	mu    sync.Mutex
	given = map[int]bool{}
	held  []*os.File // the reservations' lock files, open (and locked) for the process's life
	rng   = rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(os.Getpid())<<20))
)

// Free returns a port on host that is free now and was not handed out before in this process.
func Free(t testing.TB, host string) int {
	t.Helper()
	p, err := free(host)
	if err != nil {
		t.Fatalf("testport: %v", err)
	}
	return p
}

func free(host string) (int, error) {
	mu.Lock()
	defer mu.Unlock()
	lo, hi := pool()
	for range 1000 {
		p := lo + rng.Intn(hi-lo)
		if given[p] {
			continue
		}
		f, err := reserve(p)
		if err != nil {
			return 0, err
		}
		if f == nil {
			continue // another test process holds it
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			f.Close() // in use by something else; let it go
			continue
		}
		l.Close()
		given[p] = true
		held = append(held, f)
		return p, nil
	}
	return 0, fmt.Errorf("no free port on %s in %d-%d after 1000 tries", host, lo, hi)
}

// pool is [lo, hi): the 10000 ports below the ephemeral range, or 20000-30000 when the range
// cannot be read or leaves no room.
func pool() (int, int) {
	lo, hi := 20000, 30000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first, last int
		if n, _ := fmt.Sscan(string(b), &first, &last); n == 2 && first-10000 >= 1024 {
			lo, hi = first-10000, first
		}
	}
	return lo, hi
}

// reserve takes the cross-process reservation of port p: its lock file, flocked exclusively.
// It returns nil, nil if another process holds it.
func reserve(p int) (*os.File, error) {
	dir := filepath.Join(os.TempDir(), "gregor-testport")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("testport: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("testport: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, nil
		}
		return nil, fmt.Errorf("testport: lock %s: %w", f.Name(), err)
	}
	return f, nil
}
