package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// dirBytes is the size of every file in dir: what the partition holds on disk (segments,
// indexes, snapshots, checkpoints, and segments waiting for deletion).
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// offsetsRecord is one record of a __consumer_offsets segment, decoded with kmsg alone.
type offsetsRecord struct {
	offset int64
	key    []byte
	value  []byte // nil: a tombstone
}

// readOffsetsSegment decodes a segment file with kmsg's record batch and record types.
func readOffsetsSegment(t *testing.T, file string) []offsetsRecord {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []offsetsRecord
	for len(data) > 0 {
		if len(data) < 12 {
			t.Fatalf("%s: %d trailing bytes", file, len(data))
		}
		size := 12 + int(binary.BigEndian.Uint32(data[8:]))
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:size]); err != nil {
			t.Fatalf("%s: batch: %v", file, err)
		}
		if b.Attributes&7 != 0 {
			t.Fatalf("%s: batch at %d compressed (%d): the coordinator writes none", file, b.FirstOffset, b.Attributes&7)
		}
		recs := b.Records
		for i := int32(0); i < b.NumRecords; i++ {
			l, n := binary.Varint(recs)
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatalf("%s: record %d of batch %d: %v", file, i, b.FirstOffset, err)
			}
			recs = recs[n+int(l):]
			out = append(out, offsetsRecord{offset: b.FirstOffset + int64(r.OffsetDelta), key: r.Key, value: r.Value})
		}
		data = data[size:]
	}
	return out
}

