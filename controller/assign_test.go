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

func TestAssignReplicasErrors(t *testing.T) {
	cases := []struct {
		name    string
		brokers []BrokerMeta
		parts   int32
		rf      int16
		want    error
	}{
		{"rf > brokers", metas(1, 2), 3, 3, ErrInvalidReplicationFactor},
		{"rf 0", metas(1, 2), 3, 0, ErrInvalidReplicationFactor},
		{"0 partitions", metas(1), 0, 1, ErrInvalidPartitions},
		{"negative partitions", metas(1), -2, 1, ErrInvalidPartitions},
		{"mixed racks", []BrokerMeta{{1, "a"}, {2, ""}}, 1, 1, ErrInvalidReplicaAssignment},
	}
	for _, tc := range cases {
		got, err := AssignReplicas(tc.brokers, tc.parts, tc.rf, 0, -1, -1)
		if !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: %v, %v; want no assignment and %v", tc.name, got, err, tc.want)
		}
	}
}

// TestAssignReplicasInvariants: with random start and shift (many draws), every assignment
// has exactly the requested partitions, numbered from startPartition, each with rf distinct
// brokers of the cluster; leaders are spread evenly; with racks, each partition spans
// min(rf, racks) racks.
func TestAssignReplicasInvariants(t *testing.T) {
	racked := []BrokerMeta{{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "c"}, {6, "c"}}
	cases := []struct {
		name      string
		brokers   []BrokerMeta
		parts     int32
		rf        int16
		startPart int32
		racks     int // racks each partition's replicas must span; 0 without racks
	}{
		{"4 brokers 8 partitions rf 3", metas(1, 2, 3, 4), 8, 3, 0, 0},
		{"3 brokers 7 partitions rf 2", metas(5, 9, 7), 7, 2, 0, 0},
		{"rf = brokers", metas(1, 2, 3), 3, 3, 0, 0},
		{"added partitions 3..4", metas(1, 2, 3), 2, 1, 3, 0},
		{"racks 12 partitions rf 3", racked, 12, 3, 0, 3},
		{"racks rf 2", racked, 6, 2, 0, 2},
		{"racks, added partitions", racked, 5, 3, 7, 3},
	}
	for _, tc := range cases {
		for draw := 0; draw < 20; draw++ {
			got, err := AssignReplicas(tc.brokers, tc.parts, tc.rf, tc.startPart, -1, -1)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(got) != int(tc.parts) {
				t.Fatalf("%s: %d partitions assigned, want %d: %v", tc.name, len(got), tc.parts, got)
			}
			member, rackOf := map[int32]bool{}, map[int32]string{}
			for _, b := range tc.brokers {
				member[b.ID], rackOf[b.ID] = true, b.Rack
			}
			leaders := map[int32]int{}
			for p := tc.startPart; p < tc.startPart+tc.parts; p++ {
				rs, ok := got[p]
				if !ok {
					t.Fatalf("%s: partition %d missing: %v", tc.name, p, got)
				}
				if len(rs) != int(tc.rf) {
					t.Fatalf("%s: partition %d has %d replicas, want %d: %v", tc.name, p, len(rs), tc.rf, rs)
				}
				seen, racks := map[int32]bool{}, map[string]bool{}
				for _, r := range rs {
					if seen[r] || !member[r] {
						t.Fatalf("%s: partition %d replicas %v: broker %d repeated or not in the cluster", tc.name, p, rs, r)
					}
					seen[r], racks[rackOf[r]] = true, true
				}
				if tc.racks > 0 && len(racks) != tc.racks {
					t.Fatalf("%s: partition %d replicas %v span racks %v, want %d", tc.name, p, rs, racks, tc.racks)
				}
				leaders[rs[0]]++
			}
			lo, hi := int(tc.parts)/len(tc.brokers), (int(tc.parts)+len(tc.brokers)-1)/len(tc.brokers)
			for b, n := range leaders {
				if n < lo || n > hi {
					t.Fatalf("%s: broker %d leads %d of %d partitions, want %d..%d: %v", tc.name, b, n, tc.parts, lo, hi, got)
				}
			}
			if hi == lo && len(leaders) != len(tc.brokers) {
				t.Fatalf("%s: only %d of %d brokers lead: %v", tc.name, len(leaders), len(tc.brokers), got)
			}
		}
	}
	// Partition additions continue the pattern from startPartition.
	add, err := AssignReplicas(metas(1, 2, 3), 2, 1, 3, 0, 0)
	if err != nil || fmt.Sprint(add) != "map[3:[1] 4:[2]]" {
		t.Fatalf("added partitions %v %v", add, err)
	}
}
