package zktest

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func connect(t *testing.T, s *Server) *zk.Conn {
	c, ev, err := zk.Connect([]string{s.Addr()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	for e := range ev {
		if e.State == zk.StateHasSession {
			break
		}
	}
	return c
}

func TestServerKeepsDataAcrossRestart(t *testing.T) {
	s := Start(t)
	c := connect(t, s)
	if _, err := c.Create("/probe", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Restart(t)
	c = connect(t, s)
	defer c.Close()
	data, _, err := c.Get("/probe")
	if err != nil || string(data) != "x" {
		t.Fatalf("after restart: %q %v", data, err)
	}
}