// TestConsumerOffsetsBoundedUnderAMillionCommits is issue 7's "__consumer_offsets stays
// bounded under a million commits to a few groups". Four groups that map to the same
// __consumer_offsets partition commit 1,000,000 partition offsets over the wire (OffsetCommit
// requests of 100 partitions each, from franz-go, acks=-1), in ten phases; a fifth group
// commits and is then deleted (DeleteGroups: tombstones). The partition has 256 KiB segments,
// a 50 ms cleaner backoff and delete.retention.ms 0. After every phase the partition's whole
// directory comes back within the bound — one full active segment plus 128 KiB for the
// compacted rest and the index, snapshot and checkpoint files — against the 60 MB that the
// commits wrote. Then the broker is SIGKILLed and restarted: every group's latest offsets are
// back, the deleted group's are not; and its segments, decoded with kmsg at rest after a clean
// stop, hold at most one record per key below the cleaner's checkpoint, the latest value of
// every key, and no record of the deleted group (its tombstones outlived delete.retention.ms).
func TestConsumerOffsetsBoundedUnderAMillionCommits(t *testing.T) {
	const (
		topic        = "bounded"
		topicParts   = 100
		groups       = 4
		total        = 1_000_000
		phases       = 10
		segmentBytes = 256 << 10
		bound        = segmentBytes + 128<<10
		offsetsParts = 50
	)
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: map[string]string{
		"offsets.topic.segment.bytes":     fmt.Sprint(segmentBytes),
		"log.cleaner.backoff.ms":          "50",
		"log.cleaner.delete.retention.ms": "0",
		"log.segment.delete.delay.ms":     "200",
	}})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, topic, topicParts, nil)

	// A few groups, all on one __consumer_offsets partition (Kafka's mapping), and a doomed one.
	part := kafkaGroupPartition("bounded-0", offsetsParts)
	var names []string
	for i := 0; len(names) < groups+1; i++ {
		if g := fmt.Sprintf("bounded-%d", i); kafkaGroupPartition(g, offsetsParts) == part {
			names = append(names, g)
		}
	}
	doomed, names := names[groups], names[:groups]
	dir := filepath.Join(c.Broker(1).DataDir, fmt.Sprintf("%s-%d", offsetsTopic, part))

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.RequestTimeoutOverhead(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// commit stores offset base+p for every partition p of the topic, for group, in one request
	// (kgo sends it to the group's coordinator).
	commit := func(group string, base int64) error {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation, req.MemberID = group, -1, ""
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p := int32(0); p < topicParts; p++ {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, base+int64(p), -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
		return nil
	}
	// The first commit creates __consumer_offsets and waits for its coordinator.
	for deadline := time.Now().Add(60 * time.Second); ; {
		err := commit(doomed, 0)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no coordinator for %s: %v", doomed, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the broker's creation of the topic
	}
	for i := int64(1); i < 50; i++ {
		if err := commit(doomed, i*1000); err != nil {
			t.Fatal(err)
		}
	}

	// waitBounded polls the partition's directory until it is within the bound.
	peak := int64(0)
	waitBounded := func(when string) int64 {
		t.Helper()
		first := dirBytes(t, dir)
		peak = max(peak, first)
		for deadline := time.Now().Add(3 * time.Minute); ; {
			n := dirBytes(t, dir)
			if n <= bound {
				t.Logf("%s: %s-%d holds %d bytes on disk (%d when the phase ended; bound %d)", when, offsetsTopic, part, n, first, bound)
				return n
			}
			if time.Now().After(deadline) {
				entries, _ := os.ReadDir(dir)
				var files []string
				for _, e := range entries {
					fi, _ := e.Info()
					files = append(files, fmt.Sprintf("%s %d", e.Name(), fi.Size()))
				}
				t.Fatalf("%s: %s-%d still holds %d bytes, over the bound %d:\n%s", when, offsetsTopic, part, n, bound, strings.Join(files, "\n"))
			}
			time.Sleep(100 * time.Millisecond) // polling the cleaner's progress in another process
		}
	}

	perRequest := int64(topicParts)
	requests := total / (groups * topicParts * phases) // per group per phase
	next := map[string]int64{}                         // per group: the base of its next commit
	start := time.Now()
	for phase := 0; phase < phases; phase++ {
		var wg sync.WaitGroup
		errs := make(chan error, groups)
		for _, g := range names {
			wg.Add(1)
			go func(g string, base int64) { // owned by the phase: waited on below
				defer wg.Done()
				for i := 0; i < requests; i++ {
					if err := commit(g, base+int64(i)*perRequest); err != nil {
						errs <- fmt.Errorf("%s, request %d: %w", g, i, err)
						return
					}
				}
			}(g, next[g])
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, g := range names {
			next[g] += int64(requests) * perRequest
		}
		if phase == phases/2-1 {
			resp, err := adm.DeleteGroup(ctx, doomed)
			if err != nil || resp.Err != nil {
				t.Fatalf("delete %s: %v %v", doomed, err, resp.Err)
			}
		}
		waitBounded(fmt.Sprintf("after %d commits", (phase+1)*total/phases))
	}
	elapsed := time.Since(start)
	t.Logf("%d partition offsets committed in %d requests in %v (%.0f offsets/s); peak %d bytes at a phase's end",
		total, total/topicParts, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), peak)

	// want is every group's latest offsets: the last request's.
	checkOffsets := func(when string) {
		t.Helper()
		for _, g := range names {
			got, err := adm.FetchOffsets(ctx, g)
			if err != nil {
				t.Fatalf("%s: fetch %s: %v", when, g, err)
			}
			last := next[g] - perRequest
			for p := int32(0); p < topicParts; p++ {
				o, ok := got.Lookup(topic, p)
				if !ok || o.Err != nil || o.At != last+int64(p) {
					t.Fatalf("%s: %s partition %d: %+v, want offset %d", when, g, p, o, last+int64(p))
				}
			}
		}
		got, err := adm.FetchOffsets(ctx, doomed)
		if err != nil {
			t.Fatalf("%s: fetch %s: %v", when, doomed, err)
		}
		if n := len(got.Offsets()); n != 0 {
			t.Fatalf("%s: the deleted group %s has %d offsets again", when, doomed, n)
		}
	}
	checkOffsets("before the restart")

	c.Kill(1)
	c.WaitDeregistered(1, 60*time.Second) // before the restart: see WaitDeregistered
	c.StartBroker(1)
	c.WaitRegistered(1, 60*time.Second)
	adm = newAdmin(t, c.Bootstrap())
	checkOffsets("after a SIGKILL and restart")
	waitBounded("after the restart")

	// At rest: every key's latest value is the expected one; below the cleaner's checkpoint (the
	// first offset it has not cleaned, in Kafka's cleaner-offset-checkpoint) no key appears twice;
	// nothing of the deleted group is left.
	c.Stop(1)
	firstDirty := cleanerCheckpoint(t, c.Broker(1).DataDir, offsetsTopic, part)
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no segment")
	}
	type key struct {
		group string
		p     int32
	}
	latest := map[key]int64{}
	below := map[string]int64{} // raw key → offset, below the cleaner's checkpoint
	dirty := 0
	for _, f := range files {
		for _, r := range readOffsetsSegment(t, f) {
			if r.offset < firstDirty {
				if prev, dup := below[string(r.key)]; dup {
					t.Fatalf("%s: key %q at offsets %d and %d below the cleaner checkpoint %d: not compacted", filepath.Base(f), r.key, prev, r.offset, firstDirty)
				}
				below[string(r.key)] = r.offset
			} else {
				dirty++
			}
			if binary.BigEndian.Uint16(r.key) == 2 {
				continue // group metadata: none of these groups has members
			}
			var k kmsg.OffsetCommitKey
			if err := k.ReadFrom(r.key); err != nil {
				t.Fatalf("offset key at %d: %v", r.offset, err)
			}
			if k.Group == doomed {
				t.Fatalf("offset %d: a record of the deleted group %s (tombstone %v) outlived delete.retention.ms 0", r.offset, doomed, r.value == nil)
			}
			if r.value == nil {
				delete(latest, key{k.Group, k.Partition})
				continue
			}
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.value); err != nil {
				t.Fatalf("offset value at %d: %v", r.offset, err)
			}
			latest[key{k.Group, k.Partition}] = v.Offset
		}
	}
	for _, g := range names {
		for p := int32(0); p < topicParts; p++ {
			if want := next[g] - perRequest + int64(p); latest[key{g, p}] != want {
				t.Fatalf("segments: %s partition %d: latest %d, want %d", g, p, latest[key{g, p}], want)
			}
		}
	}
	if len(latest) != groups*topicParts {
		t.Fatalf("segments: %d keys with a value, want %d", len(latest), groups*topicParts)
	}
	if len(below) == 0 {
		t.Fatalf("cleaner checkpoint %d: nothing below it was ever cleaned", firstDirty)
	}
	t.Logf("at rest: %d segments; %d records below the cleaner checkpoint %d, each key once; %d records above it",
		len(files), len(below), firstDirty, dirty)
}

