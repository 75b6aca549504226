package api

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
)

// produce hands each partition's raw record bytes — a sub-slice of the request frame, never
// copied or decoded here — to replica.Produce, after Kafka's request-level checks:
//
//   - a transactional id answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition:
//     there is no transaction coordinator, so no transactional id can be valid here (Kafka
//     answers the same when the id is not authorized). Transactional batches without a
//     transactional id get the same answer for the whole request, as in Kafka's
//     handleProduceRequest;
//   - a partition named more than once answers INVALID_RECORD for each of its entries and none
//     of them is written (Kafka keeps only the last entry and answers once, silently dropping
//     the others: refusing is the safe reading of a malformed request);
//   - a partition this broker does not host answers NOT_LEADER_OR_FOLLOWER if the metadata
//     cache knows it, else UNKNOWN_TOPIC_OR_PARTITION (Kafka's getPartitionOrError). The replica
//     manager decides, not the cache: LeaderAndIsr reaches a new leader before UpdateMetadata
//     does, and the leader must serve as soon as it leads. Produce never auto-creates topics;
//   - v3+ partitions must hold exactly one magic-2 batch (INVALID_RECORD), zstd needs v7+
//     (UNSUPPORTED_COMPRESSION_TYPE), clients may not write control batches nor an idempotent
//     batch without a sequence (INVALID_RECORD, Kafka's LogValidator.validateBatch for client
//     appends) — checked on the batch header only;
//   - acks other than -1, 0, 1 answer INVALID_REQUIRED_ACKS;
//   - internal topics (__consumer_offsets) answer INVALID_TOPIC_EXCEPTION unless the client id
//     is Kafka's admin client id, as Kafka's ReplicaManager does.
//
// With acks=0 nothing is sent back; if any partition failed the connection is closed, as Kafka
// does, so the producer notices and refreshes its metadata.
func (h *Handler) produce(ctx context.Context, r *network.Request, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(r.Version)
	snap := h.o.Cache.Snapshot()
	validAcks := req.Acks == -1 || req.Acks == 0 || req.Acks == 1

	parts := make(map[klog.TopicPartition][]byte)
	slots := make(map[klog.TopicPartition]*kmsg.ProduceResponseTopicPartition)
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	failed := 0
	named := make(map[klog.TopicPartition]int)
	transactional := false
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			named[klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}]++
			transactional = transactional || isTransactionalBatch(p.Records)
		}
	}
	for ti := range req.Topics {
		t := &req.Topics[ti]
		rt := &resp.Topics[ti]
		*rt = kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			rp := &rt.Partitions[pi]
			*rp = kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.BaseOffset = -1
			tp := klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			var err error
			switch {
			case req.TransactionID != nil:
				err = errorf(kerr.TransactionalIDAuthorizationFailed, "transactions are not supported by this broker")
			case transactional:
				err = errorf(kerr.TransactionalIDAuthorizationFailed, "transactional records from a producer without a transactional id")
			case named[tp] > 1:
				err = errorf(kerr.InvalidRecord, "partition %s is named %d times in one produce request; none of its entries was written", tp, named[tp])
			case isInternalTopic(t.Topic) && r.ClientID != adminClientID:
				// Only the coordinators write internal topics (Kafka's internalTopicsAllowed).
				err = errorf(kerr.InvalidTopicException, "Cannot append to internal topic %s", t.Topic)
			case !validAcks:
				err = kerr.InvalidRequiredAcks
			default:
				err = validateProduceRecords(r.Version, p.Records)
			}
			if err != nil {
				setProduceError(rp, err)
				failed++
				h.countProduceFailed(snap, t.Topic)
				continue
			}
			parts[tp] = p.Records
			slots[tp] = rp
		}
	}

	if len(parts) > 0 {
		timeout := h.requestTimeout(req.TimeoutMillis) // capped: gregor.request.timeout.max.ms
		// The wait for replicas is not work: the request leaves the request queue for it (and,
		// handled on the reader, hands the connection's reading on), only if it waits at all.
		results := h.o.Replicas.ProduceThen(ctx, req.Acks, timeout, parts, r.Release, func() { network.Parked(ctx) })
		for tp, rp := range slots {
			res, ok := results[tp]
			if !ok {
				res.Err = fmt.Errorf("no produce result for %s", tp)
			}
			if res.Err != nil {
				setProduceError(rp, partitionError(snap, tp, res.Err))
				failed++
				h.countProduceFailed(snap, tp.Topic)
				continue
			}
			rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
			h.o.Traffic.Produced(tp.Topic, parts[tp])
		}
	}

	if req.Acks == 0 {
		if failed > 0 {
			return nil, fmt.Errorf("acks=0 produce had %d failed partition(s); closing the connection so the producer refreshes its metadata", failed)
		}
		return nil, nil
	}
	return resp, nil
}

