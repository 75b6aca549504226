package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// Helpers of the replication tests: topics with a replication factor, convergence of the
// cluster as ZooKeeper records it, and the byte-for-byte comparison of replicas' segment files.

// createReplicated creates topic with partitions × rf and configs, failing the test on error.
func createReplicated(t *testing.T, adm *kadm.Client, topic string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := adm.CreateTopic(ctx, partitions, rf, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s (%d×%d): %v", topic, partitions, rf, err)
	}
}

// partitionState is the state znode's JSON.
type partitionState struct {
	ControllerEpoch int     `json:"controller_epoch"`
	Leader          int32   `json:"leader"`
	Version         int     `json:"version"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
}

func getState(conn *zk.Conn, topic string, p int32) (partitionState, []byte, <-chan zk.Event, error) {
	data, _, ev, err := conn.GetW(fmt.Sprintf("%s/brokers/topics/%s/partitions/%d/state", testcluster.Chroot, topic, p))
	if err != nil {
		return partitionState{}, nil, nil, err
	}
	var s partitionState
	err = json.Unmarshal(data, &s)
	return s, data, ev, err
}

// waitPartition watches partition p's state znode until cond holds, or fails after timeout.
func waitPartition(t *testing.T, conn *zk.Conn, topic string, p int32, timeout time.Duration, what string,
	cond func(partitionState) bool) partitionState {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s, data, ev, err := getState(conn, topic, p)
		if err == nil && cond(s) {
			return s
		}
		if err == zk.ErrNoNode {
			// Not created yet: wait for it to exist instead (created in between: read it again).
			var exists bool
			exists, _, ev, err = conn.ExistsW(fmt.Sprintf("%s/brokers/topics/%s/partitions/%d/state", testcluster.Chroot, topic, p))
			if err == nil && exists {
				continue
			}
		}
		if err != nil && ev == nil {
			t.Fatalf("%s: read state of %s-%d: %v", what, topic, p, err)
		}
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("%s: %s-%d still %s after %v", what, topic, p, data, timeout)
		}
	}
}

// waitConverged waits until every partition of topic has a leader and an ISR of rf members.
func waitConverged(t *testing.T, conn *zk.Conn, topic string, partitions int32, rf int, timeout time.Duration) {
	t.Helper()
	for p := int32(0); p < partitions; p++ {
		waitPartition(t, conn, topic, p, timeout, "converge", func(s partitionState) bool {
			return s.Leader >= 0 && len(s.ISR) == rf
		})
	}
}

// segmentBytes is a replica's log: its segment files concatenated in offset order.
func segmentBytes(dir string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names) // 20-digit base offsets sort as numbers
	var out []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// prefixBelow returns the whole batches of log whose last offset is below end: the bytes every
// replica in the ISR must hold identically. ok is false while log does not reach end yet.
func prefixBelow(log []byte, end int64) (prefix []byte, ok bool) {
	last := int64(-1)
	pos := 0
	for pos+61 <= len(log) {
		size := 12 + int(int32(binary.BigEndian.Uint32(log[pos+8:])))
		if size < 61 || pos+size > len(log) {
			break // a batch being written
		}
		base := int64(binary.BigEndian.Uint64(log[pos:]))
		batchLast := base + int64(int32(binary.BigEndian.Uint32(log[pos+23:])))
		if batchLast >= end {
			return log[:pos], true
		}
		last = batchLast
		pos += size
	}
	return log[:pos], end <= 0 || last == end-1
}

// compareReplicas waits until every replica of every partition of topic holds the same bytes up
// to the partition's high watermark (as its leader answers ListOffsets), and fails with the
// first difference otherwise. It returns the number of bytes compared.
func compareReplicas(t *testing.T, c *testcluster.Cluster, adm *kadm.Client, topic string, partitions int32, brokers []int32) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends := listEndOffsetsSettled(ctx, t, adm, topic, partitions)
	total := 0
	for p := int32(0); p < partitions; p++ {
		lo, _ := ends.Lookup(topic, p)
		hw := lo.Offset
		var want []byte
		var wantFrom int32 = -1
		for _, id := range brokers {
			dir := filepath.Join(c.Broker(id).DataDir, fmt.Sprintf("%s-%d", topic, p))
			var got []byte
			for {
				log, err := segmentBytes(dir)
				if err == nil {
					if pre, ok := prefixBelow(log, hw); ok {
						got = pre
						break
					}
				}
				select {
				case <-ctx.Done():
					t.Fatalf("replica of %s-%d on broker %d never reached the high watermark %d (err %v)", topic, p, id, hw, err)
				case <-time.After(100 * time.Millisecond): // a follower still catching up: poll its files
				}
			}
			if wantFrom < 0 {
				want, wantFrom = got, id
				continue
			}
			if !bytes.Equal(want, got) {
				i := 0
				for i < len(want) && i < len(got) && want[i] == got[i] {
					i++
				}
				t.Fatalf("%s-%d: broker %d's log differs from broker %d's below the high watermark %d: "+
					"%d vs %d bytes, first difference at byte %d", topic, p, id, wantFrom, hw, len(got), len(want), i)
			}
		}
		total += len(want)
	}
	return total
}

// listEndOffsetsSettled asks until every partition answers without error: just after a fault
// the admin client's metadata may still name a deposed leader (NOT_LEADER_OR_FOLLOWER) and the
// answer is retriable, not a failure of replication.
func listEndOffsetsSettled(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, partitions int32) kadm.ListedOffsets {
	t.Helper()
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		var bad error
		if err != nil {
			bad = err
		} else {
			for p := int32(0); p < partitions && bad == nil; p++ {
				if lo, ok := ends.Lookup(topic, p); !ok {
					bad = fmt.Errorf("%s-%d missing from the answer", topic, p)
				} else if lo.Err != nil {
					bad = fmt.Errorf("%s-%d: %w", topic, p, lo.Err)
				}
			}
		}
		if bad == nil {
			return ends
		}
		select {
		case <-ctx.Done():
			t.Fatalf("list end offsets never settled: %v", bad)
		case <-time.After(100 * time.Millisecond): // metadata refreshes in the meantime
		}
	}
}

// controllerID reads /controller, waiting for an election if there is none. The watch is set by
// ExistsW, which also answers whether the znode appeared in the meantime (a GetW on a missing
// znode sets no watch, and an ExistsW after it would wait on a znode already there).
func controllerID(t testing.TB, conn *zk.Conn) int32 {
	t.Helper()
	path := testcluster.Chroot + "/controller"
	for deadline := time.Now().Add(60 * time.Second); ; {
		exists, _, ev, err := conn.ExistsW(path)
		if err != nil {
			t.Fatal(err)
		}
		if exists {
			data, _, err := conn.Get(path)
			if err == zk.ErrNoNode {
				continue // resigned between the two calls
			}
			if err != nil {
				t.Fatal(err)
			}
			var ctl struct {
				BrokerID int32 `json:"brokerid"`
			}
			if err := json.Unmarshal(data, &ctl); err != nil {
				t.Fatal(err)
			}
			return ctl.BrokerID
		}
		select {
		case <-ev:
		case <-time.After(time.Until(deadline)):
			t.Fatal("no controller elected within 60s")
		}
	}
}

// pauseCandidate picks the broker a test may pause: the first of prefer that is not the
// controller (a paused controller answers no AlterIsr or reassignment until the pause ends,
// which would test a stalled controller instead), and the other brokers of a 3-broker cluster.
func pauseCandidate(t testing.TB, conn *zk.Conn, prefer ...int32) (int32, []int32) {
	t.Helper()
	ctl := controllerID(t, conn)
	pick := int32(-1)
	for _, id := range prefer {
		if id != ctl {
			pick = id
			break
		}
	}
	if pick < 0 {
		t.Fatalf("every preferred broker %v is the controller %d", prefer, ctl)
	}
	var others []int32
	for _, id := range []int32{1, 2, 3} {
		if id != pick {
			others = append(others, id)
		}
	}
	return pick, others
}

// scrape returns the value of a Prometheus counter or gauge (summed over label sets whose text
// contains every filter) from broker id's /metrics.
func scrape(t *testing.T, c *testcluster.Cluster, id int32, name string, filters ...string) float64 {
	t.Helper()
	body := httpGet(t, c.MetricsURL(id))
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		keep := true
		for _, f := range filters {
			keep = keep && strings.Contains(line, f)
		}
		if !keep {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

// waitMetadata polls every broker's Metadata until each lists all partitions of topic with a
// leader and an ISR of isr members: the controller's UpdateMetadata reaches brokers a moment
// after the state znodes are written, and a client (kafka-go's transport caches metadata for
// seconds) that asks a broker in between sees no topic at all.
func waitMetadata(t *testing.T, c *testcluster.Cluster, brokers []int32, topic string, partitions int32, isr int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range brokers {
		for {
			ok, why := metadataReady(t, c.Addr(id), topic, partitions, isr)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d's metadata for %s not ready within 60s: %s", id, topic, why)
			}
			time.Sleep(50 * time.Millisecond) // polling a condition another process makes true
		}
	}
}

func metadataReady(t *testing.T, addr, topic string, partitions int32, isr int) (bool, string) {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.conn.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	c.write(c.frame(req, 7))
	frame, err := c.readFrame(10 * time.Second)
	if err != nil {
		return false, err.Error()
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 7
	if err := resp.ReadFrom(frame[4:]); err != nil {
		return false, err.Error()
	}
	for _, mt := range resp.Topics {
		if mt.ErrorCode != 0 {
			return false, fmt.Sprintf("error code %d", mt.ErrorCode)
		}
		if int32(len(mt.Partitions)) != partitions {
			return false, fmt.Sprintf("%d partitions", len(mt.Partitions))
		}
		for _, p := range mt.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 || len(p.ISR) != isr {
				return false, fmt.Sprintf("partition %d: error %d leader %d isr %v", p.Partition, p.ErrorCode, p.Leader, p.ISR)
			}
		}
		return true, ""
	}
	return false, "topic missing"
}

// lastOffset is the last offset of the whole batches in log (-1 if none).
func lastOffset(log []byte) int64 {
	last := int64(-1)
	for pos := 0; pos+61 <= len(log); {
		size := 12 + int(int32(binary.BigEndian.Uint32(log[pos+8:])))
		if size < 61 || pos+size > len(log) {
			break
		}
		last = int64(binary.BigEndian.Uint64(log[pos:])) + int64(int32(binary.BigEndian.Uint32(log[pos+23:])))
		pos += size
	}
	return last
}
