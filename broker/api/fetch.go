package api

import (
	"context"
	"encoding/binary"

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
	fr := &fetchResponse{}
	fr.Default()
	resp := &fr.FetchResponse
	resp.SetVersion(r.Version)
	if r.Version >= 7 && req.SessionEpoch != fetchInitialEpoch && req.SessionEpoch != fetchFinalEpoch {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		resp.Topics = []kmsg.FetchResponseTopic{}
		return resp, nil
	}
	snap := h.o.Cache.Snapshot()
	// Broker-side caps (limits.go) before anything is handed to the replica manager.
	maxBytes, minBytes, maxWait := h.fetchLimits(req.MaxBytes, req.MinBytes, req.MaxWaitMillis)

	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	n := 0
	for ti := range req.Topics {
		n += len(req.Topics[ti].Partitions)
	}
	wanted := make([]replica.FetchPartition, 0, n)
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
			fp := replica.FetchPartition{
				TP:                 klog.TopicPartition{Topic: t.Topic, Partition: p.Partition},
				Offset:             p.FetchOffset,
				MaxBytes:           min(p.PartitionMaxBytes, maxBytes),
				CurrentLeaderEpoch: -1,
			}
			fp.LastFetchedEpoch = -1
			if r.Version >= 9 {
				fp.CurrentLeaderEpoch = p.CurrentLeaderEpoch
			}
			if r.Version >= 12 {
				fp.LastFetchedEpoch = p.LastFetchedEpoch
			}
			wanted = append(wanted, fp)
		}
	}
	if len(wanted) == 0 {
		return resp, nil
	}
	if maxWait > 0 && minBytes > 0 {
		network.Parked(ctx) // a long poll waits for data, not for the broker: it leaves the request queue
	}
	rack := ""
	if r.Version >= 11 {
		rack = req.Rack
	}
	// From v10 the records stay in the segment files until the network sends them (sendfile);
	// older versions need the bytes here, to refuse zstd batches to clients that predate it.
	zeroCopy := r.Version >= 10
	results := h.o.Replicas.Fetch(ctx, replica.FetchParams{
		ReplicaID:  req.ReplicaID,
		RackID:     rack,
		MaxWait:    maxWait,
		MinBytes:   minBytes,
		MaxBytes:   maxBytes,
		Partitions: wanted,
		ZeroCopy:   zeroCopy,
	})
	if zeroCopy {
		fr.results = results
		fr.files = make([]*klog.Records, len(wanted))
	}
	files := 0
	i := 0
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			rp := &resp.Topics[ti].Partitions[pi]
			res := resultFor(results, i, wanted[i].TP)
			i++
			if res == nil {
				setFetchError(rp, kerr.UnknownServerError)
				continue
			}
			if res.Err != nil {
				setFetchError(rp, partitionError(snap, res.TP, res.Err))
				if req.ReplicaID < 0 {
					h.countFetchFailed(snap, res.TP.Topic)
				}
				continue
			}
			rp.PreferredReadReplica = res.PreferredReadReplica
			if res.Diverging {
				rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = res.DivergingEpoch, res.DivergingEndOffset
			}
			rp.HighWatermark = res.HighWatermark
			rp.LastStableOffset = res.LastStableOffset
			rp.LogStartOffset = res.LogStartOffset
			rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			rp.RecordBatches = res.Records
			if rp.RecordBatches == nil {
				rp.RecordBatches = []byte{} // an empty record set, never null
			}
			if res.Files.Len() > 0 {
				fr.files[i-1] = &res.Files
				files++
			}
			if r.Version < 10 && hasZstdBatch(rp.RecordBatches) {
				// Kafka does not down-convert zstd for old fetchers.
				setFetchError(rp, kerr.UnsupportedCompressionType)
			}
			if req.ReplicaID < 0 { // replication is not client traffic (Kafka's BytesOutPerSec)
				if zeroCopy {
					h.o.Traffic.FetchedSpan(res.TP.Topic, res.Files.NextOffset-res.Files.FirstOffset, res.Files.Len())
				} else {
					h.o.Traffic.Fetched(res.TP.Topic, rp.RecordBatches)
				}
			}
		}
	}
	if files == 0 {
		replica.ReleaseFetch(results) // nothing held (errors or no data): a plain response
		return resp, nil
	}
	return fr, nil
}

// resultFor is the result for the i-th partition asked: replica.Fetch answers in request order,
// checked by topic-partition (a partition named twice has two results).
func resultFor(results []replica.FetchResult, i int, tp klog.TopicPartition) *replica.FetchResult {
	if i < len(results) && results[i].TP == tp {
		return &results[i]
	}
	for j := range results {
		if results[j].TP == tp {
			return &results[j]
		}
	}
	return nil
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
