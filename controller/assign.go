package controller

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
)

// Assignment errors; broker/api maps them to INVALID_REPLICATION_FACTOR / INVALID_PARTITIONS /
// INVALID_REPLICA_ASSIGNMENT.
var (
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
	ErrInvalidPartitions        = errors.New("invalid number of partitions")
	ErrInvalidReplicaAssignment = errors.New("invalid replica assignment")
)

// BrokerMeta is what assignment needs to know of a live broker.
type BrokerMeta struct {
	ID   int32
	Rack string
}

// AssignReplicas spreads partitions over brokers with Apache Kafka's algorithm
// (AdminUtils.assignReplicasToBrokers): the first replica of partition p goes to broker
// (p + startIndex) mod n, followers follow it with a shift that grows every n partitions, so
// leaders and followers are balanced. With every broker in a rack the rack-aware variant places
// replicas on distinct racks first. fixedStartIndex / fixedShift of -1 draw them at random, as
// Kafka does for new topics; partition additions pass fixed values.
func AssignReplicas(brokers []BrokerMeta, partitions int32, rf int16, startPartition int32,
	fixedStartIndex, fixedShift int) (map[int32][]int32, error) {
	if partitions <= 0 {
		return nil, fmt.Errorf("%w: %d partitions", ErrInvalidPartitions, partitions)
	}
	if rf <= 0 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidReplicationFactor, rf)
	}
	n := len(brokers)
	if int(rf) > n {
		return nil, fmt.Errorf("%w: replication factor %d larger than the %d available brokers", ErrInvalidReplicationFactor, rf, n)
	}
	racks := 0
	for _, b := range brokers {
		if b.Rack != "" {
			racks++
		}
	}
	if racks != 0 && racks != n {
		return nil, fmt.Errorf("%w: some brokers have broker.rack and some do not", ErrInvalidReplicaAssignment)
	}
	sorted := append([]BrokerMeta(nil), brokers...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	start, shift := fixedStartIndex, fixedShift
	if start < 0 {
		start = rand.IntN(n)
	}
	if shift < 0 {
		shift = rand.IntN(n)
	}
	if racks == n {
		return assignRackAware(sorted, partitions, int(rf), startPartition, start, shift), nil
	}
	out := make(map[int32][]int32, partitions)
	p := startPartition
	if p < 0 {
		p = 0
	}
	for i := int32(0); i < partitions; i, p = i+1, p+1 {
		if p > 0 && int(p)%n == 0 {
			shift++
		}
		first := (int(p) + start) % n
		replicas := []int32{sorted[first].ID}
		for j := 0; j < int(rf)-1; j++ {
			replicas = append(replicas, sorted[replicaIndex(first, shift, j, n)].ID)
		}
		out[p] = replicas
	}
	return out, nil
}

func replicaIndex(first, shift, j, n int) int {
	return (first + 1 + (shift+j)%(n-1)) % n
}

// rackAlternated orders brokers one per rack in turn (racks by name, brokers by id inside).
func rackAlternated(brokers []BrokerMeta) ([]BrokerMeta, int) {
	byRack := map[string][]BrokerMeta{}
	var names []string
	for _, b := range brokers {
		if _, ok := byRack[b.Rack]; !ok {
			names = append(names, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], b)
	}
	sort.Strings(names)
	var out []BrokerMeta
	for i := 0; len(out) < len(brokers); i++ {
		for _, r := range names {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out, len(names)
}

func assignRackAware(brokers []BrokerMeta, partitions int32, rf int, startPartition int32, start, shift int) map[int32][]int32 {
	arranged, numRacks := rackAlternated(brokers)
	n := len(arranged)
	out := make(map[int32][]int32, partitions)
	p := startPartition
	if p < 0 {
		p = 0
	}
	for i := int32(0); i < partitions; i, p = i+1, p+1 {
		if p > 0 && int(p)%n == 0 {
			shift++
		}
		first := (int(p) + start) % n
		leader := arranged[first]
		replicas := []int32{leader.ID}
		racksUsed := map[string]bool{leader.Rack: true}
		used := map[int32]bool{leader.ID: true}
		k := 0
		for len(replicas) < rf {
			b := arranged[replicaIndex(first, shift*numRacks, k, n)]
			k++
			if (!racksUsed[b.Rack] || len(racksUsed) == numRacks) && (!used[b.ID] || len(used) == n) {
				replicas = append(replicas, b.ID)
				racksUsed[b.Rack], used[b.ID] = true, true
			}
		}
		out[p] = replicas
	}
	return out
}
