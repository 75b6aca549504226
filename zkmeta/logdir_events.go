package zkmeta

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/go-zookeeper/zk"
)

// Log-dir failure notifications (zk-layout.md §1.14, §3.14): a broker whose log directory fails
// creates /log_dir_event_notification/log_dir_event_<10 digits> (persistent sequential); the
// controller, watching the children, asks that broker which of its replicas are offline and
// deletes the notifications it processed.
const (
	logDirEventsPath  = "/log_dir_event_notification"
	logDirEventPrefix = "log_dir_event_"
	// LogDirFailureEvent is the only event Kafka defines.
	LogDirFailureEvent = 1
)

// EncodeLogDirEvent is Kafka's payload, {"version":1,"broker":<id>,"event":1}, keys in that order.
func EncodeLogDirEvent(broker int32) []byte {
	o := newObj()
	o.num("version", 1)
	o.num("broker", int64(broker))
	o.num("event", LogDirFailureEvent)
	return o.bytes()
}

// DecodeLogDirEvent reads a notification's broker id. As Kafka's controller, it needs only
// "broker"; an unknown version or event is still a notification about that broker.
func DecodeLogDirEvent(data []byte) (int32, error) {
	var raw struct {
		Broker *int32 `json:"broker"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return -1, fmt.Errorf("%s notification: %w", logDirEventsPath, err)
	}
	if raw.Broker == nil || *raw.Broker < 0 {
		return -1, fmt.Errorf("%s notification: no broker id in %q", logDirEventsPath, data)
	}
	return *raw.Broker, nil
}

// CreateLogDirEvent writes this broker's log-dir failure notification and returns its name.
func (c *Client) CreateLogDirEvent(broker int32) (string, error) {
	p, err := c.conn.Create(c.p(logDirEventsPath+"/"+logDirEventPrefix), EncodeLogDirEvent(broker), zk.FlagSequence, openACL)
	if err != nil {
		return "", wrap("create", logDirEventsPath+"/"+logDirEventPrefix, err)
	}
	return p[len(c.p(logDirEventsPath))+1:], nil
}

// WatchLogDirEvents lists the notifications, oldest first, with a child watch.
func (c *Client) WatchLogDirEvents() ([]string, <-chan zk.Event, error) {
	names, _, ev, err := c.conn.ChildrenW(c.p(logDirEventsPath))
	if err != nil {
		return nil, nil, wrap("ls", logDirEventsPath, err)
	}
	sort.Strings(names) // the 10-digit sequence orders them
	return names, ev, nil
}

// GetLogDirEvent reads one notification's broker id.
func (c *Client) GetLogDirEvent(name string) (int32, error) {
	p := logDirEventsPath + "/" + name
	data, _, err := c.conn.Get(c.p(p))
	if err != nil {
		return -1, wrap("get", p, err)
	}
	id, err := DecodeLogDirEvent(data)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", p, err)
	}
	return id, nil
}

// DeleteLogDirEvents removes processed notifications, each fenced by the controller epoch; one
// already gone is not an error.
func (c *Client) DeleteLogDirEvents(names []string, f *Fence) error {
	for _, n := range names {
		p := logDirEventsPath + "/" + n
		_, err := c.multi(f, &zk.DeleteRequest{Path: c.p(p), Version: -1})
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			if errors.Is(err, ErrControllerMoved) {
				return err
			}
			return wrap("delete", p, err)
		}
	}
	return nil
}
