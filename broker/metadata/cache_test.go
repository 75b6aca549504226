package metadata

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func strp(s string) *string { return &s }

func part(topic string, p, leader, epoch int32, replicas ...int32) kmsg.UpdateMetadataRequestTopicPartition {
	return kmsg.UpdateMetadataRequestTopicPartition{Topic: topic, Partition: p, ControllerEpoch: 3, Leader: leader,
		LeaderEpoch: epoch, ISR: replicas, ZKVersion: epoch, Replicas: replicas}
}

func v7(controller int32, brokers []kmsg.UpdateMetadataRequestLiveBroker, topics ...kmsg.UpdateMetadataRequestTopicState) *kmsg.UpdateMetadataRequest {
	r := kmsg.NewPtrUpdateMetadataRequest()
	r.Version = 7
	r.ControllerID, r.ControllerEpoch = controller, 3
	r.LiveBrokers = brokers
	r.TopicStates = topics
	return r
}

func lb(id int32, port int32, rack *string) kmsg.UpdateMetadataRequestLiveBroker {
	return kmsg.UpdateMetadataRequestLiveBroker{ID: id, Rack: rack, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{
		{Host: "127.0.0.1", Port: port, ListenerName: "PLAINTEXT", SecurityProtocol: 0},
		{Host: "10.0.0.1", Port: port + 1000, ListenerName: "INTERNAL", SecurityProtocol: 0},
	}}
}

func TestUpdateReplacesBrokersAndMergesTopics(t *testing.T) {
	c := New()
	if s := c.Snapshot(); s.Initialized || s.ControllerID != -1 || len(s.Brokers()) != 0 {
		t.Fatalf("new cache: %+v", s)
	}
	idA := [16]byte{1}
	idB := [16]byte{2}
	c.Update(v7(1, []kmsg.UpdateMetadataRequestLiveBroker{lb(2, 9002, strp("r2")), lb(1, 9001, nil)},
		kmsg.UpdateMetadataRequestTopicState{Topic: "a", TopicID: idA, PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{
			part("", 1, 2, 0, 2, 1), part("", 0, 1, 0, 1, 2)}},
		kmsg.UpdateMetadataRequestTopicState{Topic: "b", TopicID: idB, PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{
			part("", 0, -1, 4, 1)}},
	))
	s := c.Snapshot()
	if !s.Initialized || s.ControllerID != 1 || s.ControllerEpoch != 3 {
		t.Fatalf("snapshot header %+v", s)
	}
	if got := s.BrokerIDs(); !reflect.DeepEqual(got, []int32{1, 2}) {
		t.Fatalf("broker ids %v", got)
	}
	b2, _ := s.Broker(2)
	if e, ok := b2.Endpoint("INTERNAL"); !ok || e.Host != "10.0.0.1" || e.Port != 10002 {
		t.Fatalf("broker 2 INTERNAL endpoint %+v %v", e, ok)
	}
	if b2.Rack == nil || *b2.Rack != "r2" {
		t.Fatalf("rack %v", b2.Rack)
	}
	if got := s.TopicNames(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("names %v", got)
	}
	ta, _ := s.TopicByID(idA)
	if ta == nil || ta.Name != "a" || len(ta.Partitions) != 2 || ta.Partitions[0].Partition != 0 {
		t.Fatalf("topic a %+v", ta)
	}
	if !s.AllPartitionsHaveLeaders("a", 2) || s.AllPartitionsHaveLeaders("a", 3) || s.AllPartitionsHaveLeaders("b", 1) {
		t.Fatal("AllPartitionsHaveLeaders wrong")
	}

	// A later update with only broker 1 and a change to b: a is kept, b replaced, broker 2 gone.
	c.Update(v7(2, []kmsg.UpdateMetadataRequestLiveBroker{lb(1, 9001, nil)},
		kmsg.UpdateMetadataRequestTopicState{Topic: "b", PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{
			part("", 0, 1, 5, 1)}}))
	s2 := c.Snapshot()
	if s2.IsAlive(2) || !s2.IsAlive(1) || s2.ControllerID != 2 {
		t.Fatalf("brokers after update %v controller %d", s2.BrokerIDs(), s2.ControllerID)
	}
	tb, _ := s2.Topic("b")
	if tb.ID != idB || tb.Partitions[0].Leader != 1 || tb.Partitions[0].LeaderEpoch != 5 {
		t.Fatalf("topic b after update %+v %+v", tb, tb.Partitions[0])
	}
	if ta2, _ := s2.Topic("a"); ta2 != ta {
		t.Fatal("unchanged topic a was not shared between snapshots")
	}
	// The old snapshot is untouched.
	if tbOld, _ := s.Topic("b"); tbOld.Partitions[0].Leader != -1 || !s.IsAlive(2) {
		t.Fatal("old snapshot was modified")
	}
}

