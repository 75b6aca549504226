package testcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder is a testing.TB whose Errorf is captured instead of failing the test, so the
// harness's own verdicts can be asserted. Everything else goes to the real test.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errs
	r.errs = nil
	return e
}

// TestBrokerFailuresFailTheTest: one real broker, put through each way a broker process can
// end. The test's own SIGKILL and a clean SIGTERM pass; a crash the test did not cause, and a
// panic or data race in the log even when the exit itself is clean, are reported.
func TestBrokerFailuresFailTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	c := Start(rec, Options{Brokers: 1})
	expect := func(step, want string) {
		t.Helper()
		errs := rec.take()
		if want == "" && len(errs) > 0 {
			t.Fatalf("%s: harness reported %q", step, errs)
		}
		if want != "" && (len(errs) != 1 || !strings.Contains(errs[0], want)) {
			t.Fatalf("%s: harness reported %q, want one report containing %q", step, errs, want)
		}
	}
	restart := func() {
		t.Helper()
		c.StartBroker(1)
		c.WaitRegistered(1, 60*time.Second)
	}
	appendLog := func(line string) {
		t.Helper()
		f, err := os.OpenFile(c.Broker(1).LogFile, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}

	c.Kill(1)
	expect("SIGKILL sent by the test", "")
	restart()
	c.Stop(1)
	expect("clean SIGTERM", "")

	restart()
	pid := c.PID(1)
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil { // a crash nobody asked for
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !c.Exited(1) {
		if time.Now().After(deadline) {
			t.Fatal("broker still running 60s after SIGQUIT")
		}
		time.Sleep(20 * time.Millisecond) // polling the process state, with a deadline
	}
	c.Stop(1) // waits for the verdict
	expect("crash the test did not cause", "exited on its own")

	for _, line := range []string{
		"panic: runtime error: index out of range [3] with length 3",
		"fatal error: concurrent map writes",
		"WARNING: DATA RACE",
		`time=2026-01-01T00:00:00Z level=error msg="handler panic on Fetch v11: boom"`,
	} {
		restart()
		appendLog(line)
		c.Stop(1)
		expect("log line "+line, "logged a crash or data race")
	}

	// A report from an earlier run is not reported again by the next.
	restart()
	c.Kill(1)
	expect("a later run of the same log file", "")
}

// TestScanLogUpstreamRace: a race report whose accesses are all go-zookeeper's own (the
// reconnect race on Conn.lastZxid, as a CI run logged it) is counted apart, not reported; one
// with any access in another package is reported, and so is a report cut short.
func TestScanLogUpstreamRace(t *testing.T) {
	zkRace := `WARNING: DATA RACE
Write at 0x00c000158480 by goroutine 246:
  github.com/go-zookeeper/zk.(*Conn).recvLoop()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:849 +0x68c
  github.com/go-zookeeper/zk.(*Conn).loop.func2()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:474 +0x1c4

Previous read at 0x00c000158480 by goroutine 19:
  github.com/go-zookeeper/zk.(*Conn).sendSetWatches()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:614 +0x49d

Goroutine 246 (running) created at:
  github.com/go-zookeeper/zk.(*Conn).loop()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:466 +0x53e

Goroutine 19 (running) created at:
  github.com/gregor-broker/gregor/zkmeta.dial()
      /work/zkmeta/client.go:98 +0x227
==================
`
	ourRace := strings.Replace(zkRace, "  github.com/go-zookeeper/zk.(*Conn).sendSetWatches()",
		"  github.com/gregor-broker/gregor/zkmeta.(*Client).Get()", 1)
	cut := zkRace[:strings.Index(zkRace, "Goroutine 246")]
	for _, tc := range []struct {
		name     string
		log      string
		upstream int
		reported bool
	}{
		{"go-zookeeper alone", "time=x level=info msg=a\n" + zkRace, 1, false},
		{"one access of ours", ourRace, 0, true},
		{"both", zkRace + ourRace, 1, true},
		{"report cut short", cut, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "broker.log")
			if err := os.WriteFile(file, []byte(tc.log), 0o644); err != nil {
				t.Fatal(err)
			}
			found, upstream := scanLog(file, 0)
			if upstream != tc.upstream || (found != "") != tc.reported {
				t.Fatalf("upstream %d (want %d), reported %q (want reported %v)", upstream, tc.upstream, found, tc.reported)
			}
		})
	}
}
