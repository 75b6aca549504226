package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

type stateZnode struct {
	ControllerEpoch int     `json:"controller_epoch"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int     `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
}

func readState(t *testing.T, conn *zk.Conn, topic string, p int) stateZnode {
	t.Helper()
	data, _, err := conn.Get(fmt.Sprintf("/kafka/brokers/topics/%s/partitions/%d/state", topic, p))
	if err != nil {
		t.Fatal(err)
	}
	var s stateZnode
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitState watches a partition's state znode until cond holds.
func waitState(t *testing.T, conn *zk.Conn, topic string, p int, what string, cond func(stateZnode) bool) stateZnode {
	t.Helper()
	deadline := time.After(60 * time.Second)
	path := fmt.Sprintf("/kafka/brokers/topics/%s/partitions/%d/state", topic, p)
	for {
		data, _, ev, err := conn.GetW(path)
		if err != nil {
			t.Fatal(err)
		}
		var s stateZnode
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		if cond(s) {
			return s
		}
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("%s: state %s is %+v", what, path, s)
		}
	}
}

// TestControllerFailover: in a 3-broker cluster, SIGKILL the controller. Another broker wins the
// election with a higher epoch; the dead broker's partition goes offline the way Kafka shows it
// (leader -1, leader epoch + 1, ISR kept, never emptied); the other partitions keep serving.
// Restarting the dead broker brings its partition back with the next leader epoch and its data:
// every record acknowledged before, during and after the crash is read back (internal/checker).
func TestControllerFailover(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, "fo", 3, nil)
	conn := c.ZKConn()
	data, _, err := conn.Get("/kafka/controller")
	if err != nil {
		t.Fatal(err)
	}
	var ctl struct {
		BrokerID int32 `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &ctl); err != nil {
		t.Fatal(err)
	}
	epochBefore := controllerEpoch(t, conn)
	victim := ctl.BrokerID
	victimPart := -1
	for p := 0; p < 3; p++ {
		if readState(t, conn, "fo", p).Leader == victim {
			victimPart = p
		}
	}
	if victimPart < 0 {
		t.Fatalf("controller %d leads no partition of a 3-partition topic on 3 brokers", victim)
	}
	// Records in every partition before the crash.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.DefaultProduceTopic("fo"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Every acknowledged write goes into the checker, which reads all of them back at the end.
	h := checker.New(checker.Options{Idempotent: true})
	produce := func(p int32, value string) error {
		res := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("%s-p%d", value, p))})
		if err := res.FirstErr(); err != nil {
			return err
		}
		h.Acked(checker.FromKgo(res[0].Record))
		return nil
	}
	for p := int32(0); p < 3; p++ {
		if err := produce(p, "before"); err != nil {
			t.Fatal(err)
		}
	}

	c.Kill(victim)
	// The session timeout (6 s) ends the dead controller's ephemeral znodes; another broker wins.
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, _, ev, err := conn.GetW("/kafka/controller")
		if err == nil {
			var now struct {
				BrokerID int32 `json:"brokerid"`
			}
			if json.Unmarshal(data, &now) == nil && now.BrokerID != victim {
				break
			}
		} else if err != zk.ErrNoNode {
			t.Fatal(err)
		} else {
			var exists bool
			exists, _, ev, err = conn.ExistsW("/kafka/controller")
			if err != nil {
				t.Fatal(err)
			}
			if exists {
				continue // elected between the two calls: its watch would wait for a change
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no new controller within 60s")
		}
		select {
		case <-ev:
		case <-time.After(time.Until(deadline)):
		}
	}
	if e := controllerEpoch(t, conn); e <= epochBefore {
		t.Fatalf("controller epoch %d after failover, was %d", e, epochBefore)
	}
	off := waitState(t, conn, "fo", victimPart, "offline partition", func(s stateZnode) bool { return s.Leader == -1 })
	if off.LeaderEpoch != 1 || len(off.ISR) != 1 || off.ISR[0] != victim {
		t.Fatalf("offline partition state %+v, want leader -1, leader_epoch 1, isr [%d]", off, victim)
	}
	// The surviving partitions keep taking writes.
	for p := int32(0); p < 3; p++ {
		if int(p) == victimPart {
			continue
		}
		if err := produce(p, "during"); err != nil {
			t.Fatalf("partition %d while broker %d is down: %v", p, victim, err)
		}
	}

	c.StartBroker(victim)
	c.WaitRegistered(victim, 60*time.Second)
	back := waitState(t, conn, "fo", victimPart, "partition back online", func(s stateZnode) bool { return s.Leader == victim })
	if back.LeaderEpoch != 2 {
		t.Fatalf("restored partition state %+v, want leader_epoch 2", back)
	}
	if err := produce(int32(victimPart), "after"); err != nil {
		t.Fatalf("partition %d after its broker returned: %v", victimPart, err)
	}
	// Nothing lost across the crash: every acknowledged record, the ones written before it
	// included, read back from the log start, once each, in order, intact.
	read, err := checker.ReadBack(ctx, c.Bootstrap(), h, "fo")
	if err != nil {
		t.Fatal(err)
	}
	if rep := h.Check(read); rep.Err() != nil {
		t.Fatal(rep.Err())
	} else if rep.Acked != 6 || rep.Read != 6 {
		t.Fatalf("%d acked, %d read back, want 6 and 6", rep.Acked, rep.Read)
	}
}
