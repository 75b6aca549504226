package api

import (
	"context"
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/fetchsession"
	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
)

// fetch answers a Fetch. From v7 a fetcher may keep an incremental fetch session (KIP-227,
// broker/fetchsession): the session says which partitions to read — a full request's own, or
// every partition of the session — and which answers to send. Records come from replica.Fetch
// as the log's bytes, whole batches.
func (h *Handler) fetch(ctx context.Context, r *network.Request, req *kmsg.FetchRequest) (kmsg.Response, error) {
	fr := &fetchResponse{}
	fr.Default()
	resp := &fr.FetchResponse
	resp.SetVersion(r.Version)
	resp.Topics = []kmsg.FetchResponseTopic{}
	snap := h.o.Cache.Snapshot()
	// Broker-side caps (limits.go) before anything is handed to the replica manager.
	maxBytes, minBytes, maxWait := h.fetchLimits(req.MaxBytes, req.MinBytes, req.MaxWaitMillis)

	sreq := fetchsession.Request{SessionID: fetchsession.NoSession, Epoch: fetchsession.FinalEpoch,
		Partitions: requestedPartitions(r.Version, req), Follower: req.ReplicaID >= 0}
	if r.Version >= 7 {
		sreq.SessionID, sreq.Epoch = req.SessionID, req.SessionEpoch
		for _, t := range req.ForgottenTopics {
			for _, p := range t.Partitions {
				sreq.Forgotten = append(sreq.Forgotten, klog.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	sctx := h.sessions.NewContext(sreq)
	if sctx.ErrorCode != 0 {
		resp.ErrorCode = sctx.ErrorCode
		return resp, nil
	}
	wanted := sctx.Partitions
	// From v10 the records stay in the segment files until the network sends them (sendfile);
	// older versions need the bytes here, to refuse zstd batches to clients that predate it.
	zeroCopy := r.Version >= 10
	var results []replica.FetchResult
	if len(wanted) > 0 {
		if maxWait > 0 && minBytes > 0 {
			network.Parked(ctx) // a long poll waits for data, not for the broker: it leaves the request queue
		}
		rack := ""
		if r.Version >= 11 {
			rack = req.Rack
		}
		results = h.o.Replicas.Fetch(ctx, replica.FetchParams{
			ReplicaID:  req.ReplicaID,
			RackID:     rack,
			MaxWait:    maxWait,
			MinBytes:   minBytes,
			MaxBytes:   maxBytes,
			Partitions: wanted,
			ZeroCopy:   zeroCopy,
		})
	}
	parts := make([]kmsg.FetchResponseTopicPartition, len(wanted))
	files := make([]*klog.Records, len(wanted))
	var answers []fetchsession.Answer
	if sctx.Tracked() {
		answers = make([]fetchsession.Answer, len(wanted))
	}
	for i := range wanted {
		rp := &parts[i]
		*rp = kmsg.NewFetchResponseTopicPartition()
		rp.Partition = wanted[i].TP.Partition
		files[i] = h.fetchAnswer(rp, resultFor(results, i, wanted[i].TP), snap, r.Version, req.ReplicaID, zeroCopy)
		if answers != nil {
			answers[i] = fetchsession.Answer{
				HighWatermark: rp.HighWatermark, LogStartOffset: rp.LogStartOffset, ErrorCode: rp.ErrorCode,
				Records: len(rp.RecordBatches) > 0 || files[i] != nil,
				Always:  rp.PreferredReadReplica >= 0 || rp.DivergingEpoch.Epoch != -1,
			}
		}
	}
	sessionID, errCode, keep := h.sessions.Finish(&sctx, answers)
	resp.SessionID = sessionID
	if errCode != 0 {
		resp.ErrorCode = errCode
		replica.ReleaseFetch(results)
		return resp, nil
	}
	// The answers kept, moved down in place (wanted too: nothing reads it past Finish), then each
	// topic's consecutive partitions under one topic entry, sharing parts' array, as Kafka builds
	// the response from its ordered partition map.
	n, held := 0, 0
	for i := range parts {
		if keep != nil && !keep[i] {
			continue
		}
		parts[n], files[n], wanted[n] = parts[i], files[i], wanted[i]
		if files[n] != nil {
			held++
		}
		n++
	}
	for start := 0; start < n; {
		end := start + 1
		for end < n && wanted[end].TP.Topic == wanted[start].TP.Topic {
			end++
		}
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = wanted[start].TP.Topic
		rt.Partitions = parts[start:end:end]
		resp.Topics = append(resp.Topics, rt)
		start = end
	}
	fr.files = files[:n]
	if held == 0 {
		replica.ReleaseFetch(results) // nothing held (errors or no data): a plain response
		return resp, nil
	}
	fr.results = results
	return fr, nil
}

// requestedPartitions is a Fetch request's partitions as the replica layer reads them, in
// request order. Each keeps its own max bytes (a session holds it for later fetches, whose
// response max may differ); replica.Fetch caps it by the response's.
func requestedPartitions(version int16, req *kmsg.FetchRequest) []replica.FetchPartition {
	n := 0
	for ti := range req.Topics {
		n += len(req.Topics[ti].Partitions)
	}
	wanted := make([]replica.FetchPartition, 0, n)
	for ti := range req.Topics {
		t := &req.Topics[ti]
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			fp := replica.FetchPartition{
				TP:                 klog.TopicPartition{Topic: t.Topic, Partition: p.Partition},
				Offset:             p.FetchOffset,
				MaxBytes:           p.PartitionMaxBytes,
				CurrentLeaderEpoch: -1,
				LastFetchedEpoch:   -1,
			}
			if version >= 9 {
				fp.CurrentLeaderEpoch = p.CurrentLeaderEpoch
			}
			if version >= 12 {
				fp.LastFetchedEpoch = p.LastFetchedEpoch
			}
			wanted = append(wanted, fp)
		}
	}
	return wanted
}

// fetchAnswer fills one partition's response from its fetch result and counts the client's
// traffic; it returns the segment ranges holding its records when they stay in the files
// (zeroCopy), else nil.
func (h *Handler) fetchAnswer(rp *kmsg.FetchResponseTopicPartition, res *replica.FetchResult, snap *metadata.Snapshot,
	version int16, replicaID int32, zeroCopy bool) *klog.Records {
	if res == nil {
		setFetchError(rp, kerr.UnknownServerError)
		return nil
	}
	if res.Err != nil {
		setFetchError(rp, partitionError(snap, res.TP, res.Err))
		if replicaID < 0 {
			h.countFetchFailed(snap, res.TP.Topic)
		}
		return nil
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
	if version < 10 && hasZstdBatch(rp.RecordBatches) {
		// Kafka does not down-convert zstd for old fetchers.
		setFetchError(rp, kerr.UnsupportedCompressionType)
		return nil
	}
	if replicaID < 0 { // replication is not client traffic (Kafka's BytesOutPerSec)
		if zeroCopy {
			h.o.Traffic.FetchedSpan(res.TP.Topic, res.Files.NextOffset-res.Files.FirstOffset, res.Files.Len())
		} else {
			h.o.Traffic.Fetched(res.TP.Topic, rp.RecordBatches)
		}
	}
	if res.Files.Len() > 0 {
		return &res.Files
	}
	return nil
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