func TestUpdateDeletesWithLeaderMinus2(t *testing.T) {
	c := New()
	id := [16]byte{9}
	c.Update(v7(1, nil, kmsg.UpdateMetadataRequestTopicState{Topic: "t", TopicID: id,
		PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{part("", 0, 1, 0, 1), part("", 1, 1, 0, 1)}}))
	del := c.Update(v7(1, nil, kmsg.UpdateMetadataRequestTopicState{Topic: "t", TopicID: id,
		PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{part("", 0, LeaderDuringDelete, 0, 1)}}))
	if !reflect.DeepEqual(del, []DeletedPartition{{"t", 0}}) {
		t.Fatalf("deleted %v", del)
	}
	if tp, ok := c.Snapshot().Topic("t"); !ok || len(tp.Partitions) != 1 || tp.Partitions[0].Partition != 1 {
		t.Fatalf("after deleting p0: %+v", tp)
	}
	c.Update(v7(1, nil, kmsg.UpdateMetadataRequestTopicState{Topic: "t",
		PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{part("", 1, LeaderDuringDelete, 0, 1)}}))
	s := c.Snapshot()
	if _, ok := s.Topic("t"); ok {
		t.Fatal("topic still present after all partitions deleted")
	}
	if _, ok := s.TopicByID(id); ok || len(s.TopicNames()) != 0 {
		t.Fatal("topic id / name still present after deletion")
	}
}

func TestUpdateOldVersions(t *testing.T) {
	for _, tc := range []struct {
		version  int16
		listener string
	}{{0, "PLAINTEXT"}, {2, "SSL"}, {4, "EXTERNAL"}} {
		c := New()
		r := kmsg.NewPtrUpdateMetadataRequest()
		r.Version = tc.version
		r.ControllerID = 5
		if tc.version == 0 {
			r.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{{ID: 5, Host: "h", Port: 9092}}
		} else {
			r.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{{ID: 5, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{
				{Host: "h", Port: 9092, ListenerName: "EXTERNAL", SecurityProtocol: 1}}}}
		}
		r.PartitionStates = []kmsg.UpdateMetadataRequestTopicPartition{part("x", 0, 5, 1, 5), part("y", 0, 5, 1, 5)}
		// Round trip through the wire so the version's field set is what the cache sees.
		b := r.AppendTo(nil)
		dec := kmsg.NewPtrUpdateMetadataRequest()
		dec.Version = tc.version
		if err := dec.ReadFrom(b); err != nil {
			t.Fatalf("v%d decode: %v", tc.version, err)
		}
		c.Update(dec)
		s := c.Snapshot()
		b5, ok := s.Broker(5)
		if !ok {
			t.Fatalf("v%d: broker 5 missing", tc.version)
		}
		if e, ok := b5.Endpoint(tc.listener); !ok || e.Host != "h" || e.Port != 9092 {
			t.Fatalf("v%d: endpoints %+v, want listener %s", tc.version, b5.Endpoints, tc.listener)
		}
		if !reflect.DeepEqual(s.TopicNames(), []string{"x", "y"}) {
			t.Fatalf("v%d: topics %v", tc.version, s.TopicNames())
		}
	}
}

func TestWaitForWakesOnUpdate(t *testing.T) {
	c := New()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var ok bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, ok = c.WaitFor(ctx, func(s *Snapshot) bool { return s.AllPartitionsHaveLeaders("t", 2) })
	}()
	ch := c.Changed()
	c.Update(v7(1, nil, kmsg.UpdateMetadataRequestTopicState{Topic: "t",
		PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{part("", 0, 1, 0, 1)}}))
	select {
	case <-ch:
	default:
		t.Fatal("Changed channel not closed by Update")
	}
	c.Update(v7(1, nil, kmsg.UpdateMetadataRequestTopicState{Topic: "t",
		PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{part("", 1, 1, 0, 1)}}))
	wg.Wait()
	if !ok {
		t.Fatal("WaitFor did not see both partitions")
	}

	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, ok := c.WaitFor(short, func(s *Snapshot) bool { return s.IsAlive(42) }); ok {
		t.Fatal("WaitFor reported a condition that never held")
	}
}
