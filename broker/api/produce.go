package api

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

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
//     answers the same when the id is not authorized);
//   - a topic-partition unknown to the metadata cache answers UNKNOWN_TOPIC_OR_PARTITION.
//     Produce never auto-creates topics (Kafka 2.8+ creates only on Metadata); the client
//     refreshes metadata, which does;
//   - v3+ partitions must hold exactly one magic-2 batch (INVALID_RECORD), zstd needs v7+
//     (UNSUPPORTED_COMPRESSION_TYPE) — checked on the batch header only;
//   - acks other than -1, 0, 1 answer INVALID_REQUIRED_ACKS.
//
// With acks=0 nothing is sent back; if any partition failed the connection is closed, as Kafka
// does, so the producer notices and refreshes its metadata.
func (h *Handler) produce(ctx context.Context, r *network.Request, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(r.Version)
	snap := h.o.Cache.Snapshot()
	validAcks := req.Acks == -1 || req.Acks == 0 || req.Acks == 1

	parts := make(map[klog.TopicPartition][]byte)
	slots := make(map[klog.TopicPartition][]*kmsg.ProduceResponseTopicPartition)
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	failed := 0
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
			var err error
			switch {
			case req.TransactionID != nil:
				err = errorf(kerr.TransactionalIDAuthorizationFailed, "transactions are not supported by this broker")
			case !knownPartition(snap, t.Topic, p.Partition):
				err = kerr.UnknownTopicOrPartition
			case !validAcks:
				err = kerr.InvalidRequiredAcks
			default:
				err = validateProduceRecords(r.Version, p.Records)
			}
			if err != nil {
				setProduceError(rp, err)
				failed++
				continue
			}
			tp := klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			parts[tp] = p.Records
			slots[tp] = append(slots[tp], rp)
		}
	}

	if len(parts) > 0 {
		timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
		results := h.o.Replicas.Produce(ctx, req.Acks, timeout, parts)
		for tp, rps := range slots {
			res, ok := results[tp]
			if !ok {
				res.Err = fmt.Errorf("no produce result for %s", tp)
			}
			for _, rp := range rps {
				if res.Err != nil {
					setProduceError(rp, partitionError(snap, tp, res.Err))
					failed++
					continue
				}
				rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
			}
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
)

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
	return nil
}
