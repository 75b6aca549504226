package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestCoordinatorReloadsOffsetsAfterSIGKILL: groups commit offsets (standalone commits through
// kadm, and a franz-go group that consumes, commits and leaves); the broker is SIGKILLed and
// restarted; every group's offsets are back, as the coordinator replays __consumer_offsets. The
// partition segments are then decoded independently of the broker's code — kmsg's record
// batch, record and OffsetCommitKey/Value, GroupMetadataKey/Value types — and every commit is
// there field by field, in Kafka's key and value versions.
func TestCoordinatorReloadsOffsetsAfterSIGKILL(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "reload"
	createTopic(t, adm, topic, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now().UnixMilli()

	want := map[string]map[int32]kadm.Offset{}
	for gi := 0; gi < 8; gi++ {
		group := fmt.Sprintf("reload-%d", gi)
		var os kadm.Offsets
		want[group] = map[int32]kadm.Offset{}
		for p := int32(0); p < 3; p++ {
			o := kadm.Offset{Topic: topic, Partition: p, At: int64(100*gi) + int64(p), LeaderEpoch: int32(gi), Metadata: fmt.Sprintf("m-%d-%d", gi, p)}
			os.Add(o)
			want[group][p] = o
		}
		resp, err := adm.CommitOffsets(ctx, group, os)
		if err != nil || resp.Error() != nil {
			t.Fatalf("commit %s: %v %v", group, err, resp.Error())
		}
	}
	// A group managed by the coordinator: consumes, commits, leaves (metadata records too).
	produceN(t, c.Bootstrap(), topic, "x", 90)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.ConsumerGroup("reload-live"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.SessionTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 90; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 90", n)
		}
		n += fs.NumRecords()
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	want["reload-live"] = map[int32]kadm.Offset{}
	for p := int32(0); p < 3; p++ {
		want["reload-live"][p] = kadm.Offset{Topic: topic, Partition: p, At: 30, LeaderEpoch: 0}
	}
	end := time.Now().UnixMilli()

	c.Kill(1)
	// The dead process's registration lives until its ZooKeeper session expires; wait for that
	// before the restart, or the new run may register the moment it goes and the gap is missed.
	c.WaitDeregistered(1, 60*time.Second)
	c.StartBroker(1)
	c.WaitRegistered(1, 60*time.Second)
	adm = newAdmin(t, c.Bootstrap()) // the old client's connections died with the broker

	groups := make([]string, 0, len(want))
	for g := range want {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, group := range groups {
		got, err := adm.FetchOffsets(ctx, group) // kadm retries COORDINATOR_LOAD_IN_PROGRESS
		if err != nil {
			t.Fatalf("fetch %s after the restart: %v", group, err)
		}
		for p, w := range want[group] {
			o, ok := got.Lookup(topic, p)
			if !ok || o.Err != nil || o.At != w.At || (group != "reload-live" && (o.LeaderEpoch != w.LeaderEpoch || o.Metadata != w.Metadata)) {
				t.Fatalf("%s partition %d after the restart: %+v, want %+v", group, p, o, w)
			}
		}
	}

	// The segments, decoded with kmsg only. Kafka's layout: <log.dirs>/__consumer_offsets-<p>/.
	files, _ := filepath.Glob(filepath.Join(c.Broker(1).DataDir, "__consumer_offsets-*", "*.log"))
	if len(files) != 50 {
		t.Fatalf("%d __consumer_offsets segments, want one per partition (50)", len(files))
	}
	type key struct {
		group string
		p     int32
	}
	latest := map[key]kmsg.OffsetCommitValue{}
	groupRecords := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			if len(data) < 12 {
				t.Fatalf("%s: %d trailing bytes", f, len(data))
			}
			size := 12 + int(binary.BigEndian.Uint32(data[8:]))
			var b kmsg.RecordBatch
			if err := b.ReadFrom(data[:size]); err != nil {
				t.Fatalf("%s: batch: %v", f, err)
			}
			if b.Magic != 2 || b.Attributes&7 != 0 || b.ProducerID != -1 {
				t.Fatalf("%s: batch magic %d attributes %d producer %d", f, b.Magic, b.Attributes, b.ProducerID)
			}
			recs := b.Records
			for i := int32(0); i < b.NumRecords; i++ {
				l, n := binary.Varint(recs)
				var r kmsg.Record
				if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
					t.Fatalf("%s: record %d: %v", f, i, err)
				}
				recs = recs[n+int(l):]
				if binary.BigEndian.Uint16(r.Key) == 2 {
					var gk kmsg.GroupMetadataKey
					if err := gk.ReadFrom(r.Key); err != nil || gk.Version != 2 {
						t.Fatalf("group key: %+v %v", gk, err)
					}
					if r.Value != nil {
						var gv kmsg.GroupMetadataValue
						if err := gv.ReadFrom(r.Value); err != nil || gv.Version != 3 || gv.ProtocolType != "consumer" {
							t.Fatalf("group value of %s: %+v %v", gk.Group, gv, err)
						}
					}
					groupRecords++
					continue
				}
				var k kmsg.OffsetCommitKey
				if err := k.ReadFrom(r.Key); err != nil || k.Version != 1 {
					t.Fatalf("offset key: %+v %v", k, err)
				}
				var v kmsg.OffsetCommitValue
				if err := v.ReadFrom(r.Value); err != nil || v.Version != 3 {
					t.Fatalf("offset value of %+v: %+v %v", k, v, err)
				}
				// The commit timestamp is taken when the request arrives, the record's when it is
				// written (as in Kafka): both fall within the test's commits.
				if ts := b.FirstTimestamp + r.TimestampDelta64; v.CommitTimestamp < start || v.CommitTimestamp > end || ts < start || ts > end {
					t.Fatalf("commit timestamp %d, record timestamp %d: outside [%d, %d]", v.CommitTimestamp, ts, start, end)
				}
				if k.Topic != topic {
					t.Fatalf("offset key topic %q", k.Topic)
				}
				latest[key{k.Group, k.Partition}] = v
			}
			data = data[size:]
		}
	}
	if groupRecords == 0 {
		t.Fatal("no group metadata record for reload-live")
	}
	for group, ps := range want {
		for p, w := range ps {
			v, ok := latest[key{group, p}]
			if !ok || v.Offset != w.At {
				t.Fatalf("segment: %s partition %d: %+v, want offset %d", group, p, v, w.At)
			}
			if group != "reload-live" && (v.LeaderEpoch != w.LeaderEpoch || v.Metadata != w.Metadata) {
				t.Fatalf("segment: %s partition %d: epoch %d metadata %q, want %d %q", group, p, v.LeaderEpoch, v.Metadata, w.LeaderEpoch, w.Metadata)
			}
		}
	}
}
