package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// BenchmarkControllerFailover (scripts/bench-failover.sh; a benchmark, not a test): N partitions
// of replication factor 3 on 3 brokers (GREGOR_FAILOVER_PARTITIONS, default 10000), SIGKILL the
// controller, and measure from the old controller's session expiry — the moment ZooKeeper
// deletes its /controller — to (a) a new controller elected, (b) every partition led by a live
// broker in ZooKeeper, (c) every live broker's Metadata naming live leaders for all of them.
// Reported as ms-to-elect, ms-to-leaders and ms-to-metadata.
func BenchmarkControllerFailover(b *testing.B) {
	total := 10_000
	if v := os.Getenv("GREGOR_FAILOVER_PARTITIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("GREGOR_FAILOVER_PARTITIONS=%q", v)
		}
		total = n
	}
	for i := 0; i < b.N; i++ {
		elect, leaders, meta := failoverOnce(b, total)
		b.ReportMetric(float64(elect.Milliseconds()), "ms-to-elect")
		b.ReportMetric(float64(leaders.Milliseconds()), "ms-to-leaders")
		b.ReportMetric(float64(meta.Milliseconds()), "ms-to-metadata")
	}
}

func failoverOnce(b *testing.B, total int) (elect, leaders, meta time.Duration) {
	b.StopTimer()
	topics := max(1, total/1000)
	per := int32(total / topics)
	c := testcluster.Start(b, testcluster.Options{Brokers: 3, Config: map[string]string{
		"zookeeper.session.timeout.ms": "6000",
		"log.segment.bytes":            "1048576",
	}})
	adm := newAdmin(b, c.Bootstrap())
	adm.SetTimeoutMillis(int32((30 * time.Minute).Milliseconds()))
	for t := 0; t < topics; t++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		resp, err := adm.CreateTopic(ctx, per, 3, nil, fmt.Sprintf("fo-%d", t))
		cancel()
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			b.Fatalf("create fo-%d: %v", t, err)
		}
	}
	conn := c.ZKConn()
	names := make([]string, topics)
	for t := range names {
		names[t] = fmt.Sprintf("fo-%d", t)
	}
	for id := int32(1); id <= 3; id++ {
		waitAllLed(b, c.Addr(id), names, per, -1, 30*time.Minute)
	}
	dead := controllerID(b, conn)
	// The partitions the dead broker leads, each with a watch on its state: the clock waits for
	// their changes without polling, which would compete with the new controller's reads.
	var pending []watchedState
	for _, n := range names {
		for p := int32(0); p < per; p++ {
			if s, _, ev, err := getState(conn, n, p); err == nil && s.Leader == dead {
				pending = append(pending, watchedState{tpRef{n, p}, ev})
			}
		}
	}
	_, _, gone, err := conn.ExistsW(testcluster.Chroot + "/controller")
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	c.Kill(dead)
	<-gone // session expiry: ZooKeeper deleted the dead controller's /controller
	expired := time.Now()
	for {
		ok, _, created, err := conn.ExistsW(testcluster.Chroot + "/controller")
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			break
		}
		<-created
	}
	elect = time.Since(expired)
	parts := make([]tpRef, len(pending))
	for i, w := range pending {
		<-w.ev // the state changed: the new controller's write, checked below
		parts[i] = w.tpRef
	}
	leaders = time.Since(expired)
	// Every change must have been an election to a live broker; any still led by the dead one is
	// polled for, and the clock counts until it is not.
	for left := stillLedBy(conn, parts, dead); len(left) > 0; left = stillLedBy(conn, left, dead) {
		time.Sleep(20 * time.Millisecond) // polling ZooKeeper for the new controller's writes
		leaders = time.Since(expired)
	}
	for id := int32(1); id <= 3; id++ {
		if id != dead {
			waitAllLed(b, c.Addr(id), names, per, dead, 30*time.Minute)
		}
	}
	meta = time.Since(expired)
	b.StopTimer()
	b.Logf("%d partitions: new controller %v, all leaders live in ZooKeeper %v, every broker's metadata %v after the session expired",
		total, elect.Round(time.Millisecond), leaders.Round(time.Millisecond), meta.Round(time.Millisecond))
	return elect, leaders, meta
}

type tpRef struct {
	topic string
	p     int32
}

// stillLedBy re-reads the states of parts 64 at a time and returns those still led by dead (or
// by nobody).
func stillLedBy(conn *zk.Conn, parts []tpRef, dead int32) []tpRef {
	var mu sync.Mutex
	var out []tpRef
	work := make(chan tpRef)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				s, _, _, err := getState(conn, k.topic, k.p)
				if err != nil || s.Leader == dead || s.Leader < 0 {
					mu.Lock()
					out = append(out, k)
					mu.Unlock()
				}
			}
		}()
	}
	for _, k := range parts {
		work <- k
	}
	close(work)
	wg.Wait()
	return out
}

// watchedState is a partition and the watch on its state znode.
type watchedState struct {
	tpRef
	ev <-chan zk.Event
}

// waitAllLed polls broker addr's Metadata until every partition of the topics has a leader
// other than dead (-1: any leader).
func waitAllLed(tb testing.TB, addr string, topics []string, per int32, dead int32, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := allLed(tb, addr, topics, per, dead)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("broker %s metadata not current within %v: %s", addr, timeout, why)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's metadata
	}
}

func allLed(tb testing.TB, addr string, topics []string, per int32, dead int32) (bool, string) {
	tb.Helper()
	c := dialRaw(tb, addr)
	defer c.conn.Close()
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	c.write(c.frame(req, 7))
	frame, err := c.readFrame(60 * time.Second)
	if err != nil {
		return false, err.Error()
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 7
	if err := resp.ReadFrom(frame[4:]); err != nil {
		return false, err.Error()
	}
	if len(resp.Topics) != len(topics) {
		return false, fmt.Sprintf("%d topics", len(resp.Topics))
	}
	for _, mt := range resp.Topics {
		if int32(len(mt.Partitions)) != per {
			return false, fmt.Sprintf("%d partitions", len(mt.Partitions))
		}
		for _, p := range mt.Partitions {
			if p.Leader < 0 || p.Leader == dead {
				return false, fmt.Sprintf("%s partition %d leader %d", *mt.Topic, p.Partition, p.Leader)
			}
		}
	}
	return true, strings.Repeat("", 0)
}
