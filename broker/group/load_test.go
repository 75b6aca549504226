package group

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/log/vfs"
	"github.com/gregor-broker/gregor/broker/replica"
)

// noWrites is an Appender for tests that only load: any write fails.
type noWrites struct{}

func (noWrites) Produce(_ context.Context, _ int16, _ time.Duration, parts map[klog.TopicPartition][]byte) map[klog.TopicPartition]replica.ProduceResult {
	out := map[klog.TopicPartition]replica.ProduceResult{}
	for tp := range parts {
		out[tp] = replica.ProduceResult{BaseOffset: -1, Err: errors.New("no writes in this test")}
	}
	return out
}

// replicatedBatch is what a follower receives from its leader: a coordinator batch with the
// offset and leader epoch the leader gave it.
func replicatedBatch(base int64, epoch int32, recs ...kv) []byte {
	b := buildBatch(time.Now().UnixMilli(), recs)
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[12:], uint32(epoch))
	binary.BigEndian.PutUint32(b[crcOffset:], crc32.Checksum(b[attrOffset:], castagnoli))
	return b
}

func commitRecord(group string, at klog.TopicPartition, offset int64) kv {
	return kv{offsetKey(group, at), offsetValue(Offset{Offset: offset, LeaderEpoch: -1, ExpireTimestamp: -1})}
}

// openOffsetsLog opens a log manager in a temporary directory with __consumer_offsets-0 holding
// the given batches, appended as a follower appends them, and returns both.
func openOffsetsLog(t *testing.T, batches ...[]byte) (*klog.Manager, *klog.Log) {
	t.Helper()
	return openOffsetsLogOn(t, nil, batches...)
}

// openOffsetsLogOn is openOffsetsLog over the file system fs (nil: the OS).
func openOffsetsLogOn(t *testing.T, fs vfs.FS, batches ...[]byte) (*klog.Manager, *klog.Log) {
	t.Helper()
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{t.TempDir()}, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	l, err := logs.GetOrCreateLog(tp(OffsetsTopic, 0), klog.DefaultConfig(), [16]byte{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if _, err := l.AppendAsFollower(b); err != nil {
			t.Fatal(err)
		}
	}
	return logs, l
}

// waitPartitionLoaded polls the coordinator until partition p is loaded.
func waitPartitionLoaded(t *testing.T, c *Coordinator, p int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.RLock()
		st := c.partitions[p]
		done := st != nil && !st.loading
		c.mu.RUnlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %d not loaded", p)
		}
		time.Sleep(time.Millisecond)
	}
}

func fetchOne(t *testing.T, c *Coordinator, group string, at klog.TopicPartition) int64 {
	t.Helper()
	got, err := c.FetchOffsets(group, false, []klog.TopicPartition{at})
	if err != nil || len(got) != 1 {
		t.Fatalf("fetch %s: %+v %v", group, got, err)
	}
	return got[0].Offset
}

