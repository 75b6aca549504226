package metadata

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzUpdate feeds UpdateMetadata bodies from the network (decoded by kmsg, as the broker does)
// into the cache: no input may panic it or break a snapshot's invariants.
func FuzzUpdate(f *testing.F) {
	for _, v := range []int16{0, 4, 5, 7, 8} {
		r := v7(1, []kmsg.UpdateMetadataRequestLiveBroker{lb(1, 9092, strp("r"))},
			kmsg.UpdateMetadataRequestTopicState{Topic: "t", TopicID: [16]byte{1},
				PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{part("t", 0, 1, 0, 1), part("t", 1, -2, 0, 1)}})
		r.Version = v
		r.PartitionStates = []kmsg.UpdateMetadataRequestTopicPartition{part("u", 0, 1, 0, 1)}
		f.Add(v, r.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		if version < 0 || version > 8 {
			return
		}
		req := kmsg.NewPtrUpdateMetadataRequest()
		req.Version = version
		if err := req.ReadFrom(body); err != nil {
			return
		}
		c := New()
		c.Update(req)
		once := c.Snapshot()
		c.Update(req)
		twice := c.Snapshot()
		// Applying the same view twice is idempotent: the second snapshot equals the first.
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("applying the request twice changed the snapshot:\nonce  %s\ntwice %s", dump(once), dump(twice))
		}
		s := once
		if !sort.StringsAreSorted(s.TopicNames()) || len(s.TopicNames()) != len(s.topics) {
			t.Fatalf("topic names %v vs %d topics", s.TopicNames(), len(s.topics))
		}
		for _, name := range s.TopicNames() {
			tp, ok := s.Topic(name)
			if !ok || len(tp.Partitions) == 0 {
				t.Fatalf("topic %q listed without partitions", name)
			}
			for i, p := range tp.Partitions {
				if p.Leader == LeaderDuringDelete || (i > 0 && tp.Partitions[i-1].Partition >= p.Partition) {
					t.Fatalf("topic %q partitions unsorted or deleted: %+v", name, tp.Partitions)
				}
			}
		}
		// Every decoded field lands in the snapshot: the last state of each partition in the
		// request, deletions (leader -2) removed, is exactly what the cache holds.
		type tpKey struct {
			topic string
			part  int32
		}
		want := map[tpKey]kmsg.UpdateMetadataRequestTopicPartition{}
		ids := map[string][16]byte{}
		note := func(topic string, ps kmsg.UpdateMetadataRequestTopicPartition) {
			k := tpKey{topic, ps.Partition}
			if ps.Leader == LeaderDuringDelete {
				delete(want, k)
				return
			}
			want[k] = ps
		}
		if version <= 4 {
			for _, ps := range req.PartitionStates {
				note(ps.Topic, ps)
			}
		} else {
			for _, ts := range req.TopicStates {
				if ts.TopicID != ([16]byte{}) {
					ids[ts.Topic] = ts.TopicID
				}
				for _, ps := range ts.PartitionStates {
					note(ts.Topic, ps)
				}
			}
		}
		got := 0
		for _, name := range s.TopicNames() {
			tp, _ := s.Topic(name)
			if tp.ID != ids[name] {
				t.Fatalf("topic %q id %x, want %x", name, tp.ID, ids[name])
			}
			if byID, ok := s.TopicByID(tp.ID); tp.ID != ([16]byte{}) && (!ok || byID.Name != name) {
				t.Fatalf("topic %q not found by its id", name)
			}
			got += len(tp.Partitions)
		}
		if got != len(want) {
			t.Fatalf("cache holds %d partitions, the request leaves %d", got, len(want))
		}
		for k, ps := range want {
			p, ok := s.Partition(k.topic, k.part)
			if !ok {
				t.Fatalf("%s-%d missing from the cache", k.topic, k.part)
			}
			if p.ControllerEpoch != ps.ControllerEpoch || p.Leader != ps.Leader || p.LeaderEpoch != ps.LeaderEpoch ||
				p.ZkVersion != ps.ZKVersion || !equalInt32s(p.ISR, ps.ISR) || !equalInt32s(p.Replicas, ps.Replicas) ||
				!equalInt32s(p.OfflineReplicas, ps.OfflineReplicas) {
				t.Fatalf("%s-%d cached as %+v, request says %+v", k.topic, k.part, *p, ps)
			}
		}
		wantController := req.ControllerID
		if wantController < 0 {
			wantController = -1
		}
		if !s.Initialized || s.ControllerID != wantController || s.ControllerEpoch != req.ControllerEpoch {
			t.Fatalf("controller %d epoch %d, request says %d epoch %d", s.ControllerID, s.ControllerEpoch, req.ControllerID, req.ControllerEpoch)
		}
		live := map[int32]kmsg.UpdateMetadataRequestLiveBroker{}
		for _, lb := range req.LiveBrokers {
			live[lb.ID] = lb
		}
		if len(s.BrokerIDs()) != len(live) || !sort.SliceIsSorted(s.BrokerIDs(), func(i, j int) bool { return s.BrokerIDs()[i] < s.BrokerIDs()[j] }) {
			t.Fatalf("broker ids %v, request has %d live brokers", s.BrokerIDs(), len(live))
		}
		for id, lb := range live {
			b, ok := s.Broker(id)
			if !ok || (lb.Rack == nil) != (b.Rack == nil) || (lb.Rack != nil && *lb.Rack != *b.Rack) {
				t.Fatalf("broker %d cached as %+v, request says %+v", id, b, lb)
			}
			if version == 0 {
				if len(b.Endpoints) != 1 || b.Endpoints[0].Host != lb.Host || b.Endpoints[0].Port != lb.Port {
					t.Fatalf("v0 broker %d endpoints %+v, want %s:%d", id, b.Endpoints, lb.Host, lb.Port)
				}
				continue
			}
			if len(b.Endpoints) != len(lb.Endpoints) {
				t.Fatalf("broker %d: %d endpoints cached, %d sent", id, len(b.Endpoints), len(lb.Endpoints))
			}
			for i, e := range lb.Endpoints {
				ce := b.Endpoints[i]
				if ce.Host != e.Host || ce.Port != e.Port || ce.SecurityProtocol != e.SecurityProtocol ||
					(version >= 3 && e.ListenerName != "" && ce.Listener != e.ListenerName) {
					t.Fatalf("broker %d endpoint %d cached as %+v, sent %+v", id, i, ce, e)
				}
			}
		}
	})
}

func equalInt32s(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// dump renders a snapshot's contents (maps of pointers print as addresses otherwise).
func dump(s *Snapshot) string {
	out := fmt.Sprintf("controller %d epoch %d brokers %v topics:", s.ControllerID, s.ControllerEpoch, s.brokerIDs)
	for _, n := range s.names {
		tp := s.topics[n]
		out += fmt.Sprintf(" %s(%x)[", n, tp.ID)
		for _, p := range tp.Partitions {
			out += fmt.Sprintf("%+v ", *p)
		}
		out += "]"
	}
	return out
}