func setProduceError(rp *kmsg.ProduceResponseTopicPartition, err error) {
	rp.ErrorCode = ErrorCode(err)
	rp.ErrorMessage = errorMessage(err)
	rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
}

// knownPartition reports whether the metadata cache knows topic-p.
func knownPartition(snap *metadata.Snapshot, topic string, p int32) bool {
	_, ok := snap.Partition(topic, p)
	return ok
}

// partitionError refines a replica error: a partition the cluster knows but this broker does
// not host is NOT_LEADER_OR_FOLLOWER (the client looks up the leader again), not
// UNKNOWN_TOPIC_OR_PARTITION — Kafka's ReplicaManager.getPartitionOrError.
func partitionError(snap *metadata.Snapshot, tp klog.TopicPartition, err error) error {
	if errors.Is(err, replica.ErrUnknownTopicOrPartition) && knownPartition(snap, tp.Topic, tp.Partition) {
		return kerr.NotLeaderForPartition
	}
	return err
}

// Record-batch header offsets (magic 2) used by the request-level checks.
const (
	batchLengthOffset = 8  // int32 after the base offset
	batchMagicOffset  = 16 // after base offset, length, partition leader epoch
	batchAttrOffset   = 21 // after magic and CRC
	batchLogOverhead  = 12 // base offset + length
	minBatchLength    = 14 // Kafka's smallest record (v0) overhead: shorter lengths are corrupt
	compressionZstd   = 4

	batchProducerIDOffset   = 43
	batchBaseSequenceOffset = 53
	batchHeaderBytes        = 61
	attrTransactional       = 0x10
	attrControl             = 0x20
)

// isTransactionalBatch reports whether records start with a batch header whose transactional
// attribute is set (v3+ requests carry exactly one batch per partition).
func isTransactionalBatch(records []byte) bool {
	return len(records) >= batchAttrOffset+2 && records[batchMagicOffset] == 2 &&
		binary.BigEndian.Uint16(records[batchAttrOffset:])&attrTransactional != 0
}

// validateProduceRecords applies Kafka's ProduceRequest.validateRecords for v3+ on the header of
// the first batch only: at least and exactly one batch, magic 2, no zstd before v7. Full
// validation (CRC, framing, sizes) is the log's.
func validateProduceRecords(version int16, records []byte) error {
	if len(records) < batchMagicOffset+1 {
		return errorf(kerr.InvalidRecord, "Produce requests with version %d must have at least one record batch", version)
	}
	length := int32(binary.BigEndian.Uint32(records[batchLengthOffset:]))
	if length < minBatchLength {
		return errorf(kerr.CorruptMessage, "record batch size %d is smaller than the minimum allowed overhead", length)
	}
	total := int64(length) + batchLogOverhead
	if total > int64(len(records)) {
		return errorf(kerr.InvalidRecord, "Produce requests with version %d must have at least one record batch", version)
	}
	if records[batchMagicOffset] != 2 {
		return errorf(kerr.InvalidRecord, "Produce requests with version %d are only allowed to contain record batches with magic version 2", version)
	}
	if total != int64(len(records)) {
		return errorf(kerr.InvalidRecord, "Produce requests with version %d are only allowed to contain exactly one record batch per partition", version)
	}
	if version < 7 && len(records) >= batchAttrOffset+2 &&
		binary.BigEndian.Uint16(records[batchAttrOffset:])&0x7 == compressionZstd {
		return errorf(kerr.UnsupportedCompressionType, "Produce requests with version %d cannot use zstd compression (v7+ required)", version)
	}
	if len(records) < batchHeaderBytes {
		return nil // too short for the fields below: the log answers CORRUPT_MESSAGE
	}
	if binary.BigEndian.Uint16(records[batchAttrOffset:])&attrControl != 0 {
		return errorf(kerr.InvalidRecord, "Clients are not allowed to write control records")
	}
	pid := int64(binary.BigEndian.Uint64(records[batchProducerIDOffset:]))
	if seq := int32(binary.BigEndian.Uint32(records[batchBaseSequenceOffset:])); pid >= 0 && seq < 0 {
		return errorf(kerr.InvalidRecord, "Invalid sequence number %d in record batch with producerId %d", seq, pid)
	}
	return nil
}
