package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// assignmentOf reads /brokers/topics/<topic>'s partition → replicas map.
func assignmentOf(t *testing.T, conn *zk.Conn, topic string) map[int32][]int32 {
	t.Helper()
	data, _, err := conn.Get(testcluster.Chroot + "/brokers/topics/" + topic)
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Partitions map[string][]int32 `json:"partitions"`
	}
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	out := map[int32][]int32{}
	for k, v := range a.Partitions {
		var p int32
		fmt.Sscan(k, &p)
		out[p] = v
	}
	return out
}

// displaced kills broker 1, waits until its leaderships moved, brings it back in sync, and
// returns the partitions whose preferred replica (broker 1) no longer leads them.
func displaced(t *testing.T, c *testcluster.Cluster, conn *zk.Conn, topic string, parts int32) []int32 {
	t.Helper()
	a := assignmentOf(t, conn, topic)
	c.Kill(1)
	for p := int32(0); p < parts; p++ {
		waitPartition(t, conn, topic, p, 60*time.Second, "leader off broker 1", func(s partitionState) bool {
			return s.Leader >= 0 && s.Leader != 1
		})
	}
	c.StartBroker(1)
	c.WaitRegistered(1, 60*time.Second)
	waitConverged(t, conn, topic, parts, 3, 120*time.Second)
	var out []int32
	for p := int32(0); p < parts; p++ {
		if s, _, _, _ := getState(conn, topic, p); a[p][0] == 1 && s.Leader != 1 {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("broker 1 is the preferred replica of no partition")
	}
	return out
}

func waitPreferred(t *testing.T, conn *zk.Conn, topic string, parts int32, what string) {
	t.Helper()
	a := assignmentOf(t, conn, topic)
	for p := int32(0); p < parts; p++ {
		waitPartition(t, conn, topic, p, 60*time.Second, what, func(s partitionState) bool {
			return s.Leader == a[p][0] && len(s.ISR) == 3
		})
	}
}

// TestPreferredLeaderElection: after a broker returns, ElectLeaders (kadm, as
// kafka-leader-election.sh sends it) and, separately, the legacy
// /admin/preferred_replica_election znode put every partition's leader back on its first
// replica; a second election answers ELECTION_NOT_NEEDED.
func TestPreferredLeaderElection(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{"auto.leader.rebalance.enable": "false"}})
	adm := newAdmin(t, c.Bootstrap())
	const topic, parts = "preferred", 6
	createReplicated(t, adm, topic, parts, 3, nil)
	conn := c.ZKConn()
	waitConverged(t, conn, topic, parts, 3, 60*time.Second)

	moved := displaced(t, c, conn, topic, parts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	set := kadm.TopicsSet{}
	for _, p := range moved {
		set.Add(topic, p)
	}
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatalf("ElectLeaders: %v", err)
	}
	for _, p := range moved {
		if r, ok := res[topic][p]; !ok || r.Err != nil {
			t.Fatalf("election of %s-%d: %+v", topic, p, r)
		}
	}
	waitPreferred(t, conn, topic, parts, "leader back on the preferred replica (ElectLeaders)")
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[topic][moved[0]]; !errors.Is(r.Err, kerr.ElectionNotNeeded) {
		t.Fatalf("a second election: %+v, want ELECTION_NOT_NEEDED", r)
	}

	// The legacy znode, as kafka-preferred-replica-election.sh --zookeeper wrote it.
	moved = displaced(t, c, conn, topic, parts)
	var list []string
	for _, p := range moved {
		list = append(list, fmt.Sprintf(`{"topic":%q,"partition":%d}`, topic, p))
	}
	body := fmt.Sprintf(`{"version":1,"partitions":[%s]}`, joinComma(list))
	path := testcluster.Chroot + "/admin/preferred_replica_election"
	if _, err := conn.Create(path, []byte(body), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitPreferred(t, conn, topic, parts, "leader back on the preferred replica (znode)")
	waitGone(t, conn, path, 30*time.Second)
}

// TestAutoLeaderRebalance: with auto.leader.rebalance.enable and a short check interval, the
// controller moves leadership back to the returning broker by itself.
func TestAutoLeaderRebalance(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"auto.leader.rebalance.enable":            "true",
		"leader.imbalance.check.interval.seconds": "1",
	}})
	adm := newAdmin(t, c.Bootstrap())
	const topic, parts = "rebalance", 6
	createReplicated(t, adm, topic, parts, 3, nil)
	conn := c.ZKConn()
	waitConverged(t, conn, topic, parts, 3, 60*time.Second)
	a := assignmentOf(t, conn, topic)
	c.Kill(1)
	for p := int32(0); p < parts; p++ {
		waitPartition(t, conn, topic, p, 60*time.Second, "leader off broker 1", func(s partitionState) bool {
			return s.Leader >= 0 && s.Leader != 1
		})
	}
	c.StartBroker(1)
	c.WaitRegistered(1, 60*time.Second)
	waitPreferred(t, conn, topic, parts, "the automatic rebalance restores preferred leaders")
	for p := int32(0); p < parts; p++ {
		if s, _, _, _ := getState(conn, topic, p); s.Leader != a[p][0] {
			t.Fatalf("partition %d led by %d, preferred %d", p, s.Leader, a[p][0])
		}
	}
}

func joinComma(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
