package api

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/fetchsession"
	"github.com/gregor-broker/gregor/broker/network"
)

// TestFetchSessionAnswersWhatChanged: a Fetch v12 with session epoch 0 opens a session and is
// answered in full; incremental fetches on it read every partition of the session from the
// offsets it holds and answer only the partitions with news; a repeated epoch is refused.
func TestFetchSessionAnswersWhatChanged(t *testing.T) {
	h := benchHandler(t, 2)
	h.sessions = fetchsession.New(fetchsession.Options{Slots: 10})
	ctx := context.Background()
	produce := func(partitions int32, n int) {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(9)
		if err := req.ReadFrom(produceFrame(partitions, n)); err != nil {
			t.Fatal(err)
		}
		resp, err := h.Handle(ctx, &network.Request{Key: 0, Version: 9, Body: req})
		if err != nil || resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce: %v %+v", err, resp)
		}
	}
	fetch := func(id, epoch int32, offsets map[int32]int64) (*kmsg.FetchResponse, []int32) {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(12)
		req.ReplicaID, req.MaxBytes, req.SessionID, req.SessionEpoch = -1, 1<<20, id, epoch
		if len(offsets) > 0 {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "t"
			for p := int32(0); p < 2; p++ {
				if off, ok := offsets[p]; ok {
					pp := kmsg.NewFetchRequestTopicPartition()
					pp.Partition, pp.FetchOffset, pp.PartitionMaxBytes, pp.CurrentLeaderEpoch = p, off, 1<<20, -1
					rt.Partitions = append(rt.Partitions, pp)
				}
			}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := h.Handle(ctx, &network.Request{Key: 1, Version: 12, Body: req})
		if err != nil {
			t.Fatal(err)
		}
		var with []int32 // partitions answered with records
		var fr *kmsg.FetchResponse
		switch r := resp.(type) {
		case *fetchResponse:
			fr = &r.FetchResponse
			i := 0
			for _, rt := range r.Topics {
				for _, p := range rt.Partitions {
					if r.files[i] != nil {
						with = append(with, p.Partition)
					}
					i++
				}
			}
			r.Release()
		case *kmsg.FetchResponse:
			fr = r
		}
		return fr, with
	}
	answered := func(r *kmsg.FetchResponse) []int32 {
		var ps []int32
		for _, rt := range r.Topics {
			for _, p := range rt.Partitions {
				ps = append(ps, p.Partition)
			}
		}
		return ps
	}

	produce(2, 5) // offsets 0-4 on t-0 and t-1
	full, with := fetch(fetchsession.NoSession, fetchsession.InitialEpoch, map[int32]int64{0: 0, 1: 0})
	id := full.SessionID
	if full.ErrorCode != 0 || id == fetchsession.NoSession || len(with) != 2 {
		t.Fatalf("full fetch: error %d, session %d, records from %v", full.ErrorCode, id, with)
	}
	// Caught up, nothing new: an incremental fetch answers no partition.
	r, _ := fetch(id, 1, map[int32]int64{0: 5, 1: 5})
	if r.ErrorCode != 0 || r.SessionID != id || len(r.Topics) != 0 {
		t.Fatalf("idle incremental fetch: error %d, session %d, partitions %v", r.ErrorCode, r.SessionID, answered(r))
	}
	// Records on t-0 only: the next incremental fetch, naming nothing, answers t-0 alone.
	produce(1, 3)
	r, with = fetch(id, 2, nil)
	if r.ErrorCode != 0 || len(with) != 1 || with[0] != 0 || len(answered(r)) != 1 {
		t.Fatalf("incremental fetch after a produce to t-0: error %d, answered %v, records from %v", r.ErrorCode, answered(r), with)
	}
	if p := r.Topics[0].Partitions[0]; p.HighWatermark != 8 {
		t.Fatalf("t-0 high watermark %d, want 8", p.HighWatermark)
	}
	// The same epoch again: refused.
	r, _ = fetch(id, 2, nil)
	if r.ErrorCode != kerr.InvalidFetchSessionEpoch.Code || len(r.Topics) != 0 {
		t.Fatalf("repeated epoch: error %d, partitions %v", r.ErrorCode, answered(r))
	}
	if s := h.sessions.Stats(); s.Sessions != 1 || s.Partitions != 2 {
		t.Fatalf("cache %+v", s)
	}
}
