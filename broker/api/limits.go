package api

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
)

// Broker-side caps on what a client chooses, applied at the handler edge before any subsystem
// is called (DESIGN.md decision 8):
//   - fetch.max.bytes (Kafka's, 55 MiB) lowers a Fetch's MaxBytes, as KafkaApis does, and with
//     it each partition's max bytes; MinBytes cannot exceed the result;
//   - gregor.fetch.wait.max.ms caps a long poll's MaxWaitMillis (default 30 s, a client's
//     default request.timeout.ms: a client waiting longer has given up on the request anyway;
//     a shorter answer is an empty fetch, which every client simply repeats);
//   - gregor.request.timeout.max.ms caps the waits a request asks for on replicas or the
//     controller: an acks=all produce's TimeoutMillis, CreateTopics', CreatePartitions' and
//     DeleteTopics' TimeoutMillis (default 30 s);
//   - gregor.max.partitions.per.topic and gregor.max.partitions.per.request bound what
//     CreateTopics and CreatePartitions may create, checked on the counts the request names
//     before anything is allocated for them.

// fetchLimits clamps a Fetch's byte limits and wait.
func (h *Handler) fetchLimits(maxBytes, minBytes, maxWaitMs int32) (int32, int32, time.Duration) {
	limit := h.o.Config.FetchMaxBytes
	if maxBytes <= 0 || maxBytes > limit {
		maxBytes = limit // Fetch < v3 had no limit; a non-positive one is read as none
	}
	minBytes = min(max(minBytes, 0), maxBytes)
	wait := time.Duration(max(maxWaitMs, 0)) * time.Millisecond
	return maxBytes, minBytes, min(wait, time.Duration(h.o.Config.FetchWaitMaxMs)*time.Millisecond)
}

// requestTimeout is a request's own timeout (ms) capped at gregor.request.timeout.max.ms;
// negative is 0.
func (h *Handler) requestTimeout(ms int32) time.Duration {
	d := time.Duration(max(ms, 0)) * time.Millisecond
	return min(d, time.Duration(h.o.Config.RequestTimeoutMaxMs)*time.Millisecond)
}

// errExcessiveBatch is Kafka's answer (KRaft's controller, PolicyViolationException from a
// BoundedListTooLongException) to one operation creating more than its limit of partitions.
var errExcessiveBatch = errorf(kerr.PolicyViolation, "Unable to perform excessively large batch operation.")

// partitionCaps applies the partition caps to a CreateTopics or CreatePartitions request of n
// topics, on the counts the request names, before anything is assigned or allocated for them.
// counts(i) gives topic i's partition count after the request and how many it adds. A topic over
// gregor.max.partitions.per.topic answers INVALID_PARTITIONS; if the others together would add
// more than gregor.max.partitions.per.request, they all answer POLICY_VIOLATION, as Kafka's
// controller fails the whole operation. The result holds nil for topics that may proceed.
func (h *Handler) partitionCaps(n int, counts func(i int) (perTopic, added int64)) []error {
	out := make([]error, n)
	perTopic, perRequest := int64(h.o.Config.MaxPartitionsPerTopic), int64(h.o.Config.MaxPartitionsPerRequest)
	var total int64
	for i := range out {
		count, added := counts(i)
		if count > perTopic {
			out[i] = errorf(kerr.InvalidPartitions, "Number of partitions %d is larger than the maximum of %d a topic may have (gregor.max.partitions.per.topic).", count, perTopic)
			continue
		}
		total += added
	}
	if total > perRequest {
		for i := range out {
			if out[i] == nil {
				out[i] = errExcessiveBatch
			}
		}
	}
	return out
}

// createTopicPartitions is how many partitions a CreateTopics entry asks for, read from the
// request without allocating: the explicit assignment's length, else NumPartitions (-1: the
// broker's num.partitions). Non-positive counts are left to the validation that refuses them.
func (h *Handler) createTopicPartitions(t *kmsg.CreateTopicsRequestTopic) int64 {
	if len(t.ReplicaAssignment) > 0 {
		return int64(len(t.ReplicaAssignment))
	}
	if t.NumPartitions == -1 {
		return int64(h.o.Config.NumPartitions)
	}
	return max(int64(t.NumPartitions), 0)
}

// addedPartitions is how many partitions a CreatePartitions entry would add, judged on the
// metadata cache (the handler re-reads ZooKeeper later; the per-topic cap bounds either).
func addedPartitions(snap *metadata.Snapshot, t *kmsg.CreatePartitionsRequestTopic) int64 {
	have := int64(0)
	if mt, ok := snap.Topic(t.Topic); ok {
		have = int64(len(mt.Partitions))
	}
	return max(int64(t.Count)-have, 0)
}
