package checker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestReadAllAgainstABroker runs the checker end to end against one real broker: idempotent
// writes to three partitions pass; a write the checker was never told about is reported; after
// DeleteRecords the read starts at the new log start, so the deleted records are reported lost.
func TestReadAllAgainstABroker(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.DefaultProduceTopic("chk"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if r, err := adm.CreateTopic(ctx, 3, 1, nil, "chk"); err != nil || r.Err != nil {
		t.Fatalf("create topic: %v %v", err, r.Err)
	}

	h := checker.New(checker.Options{Idempotent: true})
	for i := 0; i < 30; i++ {
		r := &kgo.Record{Partition: int32(i % 3), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("value-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}}
		if i == 7 {
			r.Value = nil // a tombstone is a distinct content from an empty value
		}
		res := cl.ProduceSync(ctx, r)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		h.Acked(checker.FromKgo(res[0].Record))
	}
	read, err := checker.ReadAll(ctx, c.Bootstrap(), "chk")
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != 30 {
		t.Fatalf("ReadAll returned %d records, want 30", len(read))
	}
	if err := h.Check(read).Err(); err != nil {
		t.Fatalf("a clean run fails the check: %v", err)
	}

	// A record nobody recorded is unexpected.
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("unrecorded")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	read, err = checker.ReadAll(ctx, c.Bootstrap(), "chk")
	if err != nil {
		t.Fatal(err)
	}
	if rep := h.Check(read); rep.Count(checker.Unexpected) != 1 || rep.Err() == nil {
		t.Fatalf("an unrecorded write: %v", rep)
	}

	// Reading starts at the log start: deleted records are lost to the checker.
	var del kadm.Offsets
	del.AddOffset("chk", 0, 4, -1)
	resps, err := adm.DeleteRecords(ctx, del)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	read, err = checker.ReadAll(ctx, c.Bootstrap(), "chk")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range read {
		if r.Partition == 0 && r.Offset < 4 {
			t.Fatalf("ReadAll returned offset %d, below the log start 4", r.Offset)
		}
	}
	if rep := h.Check(read); rep.Count(checker.Lost) != 4 {
		t.Fatalf("after deleting 4 records: %v", rep)
	}

	// ReadBack waits for the high watermark to cover what was acknowledged, then reads: here
	// it already does, and the read equals ReadAll's.
	back, err := checker.ReadBack(ctx, c.Bootstrap(), h, "chk")
	if err != nil || len(back) != len(read) {
		t.Fatalf("ReadBack: %d records (%v), ReadAll %d", len(back), err, len(read))
	}
	// An acknowledgement naming an offset the log never reaches: ReadBack gives up waiting after
	// its bound and the record is reported lost, not hidden.
	defer checker.SetSettleTimeout(checker.SetSettleTimeout(time.Second))
	h.Acked(checker.Record{Topic: "chk", Partition: 2, Offset: 1000, Value: []byte("never written")})
	back, err = checker.ReadBack(ctx, c.Bootstrap(), h, "chk")
	if err != nil {
		t.Fatal(err)
	}
	if rep := h.Check(back); rep.Count(checker.Lost) != 4+1 {
		t.Fatalf("an acknowledgement beyond the log end: %v", rep)
	}

	if _, err := checker.ReadAll(ctx, c.Bootstrap(), "no-such-topic"); err == nil {
		t.Fatal("ReadAll of a missing topic succeeded")
	}
}
