package controller

import (
	"errors"
	"fmt"
	"testing"
)

func metas(ids ...int32) []BrokerMeta {
	out := make([]BrokerMeta, len(ids))
	for i, id := range ids {
		out[i] = BrokerMeta{ID: id}
	}
	return out
}

func TestAssignReplicasKafkaExamples(t *testing.T) {
	cases := []struct {
		name         string
		brokers      []BrokerMeta
		parts        int32
		rf           int16
		start, shift int
		want         string
	}{
		{"tutorial 3x3", metas(3, 1, 2), 3, 3, 1, 0, "map[0:[2 3 1] 1:[3 1 2] 2:[1 2 3]]"},
		{"5 brokers 10 partitions", metas(0, 1, 2, 3, 4), 10, 3, 0, 0,
			"map[0:[0 1 2] 1:[1 2 3] 2:[2 3 4] 3:[3 4 0] 4:[4 0 1] 5:[0 2 3] 6:[1 3 4] 7:[2 4 0] 8:[3 0 1] 9:[4 1 2]]"},
		{"single broker", metas(1), 6, 1, 0, 0, "map[0:[1] 1:[1] 2:[1] 3:[1] 4:[1] 5:[1]]"},
	}
	for _, tc := range cases {
		got, err := AssignReplicas(tc.brokers, tc.parts, tc.rf, 0, tc.start, tc.shift)
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Fatalf("%s: %v %v\nwant %s", tc.name, got, err, tc.want)
		}
	}
}

func TestAssignReplicasErrorsAndInvariants(t *testing.T) {
	if _, err := AssignReplicas(metas(1, 2), 3, 3, 0, -1, -1); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Fatalf("rf > brokers: %v", err)
	}
	if _, err := AssignReplicas(metas(1), 0, 1, 0, -1, -1); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("0 partitions: %v", err)
	}
	if _, err := AssignReplicas([]BrokerMeta{{1, "a"}, {2, ""}}, 1, 1, 0, -1, -1); !errors.Is(err, ErrInvalidReplicaAssignment) {
		t.Fatalf("mixed racks: %v", err)
	}
	// Random start/shift: every partition has rf distinct brokers; leaders are spread evenly.
	got, _ := AssignReplicas(metas(1, 2, 3, 4), 8, 3, 0, -1, -1)
	leaders := map[int32]int{}
	for p, rs := range got {
		seen := map[int32]bool{}
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("partition %d has broker %d twice: %v", p, r, rs)
			}
			seen[r] = true
		}
		leaders[rs[0]]++
	}
	for b, n := range leaders {
		if n != 2 {
			t.Fatalf("broker %d leads %d of 8 partitions", b, n)
		}
	}
	// Rack aware: the replicas of each partition span all racks.
	racked := []BrokerMeta{{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "c"}, {6, "c"}}
	got, _ = AssignReplicas(racked, 12, 3, 0, -1, -1)
	rackOf := map[int32]string{}
	for _, b := range racked {
		rackOf[b.ID] = b.Rack
	}
	for p, rs := range got {
		rk := map[string]bool{}
		for _, r := range rs {
			rk[rackOf[r]] = true
		}
		if len(rk) != 3 {
			t.Fatalf("partition %d replicas %v span racks %v", p, rs, rk)
		}
	}
	// Partition additions continue the pattern from startPartition.
	add, _ := AssignReplicas(metas(1, 2, 3), 2, 1, 3, 0, 0)
	if fmt.Sprint(add) != "map[3:[1] 4:[2]]" {
		t.Fatalf("added partitions %v", add)
	}
}
