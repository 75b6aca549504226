package zkmeta

import (
	"errors"
	"testing"

	"github.com/gregor-broker/gregor/internal/zktest"
)

// TestLogDirEventsOnRealZooKeeper: a broker's notification has Kafka's name and payload, the
// watch fires on it, and only the current controller's epoch deletes it.
func TestLogDirEventsOnRealZooKeeper(t *testing.T) {
	s := zktest.Start(t)
	c := connect(t, s)
	if err := c.EnsurePaths(); err != nil {
		t.Fatal(err)
	}
	names, ev, err := c.WatchLogDirEvents()
	if err != nil || len(names) != 0 {
		t.Fatalf("initial notifications %v, %v", names, err)
	}
	name, err := c.CreateLogDirEvent(3)
	if err != nil {
		t.Fatal(err)
	}
	if name != "log_dir_event_0000000000" {
		t.Fatalf("notification named %q, want Kafka's log_dir_event_0000000000", name)
	}
	<-ev // the child watch fires for the new notification
	data, _, err := c.Conn().Get("/kafka/log_dir_event_notification/" + name)
	if err != nil || string(data) != `{"version":1,"broker":3,"event":1}` {
		t.Fatalf("payload %s, %v", data, err)
	}
	second, _ := c.CreateLogDirEvent(1)
	names, _, err = c.WatchLogDirEvents()
	if err != nil || len(names) != 2 || names[0] != name || names[1] != second {
		t.Fatalf("notifications %v, %v", names, err)
	}
	if id, err := c.GetLogDirEvent(second); err != nil || id != 1 {
		t.Fatalf("broker of %s: %d, %v", second, id, err)
	}
	_, zkVersion, err := c.Elect(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteLogDirEvents(names, &Fence{zkVersion + 1}); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("delete with a stale epoch: %v", err)
	}
	if err := c.DeleteLogDirEvents(append(names, "log_dir_event_0000000099"), &Fence{zkVersion}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if names, _, _ := c.WatchLogDirEvents(); len(names) != 0 {
		t.Fatalf("left after delete: %v", names)
	}
}

func FuzzDecodeLogDirEvent(f *testing.F) {
	f.Add(EncodeLogDirEvent(1))
	f.Add([]byte(`{"version":1,"broker":2147483647,"event":1}`))
	f.Add([]byte(`{"version":2,"broker":-1,"event":9}`))
	f.Add([]byte(`{"broker":"1"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := DecodeLogDirEvent(b)
		if err != nil {
			return
		}
		if id < 0 {
			t.Fatalf("decoded a negative broker id %d from %q", id, b)
		}
		if back, err := DecodeLogDirEvent(EncodeLogDirEvent(id)); err != nil || back != id {
			t.Fatalf("re-encode of broker %d: %d, %v", id, back, err)
		}
	})
}