// TestLoadReadsToLogEnd: a follower has replicated the leader's last commit but not yet learnt
// the high watermark that covers it — its high watermark is below its log end — when the leader
// dies. That commit was acknowledged (every ISR member had it), so the new leader's coordinator
// must load it: the load reads to the log end, as Kafka's doLoadGroupsAndOffsets does, not to
// the high watermark. The new leader never truncates what it has; the high watermark reaches
// the log end once its followers fetch.
func TestLoadReadsToLogEnd(t *testing.T) {
	at := tp("orders", 0)
	logs, l := openOffsetsLog(t,
		replicatedBatch(0, 0, commitRecord("g", at, 10)),
		replicatedBatch(1, 0, commitRecord("g", at, 20)))
	l.SetHighWatermark(1) // the follower learnt of offset 0's commitment only
	rm := replica.NewManager(replica.Options{BrokerID: 1, Logs: logs,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
	t.Cleanup(rm.Shutdown)
	// Follower of broker 2 at epoch 0, then leader at epoch 1 with broker 3 in the ISR (it has
	// not fetched from us yet, so the high watermark stays): the replica manager's own
	// transition, so nothing below the coordinator trims the log either.
	for _, s := range []replica.PartitionState{
		{Topic: OffsetsTopic, Partition: 0, Leader: 2, LeaderEpoch: 0, ISR: []int32{2, 1, 3}, Replicas: []int32{2, 1, 3}},
		{Topic: OffsetsTopic, Partition: 0, Leader: 1, LeaderEpoch: 1, ISR: []int32{1, 3}, Replicas: []int32{2, 1, 3}},
	} {
		if err := rm.BecomeLeaderOrFollower(1, []replica.PartitionState{s})[tp(OffsetsTopic, 0)]; err != nil {
			t.Fatal(err)
		}
	}
	if hw, leo := l.HighWatermark(), l.LogEndOffset(); hw >= leo {
		t.Fatalf("setup: high watermark %d, log end %d: want the high watermark below", hw, leo)
	}
	c := New(Options{BrokerID: 1, Config: testConfig(), Replicas: rm, Logs: logs,
		Partitions: func() int32 { return 1 }, Clock: newManualClock()})
	c.Start()
	t.Cleanup(c.Shutdown)
	c.OnElection(0, 1)
	waitPartitionLoaded(t, c, 0)
	if got := fetchOne(t, c, "g", at); got != 20 {
		t.Fatalf("loaded offset %d, want 20 (the commit above the high watermark)", got)
	}
}

// gatedLogs is a LogSource whose first Log call waits at a gate and then returns a log other
// than the real one: the content a load started under one election read, before the partition
// changed under a later one.
type gatedLogs struct {
	real    *klog.Manager
	stale   *klog.Log
	entered chan struct{} // closed when the first call is waiting
	gate    chan struct{} // the test closes it to let the first call return
	once    sync.Once
}

func (g *gatedLogs) Log(tp klog.TopicPartition) *klog.Log {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.gate
		return g.stale
	}
	return g.real.Log(tp)
}

// TestReelectionDuringLoadReloads: the broker is elected, resigns and is elected again while
// the first election's load is still reading. What that load read is from before the partition
// changed (as a follower in between it may have truncated and appended); it must be discarded and
// the partition loaded again for the newest election — not installed because the partition is
// "loading" again.
func TestReelectionDuringLoadReloads(t *testing.T) {
	at := tp("orders", 0)
	_, stale := openOffsetsLog(t, replicatedBatch(0, 0, commitRecord("g", at, 10)))
	real, _ := openOffsetsLog(t,
		replicatedBatch(0, 0, commitRecord("g", at, 10)),
		replicatedBatch(1, 2, commitRecord("g", at, 30)))
	src := &gatedLogs{real: real, stale: stale, entered: make(chan struct{}), gate: make(chan struct{})}
	c := New(Options{BrokerID: 1, Config: testConfig(), Replicas: noWrites{}, Logs: src,
		Partitions: func() int32 { return 1 }, Clock: newManualClock()})
	c.Start()
	t.Cleanup(c.Shutdown)

	c.OnElection(0, 1)
	recv(t, src.entered) // the first load is reading
	c.OnResignation(0, 2)
	c.OnElection(0, 3)
	close(src.gate)
	waitPartitionLoaded(t, c, 0)
	if got := fetchOne(t, c, "g", at); got != 30 {
		t.Fatalf("offset %d after the re-election, want 30: the first election's load was installed", got)
	}
}

// vanishingFS fails the next read of a segment file once armed, the way a read fails whose
// segment the cleaner replaced and then removed (file.delete.delay.ms shorter than the read).
type vanishingFS struct {
	vfs.FS
	armed atomic.Bool
}

type vanishingFile struct {
	vfs.File
	fs *vanishingFS
}

func (f *vanishingFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return file, err
	}
	return &vanishingFile{File: file, fs: f}, nil
}

func (f *vanishingFile) ReadAt(p []byte, off int64) (int, error) {
	if f.fs.armed.CompareAndSwap(true, false) {
		return 0, &os.PathError{Op: "read", Path: f.Name(), Err: os.ErrClosed}
	}
	return f.File.ReadAt(p, off)
}

// TestLoadRereadsASegmentReplacedUnderIt: a read of the log that fails once — its segment was
// cleaned away and its file removed between the read's view and its I/O — is read again from the
// same offset (the cleaner keeps offsets) instead of failing the load, which would own the
// partition with none of its groups and hand every member an offset reset.
func TestLoadRereadsASegmentReplacedUnderIt(t *testing.T) {
	at := tp("orders", 0)
	fs := &vanishingFS{FS: vfs.OS}
	logs, _ := openOffsetsLogOn(t, fs,
		replicatedBatch(0, 0, commitRecord("g", at, 10)),
		replicatedBatch(1, 0, commitRecord("g", at, 20)))
	c := New(Options{BrokerID: 1, Config: testConfig(), Replicas: noWrites{}, Logs: logs,
		Partitions: func() int32 { return 1 }, Clock: newManualClock()})
	c.Start()
	t.Cleanup(c.Shutdown)
	fs.armed.Store(true)
	c.OnElection(0, 1)
	waitPartitionLoaded(t, c, 0)
	if fs.armed.Load() {
		t.Fatal("the load never read the segment")
	}
	if got := fetchOne(t, c, "g", at); got != 20 {
		t.Fatalf("offset %d after a load whose first read failed, want 20", got)
	}
}
