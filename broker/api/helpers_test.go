package api

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
)

func TestConfigLists(t *testing.T) {
	if got := appendList(splitList("delete"), splitList("compact,delete")); !reflect.DeepEqual(got, []string{"delete", "compact"}) {
		t.Fatalf("append: %v", got)
	}
	if got := subtractList(splitList("compact, delete"), splitList("delete")); !reflect.DeepEqual(got, []string{"compact"}) {
		t.Fatalf("subtract: %v", got)
	}
	if got := joinList(subtractList(splitList("a"), splitList("a"))); got != "" {
		t.Fatalf("subtract all: %q", got)
	}
	if got := splitList(""); len(got) != 0 {
		t.Fatalf("split empty: %v", got)
	}
}

func TestProducerIDsBlocks(t *testing.T) {
	var mu sync.Mutex
	nextBlock := int64(0)
	calls := 0
	p := NewProducerIDs(func() (int64, int64, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		s := nextBlock
		nextBlock += 3
		return s, s + 2, nil
	})
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for i := 0; i < 7; i++ {
		id, err := p.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if !reflect.DeepEqual(got, []int64{0, 1, 2, 3, 4, 5, 6}) || calls != 3 {
		t.Fatalf("ids %v after %d block allocations", got, calls)
	}

	// Concurrent callers never get the same id.
	seen := sync.Map{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id, err := p.Next()
				if err != nil {
					t.Error(err)
					return
				}
				if _, dup := seen.LoadOrStore(id, true); dup {
					t.Errorf("id %d handed out twice", id)
				}
			}
		}()
	}
	wg.Wait()

	failing := NewProducerIDs(func() (int64, int64, error) { return 0, 0, errors.New("zk down") })
	if _, err := failing.Next(); err == nil {
		t.Fatal("allocation failure not reported")
	}
}

func cacheWith(t *testing.T, brokers []int32, topics map[string]int) *metadata.Cache {
	t.Helper()
	c := metadata.New()
	r := kmsg.NewPtrUpdateMetadataRequest()
	r.Version = 7
	for _, id := range brokers {
		r.LiveBrokers = append(r.LiveBrokers, kmsg.UpdateMetadataRequestLiveBroker{ID: id,
			Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "127.0.0.1", Port: 9090 + id, ListenerName: "PLAINTEXT"}}})
	}
	for name, n := range topics {
		ts := kmsg.UpdateMetadataRequestTopicState{Topic: name, TopicID: [16]byte{byte(len(name))}}
		for p := 0; p < n; p++ {
			ts.PartitionStates = append(ts.PartitionStates, kmsg.UpdateMetadataRequestTopicPartition{
				Partition: int32(p), Leader: brokers[0], ISR: brokers[:1], Replicas: brokers[:1]})
		}
		r.TopicStates = append(r.TopicStates, ts)
	}
	c.Update(r)
	return c
}

func TestValidateAssignment(t *testing.T) {
	snap := cacheWith(t, []int32{1, 2, 3}, nil).Snapshot()
	for _, tc := range []struct {
		name string
		a    map[int32][]int32
		want *kerr.Error
		rf   int16
	}{
		{"ok", map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}}, nil, 2},
		{"empty", map[int32][]int32{}, kerr.InvalidPartitions, 0},
		{"gap", map[int32][]int32{0: {1}, 2: {2}}, kerr.InvalidReplicaAssignment, 0},
		{"not from 0", map[int32][]int32{1: {1}}, kerr.InvalidReplicaAssignment, 0},
		{"uneven rf", map[int32][]int32{0: {1, 2}, 1: {3}}, kerr.InvalidReplicaAssignment, 0},
		{"duplicate broker", map[int32][]int32{0: {1, 1}}, kerr.InvalidReplicaAssignment, 0},
		{"dead broker", map[int32][]int32{0: {1, 7}}, kerr.InvalidReplicaAssignment, 0},
		{"zero replicas", map[int32][]int32{0: {}}, kerr.InvalidReplicaAssignment, 0},
	} {
		rf, err := validateAssignment(tc.a, viewOfSnapshot(snap))
		want := int16(0)
		if tc.want != nil {
			want = tc.want.Code
		}
		if ErrorCode(err) != want || (err == nil && rf != tc.rf) {
			t.Errorf("%s: rf %d err %v, want rf %d code %v", tc.name, rf, err, tc.rf, tc.want)
		}
	}
}
