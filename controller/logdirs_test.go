package controller

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestStorageErrors: the replicas a LeaderAndIsr answer refused with KAFKA_STORAGE_ERROR are
// found by name in v0-v4 answers and by topic id (named from the request) in v5+ ones; other
// errors are not offline replicas.
func TestStorageErrors(t *testing.T) {
	req := kmsg.NewPtrLeaderAndISRRequest()
	for i, name := range []string{"a", "b"} {
		ts := kmsg.NewLeaderAndISRRequestTopicState()
		ts.Topic, ts.TopicID = name, [16]byte{byte(i + 1)}
		req.TopicStates = append(req.TopicStates, ts)
	}
	part := func(topic string, p int32, code int16) kmsg.LeaderAndISRResponseTopicPartition {
		rp := kmsg.NewLeaderAndISRResponseTopicPartition()
		rp.Topic, rp.Partition, rp.ErrorCode = topic, p, code
		return rp
	}
	storage, stale := kerr.KafkaStorageError.Code, kerr.StaleControllerEpoch.Code

	v4 := kmsg.NewPtrLeaderAndISRResponse()
	v4.Partitions = []kmsg.LeaderAndISRResponseTopicPartition{part("a", 0, storage), part("a", 1, 0), part("b", 2, stale), part("b", 3, storage)}
	if got, want := storageErrors(req, v4), []tpKey{{"a", 0}, {"b", 3}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("v4: %v, want %v", got, want)
	}

	v5 := kmsg.NewPtrLeaderAndISRResponse()
	for i, codes := range [][]int16{{0, storage}, {storage, stale}} {
		rt := kmsg.NewLeaderAndISRResponseTopic()
		rt.TopicID = [16]byte{byte(i + 1)}
		for p, code := range codes {
			rt.Partitions = append(rt.Partitions, part("", int32(p), code))
		}
		v5.Topics = append(v5.Topics, rt)
	}
	unknown := kmsg.NewLeaderAndISRResponseTopic()
	unknown.TopicID = [16]byte{9}
	unknown.Partitions = append(unknown.Partitions, part("", 0, storage))
	v5.Topics = append(v5.Topics, unknown)
	if got, want := storageErrors(req, v5), []tpKey{{"a", 1}, {"b", 0}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("v5: %v, want %v", got, want)
	}
}
