package replica

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// TestLogDirFailure: a write error on the leader's disk answers that produce
// KAFKA_STORAGE_ERROR with the log as before it; once the failed directory is handled the
// partition answers KAFKA_STORAGE_ERROR to everything — produce, fetch (a follower's too, so the
// high watermark never passes what was acknowledged), ListOffsets, LeaderAndIsr, StopReplica —
// an acks=all produce parked on it is released with KAFKA_STORAGE_ERROR rather than
// acknowledged, and a partition in the other log directory is served as before.
func TestLogDirFailure(t *testing.T) {
	root := t.TempDir()
	fs := vfs.NewFaulty(vfs.OS)
	quiet := logrus.New()
	quiet.SetLevel(logrus.PanicLevel)
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{filepath.Join(root, "a"), filepath.Join(root, "b")},
		FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	m := NewManager(Options{BrokerID: me, Logs: logs, Logger: quiet, ReplicaLagTimeMax: time.Hour,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
	t.Cleanup(m.Shutdown)
	other := klog.TopicPartition{Topic: "t", Partition: 1}
	errs := m.BecomeLeaderOrFollower(1, []PartitionState{
		{Topic: "t", Partition: 0, Leader: me, LeaderEpoch: 1, ISR: []int32{me, 2}, Replicas: []int32{me, 2}},
		{Topic: "t", Partition: 1, Leader: me, LeaderEpoch: 1, ISR: []int32{me}, Replicas: []int32{me}},
	})
	if errs[tp] != nil || errs[other] != nil {
		t.Fatal(errs)
	}
	l := logs.Log(tp)
	if l.ParentDir() == logs.Log(other).ParentDir() {
		t.Fatal("both partitions in one log dir")
	}
	if r := produce(t, m, 1, "a"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if f := followerFetch(m, 2, 1, 1); f.Err != nil || f.HighWatermark != 1 {
		t.Fatalf("follower fetch: %+v", f)
	}

	// An acks=all produce waits for follower 2, which never fetches it.
	parked := make(chan ProduceResult, 1)
	go func() { parked <- produce(t, m, -1, "b") }()
	for deadline := time.Now().Add(30 * time.Second); l.LogEndOffset() != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the acks=all produce was never appended")
		}
	}

	if err := fs.Inject(vfs.FaultWriteError, filepath.Join(l.ParentDir(), tp.String())); err != nil {
		t.Fatal(err)
	}
	r := produce(t, m, 1, "c")
	if !errors.Is(r.Err, ErrKafkaStorage) || !errors.Is(r.Err, klog.ErrStorage) || r.BaseOffset != -1 {
		t.Fatalf("produce on the failing disk: %+v, want KAFKA_STORAGE_ERROR", r)
	}
	if l.LogEndOffset() != 2 || l.HighWatermark() != 1 {
		t.Fatalf("log end %d, high watermark %d after the failed append; want 2 and 1", l.LogEndOffset(), l.HighWatermark())
	}
	// Until the failure is handled, LeaderAndIsr already answers as it will after.
	if errs := m.BecomeLeaderOrFollower(1, []PartitionState{{Topic: "t", Partition: 0, Leader: me, LeaderEpoch: 2,
		ISR: []int32{me, 2}, Replicas: []int32{me, 2}}}); !errors.Is(errs[tp], ErrKafkaStorage) {
		t.Fatalf("LeaderAndIsr before the failure is handled: %v", errs[tp])
	}

	dir := <-logs.DirFailures()
	if dir != l.ParentDir() {
		t.Fatalf("failed dir %s, want %s", dir, l.ParentDir())
	}
	if got := m.HandleLogDirFailure(dir); len(got) != 1 || got[0] != tp {
		t.Fatalf("taken offline: %v", got)
	}
	if dropped, online := logs.TakeDirOffline(dir); len(dropped) != 1 || online != 1 {
		t.Fatalf("logs dropped %v, %d dirs online", dropped, online)
	}
	select {
	case r := <-parked:
		if !errors.Is(r.Err, ErrKafkaStorage) {
			t.Fatalf("the parked acks=all produce: %+v, want KAFKA_STORAGE_ERROR", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the parked acks=all produce was not released")
	}

	if r := produce(t, m, 1, "d"); !errors.Is(r.Err, ErrKafkaStorage) {
		t.Fatalf("produce after: %+v", r)
	}
	if f := fetchOne(m, 0, 0); !errors.Is(f.Err, ErrKafkaStorage) {
		t.Fatalf("consumer fetch after: %+v", f)
	}
	if f := followerFetch(m, 2, 2, 1); !errors.Is(f.Err, ErrKafkaStorage) {
		t.Fatalf("follower fetch after: %+v", f)
	}
	if _, _, _, err := m.ListOffset(tp, LatestTimestamp, -1, false); !errors.Is(err, ErrKafkaStorage) {
		t.Fatalf("ListOffsets after: %v", err)
	}
	if errs := m.BecomeLeaderOrFollower(1, []PartitionState{{Topic: "t", Partition: 0, Leader: me, LeaderEpoch: 3,
		ISR: []int32{me}, Replicas: []int32{me, 2}}}); !errors.Is(errs[tp], ErrKafkaStorage) {
		t.Fatalf("LeaderAndIsr after: %v", errs[tp])
	}
	if errs := m.StopReplicas([]klog.TopicPartition{tp}, true); !errors.Is(errs[tp], ErrKafkaStorage) {
		t.Fatalf("StopReplica after: %v", errs[tp])
	}
	if _, err := os.Stat(l.Dir()); err != nil {
		t.Fatalf("StopReplica with delete touched the failed disk: %v", err)
	}
	if n := m.OfflinePartitions(); n != 1 {
		t.Fatalf("%d offline partitions, want 1", n)
	}

	// The other directory serves on.
	res := m.Produce(context.Background(), 1, 5*time.Second, map[klog.TopicPartition][]byte{other: batch("x")})[other]
	if res.Err != nil || res.BaseOffset != 0 {
		t.Fatalf("produce to the healthy dir: %+v", res)
	}
}

// TestLeaderAndIsrWritesNothing: a LeaderAndIsr moving partitions to a new leader epoch does no
// file-system mutation (at 10 000 partitions a file per partition was most of a controller
// failover); the epochs reach leader-epoch-checkpoint with the next flush.
func TestLeaderAndIsrWritesNothing(t *testing.T) {
	root := t.TempDir()
	fs := vfs.NewFaulty(vfs.OS)
	quiet := logrus.New()
	quiet.SetLevel(logrus.PanicLevel)
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{filepath.Join(root, "a"), filepath.Join(root, "b")},
		FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	m := NewManager(Options{BrokerID: me, Logs: logs, Logger: quiet, ReplicaLagTimeMax: time.Hour,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
	t.Cleanup(m.Shutdown)
	other := klog.TopicPartition{Topic: "t", Partition: 1}
	leadBoth := func(epoch int32) map[klog.TopicPartition]error {
		return m.BecomeLeaderOrFollower(1, []PartitionState{
			{Topic: "t", Partition: 0, Leader: me, LeaderEpoch: epoch, ISR: []int32{me}, Replicas: []int32{me}},
			{Topic: "t", Partition: 1, Leader: me, LeaderEpoch: epoch, ISR: []int32{me}, Replicas: []int32{me}},
		})
	}
	if errs := leadBoth(1); errs[tp] != nil || errs[other] != nil {
		t.Fatal(errs)
	}
	var ops []vfs.Op
	var mu sync.Mutex
	fs.CrashBefore(func(op vfs.Op) bool { // every mutation from here on fails, and is recorded
		mu.Lock()
		ops = append(ops, op)
		mu.Unlock()
		return true
	})
	if errs := leadBoth(2); errs[tp] != nil || errs[other] != nil {
		t.Fatalf("LeaderAndIsr to epoch 2: %v", errs)
	}
	mu.Lock()
	if len(ops) > 0 {
		t.Fatalf("LeaderAndIsr mutated the file system: %+v", ops)
	}
	mu.Unlock()
	fs.CrashBefore(nil)
	for _, p := range []klog.TopicPartition{tp, other} {
		l := logs.Log(p)
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(l.Dir(), "leader-epoch-checkpoint"))
		if err != nil || string(data) != "0\n1\n2 0\n" {
			t.Fatalf("%s: leader-epoch-checkpoint after a flush = %q %v", p, data, err)
		}
	}
}
