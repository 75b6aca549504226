package api

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
)

// Fetch session epochs (KIP-227).
const (
	fetchInitialEpoch = 0  // full fetch that would create a session
	fetchFinalEpoch   = -1 // full fetch without a session
)

// fetch serves every fetch sessionless, which KIP-227 allows a broker to do: a full request
// (session epoch 0 or -1) is answered in full with session id 0 — "no session was created" —
// so clients keep sending full requests; an incremental request (epoch > 0) can only name a
// session we never created and answers FETCH_SESSION_ID_NOT_FOUND, after which clients start
// over with a full request. Records come from replica.Fetch as the log's bytes, whole batches.
func (h *Handler) fetch(ctx context.Context, r *network.Request, req *kmsg.FetchRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(r.Version)
	if r.Version >= 7 && req.SessionEpoch != fetchInitialEpoch && req.SessionEpoch != fetchFinalEpoch {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		resp.Topics = []kmsg.FetchResponseTopic{}
		return resp, nil
	}
	snap := h.o.Cache.Snapshot()

	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	type slot struct{ ti, pi int }
	var wanted []replica.FetchPartition
	var slots []slot
	for ti := range req.Topics {
		t := &req.Topics[ti]
		rt := &resp.Topics[ti]
		*rt = kmsg.NewFetchResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.FetchResponseTopicPartition, len(t.Partitions))
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			rp := &rt.Partitions[pi]
			*rp = kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			if !knownPartition(snap, t.Topic, p.Partition) {
				setFetchError(rp, kerr.UnknownTopicOrPartition)
				continue
			}
			fp := replica.FetchPartition{
				TP:                 klog.TopicPartition{Topic: t.Topic, Partition: p.Partition},
				Offset:             p.FetchOffset,
				MaxBytes:           p.PartitionMaxBytes,
				CurrentLeaderEpoch: -1,
			}
			if r.Version >= 9 {
				fp.CurrentLeaderEpoch = p.CurrentLeaderEpoch
			}
			wanted = append(wanted, fp)
			slots = append(slots, slot{ti, pi})
		}
	}
	if len(wanted) == 0 {
		return resp, nil
	}
	maxBytes := req.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 1<<31 - 1 // Fetch < v3 had no limit; a non-positive one is read as none
	}
	results := h.o.Replicas.Fetch(ctx, replica.FetchParams{
		ReplicaID:  req.ReplicaID,
		MaxWait:    time.Duration(req.MaxWaitMillis) * time.Millisecond,
		MinBytes:   req.MinBytes,
		MaxBytes:   maxBytes,
		Partitions: wanted,
	})
	// replica.Fetch answers in request order; match by topic-partition to be safe.
	byTP := make(map[klog.TopicPartition]*replica.FetchResult, len(results))
	for i := range results {
		byTP[results[i].TP] = &results[i]
	}
	for i, s := range slots {
		rp := &resp.Topics[s.ti].Partitions[s.pi]
		res := byTP[wanted[i].TP]
		if res == nil {
			setFetchError(rp, kerr.UnknownServerError)
			continue
		}
		if res.Err != nil {
			setFetchError(rp, partitionError(snap, res.TP, res.Err))
			continue
		}
		rp.HighWatermark = res.HighWatermark
		rp.LastStableOffset = res.LastStableOffset
		rp.LogStartOffset = res.LogStartOffset
		rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		rp.RecordBatches = res.Records
		if rp.RecordBatches == nil {
			rp.RecordBatches = []byte{} // an empty record set, never null
		}
		if r.Version < 10 && hasZstdBatch(rp.RecordBatches) {
			// Kafka does not down-convert zstd for old fetchers.
			setFetchError(rp, kerr.UnsupportedCompressionType)
		}
	}
	return resp, nil
}

func setFetchError(rp *kmsg.FetchResponseTopicPartition, err error) {
	rp.ErrorCode = ErrorCode(err)
	rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
	rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	rp.RecordBatches = []byte{}
}

// hasZstdBatch walks batch headers (not records) looking for zstd compression.
func hasZstdBatch(b []byte) bool {
	for len(b) >= batchAttrOffset+2 {
		if binary.BigEndian.Uint16(b[batchAttrOffset:])&0x7 == compressionZstd {
			return true
		}
		n := int64(int32(binary.BigEndian.Uint32(b[batchLengthOffset:]))) + batchLogOverhead
		if n <= batchLogOverhead || n > int64(len(b)) {
			return false
		}
		b = b[n:]
	}
	return false
}
