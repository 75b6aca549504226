package clients

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/electleaders"
)

// PartitionReplicas is one partition's replica list, as kafka-reassign-partitions' JSON holds it.
type PartitionReplicas struct {
	Topic     string
	Partition int
	Replicas  []int // nil in a cancellation
}

// Reassign submits moves (AlterPartitionReassignments, sent to the controller); a partition
// with nil replicas has its move cancelled. It returns the first error, naming its partition.
func Reassign(ctx context.Context, brokers []string, moves []PartitionReplicas) error {
	req := &kafka.AlterPartitionReassignmentsRequest{Timeout: 30 * time.Second}
	for _, m := range moves {
		req.Assignments = append(req.Assignments, kafka.AlterPartitionReassignmentsRequestAssignment{
			Topic: m.Topic, PartitionID: m.Partition, BrokerIDs: m.Replicas})
	}
	resp, err := client(brokers).AlterPartitionReassignments(ctx, req)
	if err != nil {
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	for _, r := range resp.PartitionResults {
		if r.Error != nil {
			return fmt.Errorf("%s-%d: %w", r.Topic, r.PartitionID, r.Error)
		}
	}
	return nil
}

// Moving is one partition in motion (ListPartitionReassignments).
type Moving struct {
	Topic                      string
	Partition                  int
	Replicas, Adding, Removing []int
}

// ListReassignments lists the partitions being moved.
func ListReassignments(ctx context.Context, brokers []string) ([]Moving, error) {
	resp, err := client(brokers).ListPartitionReassignments(ctx, &kafka.ListPartitionReassignmentsRequest{Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	var out []Moving
	for topic, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, Moving{Topic: topic, Partition: p.PartitionIndex, Replicas: p.Replicas,
				Adding: p.AddingReplicas, Removing: p.RemovingReplicas})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

// Election types, as kafka-leader-election.sh names them.
const (
	ElectionPreferred int8 = 0
	ElectionUnclean   int8 = 1
)

// ElectionOutcome is one partition's answer to ElectLeaders.
type ElectionOutcome struct {
	Topic     string
	Partition int
	Err       error // nil: elected; kafka.ElectionNotNeeded: already led by a valid replica
}

// ElectLeaders runs preferred or unclean elections on the controller for parts (nil: every
// partition). kafka-go's own ElectLeaders only speaks v0 (preferred), so this sends the
// protocol message itself at v1.
func ElectLeaders(ctx context.Context, brokers []string, kind int8, parts []PartitionReplicas) ([]ElectionOutcome, error) {
	req := &electleaders.Request{ElectionType: kind, TimeoutMs: 30000}
	if parts != nil {
		byTopic := map[string]int{}
		req.TopicPartitions = []electleaders.RequestTopicPartitions{}
		for _, p := range parts {
			i, ok := byTopic[p.Topic]
			if !ok {
				req.TopicPartitions = append(req.TopicPartitions, electleaders.RequestTopicPartitions{Topic: p.Topic})
				i = len(req.TopicPartitions) - 1
				byTopic[p.Topic] = i
			}
			req.TopicPartitions[i].PartitionIDs = append(req.TopicPartitions[i].PartitionIDs, int32(p.Partition))
		}
	}
	// The message routes itself to the controller (its Broker method), as kafka-go's own do.
	m, err := kafka.DefaultTransport.RoundTrip(ctx, kafka.TCP(brokers...), req)
	if err != nil {
		return nil, err
	}
	resp := m.(*electleaders.Response)
	if resp.ErrorCode != 0 {
		return nil, kafka.Error(resp.ErrorCode)
	}
	var out []ElectionOutcome
	for _, t := range resp.ReplicaElectionResults {
		for _, p := range t.PartitionResults {
			var perr error
			if p.ErrorCode != 0 {
				perr = kafka.Error(p.ErrorCode)
			}
			out = append(out, ElectionOutcome{Topic: t.Topic, Partition: int(p.PartitionID), Err: perr})
		}
	}
	return out, nil
}