// cleanerCheckpoint reads the first dirty offset of topic-partition from a log dir's
// cleaner-offset-checkpoint (Kafka's offset checkpoint format: version 0, a count, then
// "<topic> <partition> <offset>" lines).
func cleanerCheckpoint(t *testing.T, logDir, topic string, partition int32) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(logDir, "cleaner-offset-checkpoint"))
	if err != nil {
		t.Fatalf("cleaner checkpoint: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 || lines[0] != "0" {
		t.Fatalf("cleaner checkpoint: %q", data)
	}
	for _, l := range lines[2:] {
		var tp string
		var p int32
		var off int64
		if n, _ := fmt.Sscanf(l, "%s %d %d", &tp, &p, &off); n == 3 && tp == topic && p == partition {
			return off
		}
	}
	t.Fatalf("cleaner checkpoint has no %s-%d: %q", topic, partition, data)
	return 0
}

// TestCompactedOffsetsFollowerCatchesUpAndLeads: a replica of a __consumer_offsets partition
// is down while its groups commit 100,000 offsets and the leader compacts the partition; it
// comes back and catches up by fetching the compacted log (offsets with gaps, batches emptied
// of superseded records), rejoins the ISR, and then becomes the groups' coordinator: the other
// replicas are stopped and killed, so it is the only one left to lead. The offsets it loads from
// its own replica are the latest each group committed.
func TestCompactedOffsetsFollowerCatchesUpAndLeads(t *testing.T) {
	const (
		topic        = "caught-up"
		topicParts   = 50
		offsetsParts = 3
		segmentBytes = 64 << 10
		requests     = 1000 // per group: 100,000 offsets in all
	)
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"offsets.topic.replication.factor": "3",
		"offsets.topic.num.partitions":     fmt.Sprint(offsetsParts),
		"offsets.topic.segment.bytes":      fmt.Sprint(segmentBytes),
		"log.cleaner.backoff.ms":           "50",
		"log.segment.delete.delay.ms":      "200",
		"zookeeper.session.timeout.ms":     "6000",
	}})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, topic, topicParts, nil)
	conn := c.ZKConn()

	part := kafkaGroupPartition("caught-up-0", offsetsParts)
	var names []string
	for i := 0; len(names) < 2; i++ {
		if g := fmt.Sprintf("caught-up-%d", i); kafkaGroupPartition(g, offsetsParts) == part {
			names = append(names, g)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.RequestTimeoutOverhead(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	commit := func(group string, base int64) error {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation, req.MemberID = group, -1, ""
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p := int32(0); p < topicParts; p++ {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, base+int64(p), -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
		return nil
	}
	for deadline := time.Now().Add(60 * time.Second); commit(names[0], 0) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("no coordinator")
		}
		time.Sleep(100 * time.Millisecond) // polling the broker's creation of the topic
	}
	waitConverged(t, conn, offsetsTopic, offsetsParts, 3, 90*time.Second)

	st := waitPartition(t, conn, offsetsTopic, part, 30*time.Second, "leader", func(s partitionState) bool { return s.Leader > 0 })
	leader := st.Leader
	var followers []int32
	for id := int32(1); id <= 3; id++ {
		if id != leader {
			followers = append(followers, id)
		}
	}
	late, other := followers[0], followers[1]
	t.Logf("%s-%d: leader %d; broker %d is down while the groups commit", offsetsTopic, part, leader, late)

	c.Stop(late)
	waitPartition(t, conn, offsetsTopic, part, 60*time.Second, "late replica out of the ISR",
		func(s partitionState) bool { return !containsID(s.ISR, late) })
	next := map[string]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, g := range names {
		wg.Add(1)
		go func(g string) { // owned by the test: waited on below
			defer wg.Done()
			for i := int64(0); i < requests; i++ {
				if err := commit(g, 1_000+i*topicParts); err != nil {
					errs <- fmt.Errorf("%s, request %d: %w", g, i, err)
					return
				}
			}
		}(g)
		next[g] = 1_000 + requests*topicParts
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The leader compacts what was written: its replica shrinks to well under what the commits
	// wrote (about 6 MB).
	leaderDir := filepath.Join(c.Broker(leader).DataDir, fmt.Sprintf("%s-%d", offsetsTopic, part))
	for deadline := time.Now().Add(3 * time.Minute); dirBytes(t, leaderDir) > 4*segmentBytes; {
		if time.Now().After(deadline) {
			t.Fatalf("the leader's replica still holds %d bytes", dirBytes(t, leaderDir))
		}
		time.Sleep(100 * time.Millisecond) // polling the cleaner in another process
	}

	c.StartBroker(late)
	c.WaitRegistered(late, 60*time.Second)
	waitPartition(t, conn, offsetsTopic, part, 120*time.Second, "late replica back in the ISR",
		func(s partitionState) bool { return containsID(s.ISR, late) })
	lateDir := filepath.Join(c.Broker(late).DataDir, fmt.Sprintf("%s-%d", offsetsTopic, part))
	t.Logf("broker %d caught up: its replica holds %d bytes, the leader's %d", late, dirBytes(t, lateDir), dirBytes(t, leaderDir))

	// Leave the late replica the only one to lead.
	c.Stop(other)
	waitPartition(t, conn, offsetsTopic, part, 60*time.Second, "third replica out of the ISR",
		func(s partitionState) bool { return !containsID(s.ISR, other) })
	c.Kill(leader)
	waitPartition(t, conn, offsetsTopic, part, 90*time.Second, "the late replica leads",
		func(s partitionState) bool { return s.Leader == late })
	waitCoordinator(ctx, t, c.Addr(late), names, late)
	for _, g := range names {
		got := waitOffsetsAt(ctx, t, c.Addr(late), g)
		last := next[g] - topicParts
		for p := int32(0); p < topicParts; p++ {
			if got[p] != last+int64(p) {
				t.Fatalf("%s partition %d at the new coordinator %d: %d, want %d (all: %v)", g, p, late, got[p], last+int64(p), got)
			}
		}
	}
	t.Logf("broker %d loaded both groups' latest offsets from the replica it fetched compacted", late)
}
