package zktest

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// connect opens a session, waiting for it with a deadline.
func connect(t *testing.T, s *Server) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{s.Addr()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e, ok := <-ev:
			if !ok {
				t.Fatal("zk event channel closed before a session was established")
			}
			if e.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			c.Close()
			t.Fatalf("no ZooKeeper session on %s within 60s", s.Addr())
		}
	}
}

func (s *Server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

func TestServerKeepsDataAcrossRestart(t *testing.T) {
	s := Start(t)
	c := connect(t, s)
	if _, err := c.Create("/probe", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	before, oldDone := s.pid(), s.done
	s.Restart(t)
	select {
	case <-oldDone:
	default:
		t.Fatal("Restart returned while the old server process is still running")
	}
	if s.pid() == before {
		t.Fatal("Restart did not start a new server process")
	}
	c = connect(t, s)
	defer c.Close()
	data, _, err := c.Get("/probe")
	if err != nil || string(data) != "x" {
		t.Fatalf("after restart: %q %v", data, err)
	}
}
