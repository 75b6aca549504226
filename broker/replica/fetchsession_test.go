package replica

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
)

func sessionPart(topic string, p int32, offset int64) sessionPartition {
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.CurrentLeaderEpoch, fp.LastFetchedEpoch, fp.PartitionMaxBytes = p, offset, 3, 3, 1<<20
	return sessionPartition{tp: klog.TopicPartition{Topic: topic, Partition: p}, fp: fp}
}

// named lists a request's partitions and forgotten partitions as "topic-p@offset" / "topic-p".
func named(req *kmsg.FetchRequest) (parts, forgotten []string) {
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			parts = append(parts, fmt.Sprintf("%s-%d@%d", t.Topic, p.Partition, p.FetchOffset))
		}
	}
	for _, t := range req.ForgottenTopics {
		for _, p := range t.Partitions {
			forgotten = append(forgotten, klog.TopicPartition{Topic: t.Topic, Partition: p}.String())
		}
	}
	sort.Strings(parts)
	sort.Strings(forgotten)
	return parts, forgotten
}

// TestFollowerFetchSession: the fetcher's side of KIP-227 as Kafka's FetchSessionHandler does
// it — a full fetch at epoch 0; once the leader answers a session id, fetches name only what
// changed and forget what is no longer fetched; a leader that keeps no session keeps the
// fetches full.
func TestFollowerFetchSession(t *testing.T) {
	var s fetchSession
	steps := []struct {
		name          string
		parts         []sessionPartition
		answerSession int32
		wantID        int32
		wantEpoch     int32
		wantParts     []string
		wantForgotten []string
	}{
		{"first fetch is full", []sessionPartition{sessionPart("a", 0, 5), sessionPart("a", 1, 7)}, 77,
			0, 0, []string{"a-0@5", "a-1@7"}, nil},
		{"nothing changed: nothing named", []sessionPartition{sessionPart("a", 0, 5), sessionPart("a", 1, 7)}, 77,
			77, 1, nil, nil},
		{"a moved offset and a new partition", []sessionPartition{sessionPart("a", 0, 6), sessionPart("a", 1, 7), sessionPart("b", 0, 1)}, 77,
			77, 2, []string{"a-0@6", "b-0@1"}, nil},
		{"partitions no longer fetched are forgotten", []sessionPartition{sessionPart("b", 0, 1)}, 77,
			77, 3, nil, []string{"a-0", "a-1"}},
		{"a forgotten partition comes back in full", []sessionPartition{sessionPart("a", 1, 7), sessionPart("b", 0, 1)}, 77,
			77, 4, []string{"a-1@7"}, nil},
	}
	for _, st := range steps {
		req := kmsg.NewPtrFetchRequest()
		s.fill(req, st.parts)
		parts, forgotten := named(req)
		if req.SessionID != st.wantID || req.SessionEpoch != st.wantEpoch || !reflect.DeepEqual(parts, st.wantParts) || !reflect.DeepEqual(forgotten, st.wantForgotten) {
			t.Fatalf("%s: session %d epoch %d, partitions %v, forgotten %v; want %d %d %v %v", st.name,
				req.SessionID, req.SessionEpoch, parts, forgotten, st.wantID, st.wantEpoch, st.wantParts, st.wantForgotten)
		}
		resp := kmsg.NewPtrFetchResponse()
		resp.SessionID = st.answerSession
		s.answered(req, resp)
	}
	// A leader that keeps no session (its slots are full or 0): every fetch stays full.
	s.reset()
	for range 2 {
		req := kmsg.NewPtrFetchRequest()
		s.fill(req, []sessionPartition{sessionPart("a", 0, 5)})
		if parts, _ := named(req); req.SessionEpoch != 0 || req.SessionID != 0 || len(parts) != 1 {
			t.Fatalf("no session kept: epoch %d, id %d, partitions %v", req.SessionEpoch, req.SessionID, parts)
		}
		s.answered(req, kmsg.NewPtrFetchResponse())
	}
	if nextSessionEpoch(math.MaxInt32) != 1 || nextSessionEpoch(1) != 2 {
		t.Fatal("session epochs wrap past the largest to 1")
	}
}
