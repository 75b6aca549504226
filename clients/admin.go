package clients

import (
	"context"
	"errors"
	"fmt"
	"sort"

	kafka "github.com/segmentio/kafka-go"
)

// TopicSpec describes a topic to create; zero Partitions / ReplicationFactor take the broker's
// num.partitions / default.replication.factor, and Assignment (partition → brokers) overrides both.
type TopicSpec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	Assignment        map[int][]int
	Configs           map[string]string
}

// PartitionInfo is one partition as describe prints it.
type PartitionInfo struct {
	ID, Leader    int
	Replicas, ISR []int
	Start, End    int64 // log start and end offsets
}

// TopicInfo is a topic as describe prints it.
type TopicInfo struct {
	Name       string
	Partitions []PartitionInfo
	Overrides  map[string]string // topic-level config overrides (DYNAMIC_TOPIC_CONFIG)
}

func client(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...)}
}

func firstErr(errs map[string]error) error {
	for name, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// CreateTopic creates a topic through CreateTopics (kafka-go routes it to the controller).
func CreateTopic(ctx context.Context, brokers []string, s TopicSpec) error {
	tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
	if tc.NumPartitions == 0 {
		tc.NumPartitions = -1
	}
	if tc.ReplicationFactor == 0 {
		tc.ReplicationFactor = -1
	}
	if len(s.Assignment) > 0 {
		tc.NumPartitions, tc.ReplicationFactor = -1, -1
		parts := make([]int, 0, len(s.Assignment))
		for p := range s.Assignment {
			parts = append(parts, p)
		}
		sort.Ints(parts)
		for _, p := range parts {
			tc.ReplicaAssignments = append(tc.ReplicaAssignments, kafka.ReplicaAssignment{Partition: p, Replicas: s.Assignment[p]})
		}
	}
	for k, v := range s.Configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	resp, err := client(brokers).CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err != nil {
		return err
	}
	return firstErr(resp.Errors)
}

// DeleteTopic deletes a topic through DeleteTopics.
func DeleteTopic(ctx context.Context, brokers []string, name string) error {
	resp, err := client(brokers).DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{name}})
	if err != nil {
		return err
	}
	return firstErr(resp.Errors)
}

// ListTopics returns every topic name, sorted.
func ListTopics(ctx context.Context, brokers []string) ([]string, error) {
	md, err := client(brokers).Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range md.Topics {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names, nil
}

// AlterTopic raises the partition count (CreatePartitions; 0 leaves it) and sets or deletes
// topic configs (IncrementalAlterConfigs).
func AlterTopic(ctx context.Context, brokers []string, name string, partitions int, set map[string]string, del []string) error {
	cl := client(brokers)
	if partitions > 0 {
		resp, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{
			Topics: []kafka.TopicPartitionsConfig{{Name: name, Count: int32(partitions)}}})
		if err != nil {
			return err
		}
		if err := firstErr(resp.Errors); err != nil {
			return err
		}
	}
	var cfgs []kafka.IncrementalAlterConfigsRequestConfig
	for k, v := range set {
		cfgs = append(cfgs, kafka.IncrementalAlterConfigsRequestConfig{Name: k, Value: v, ConfigOperation: kafka.ConfigOperationSet})
	}
	for _, k := range del {
		cfgs = append(cfgs, kafka.IncrementalAlterConfigsRequestConfig{Name: k, ConfigOperation: kafka.ConfigOperationDelete})
	}
	if len(cfgs) == 0 {
		return nil
	}
	resp, err := cl.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{ResourceType: kafka.ResourceTypeTopic, ResourceName: name, Configs: cfgs}}})
	if err != nil {
		return err
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return fmt.Errorf("%s: %w", r.ResourceName, r.Error)
		}
	}
	return nil
}

// DescribeTopics returns partitions with leader, replicas, ISR and offsets, and each topic's
// config overrides; names nil means every topic.
func DescribeTopics(ctx context.Context, brokers []string, names []string) ([]TopicInfo, error) {
	cl := client(brokers)
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, err
	}
	offReq := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	cfgReq := &kafka.DescribeConfigsRequest{}
	var out []TopicInfo
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, t.Error)
		}
		ti := TopicInfo{Name: t.Name, Overrides: map[string]string{}}
		for _, p := range t.Partitions {
			pi := PartitionInfo{ID: p.ID, Leader: p.Leader.ID}
			for _, r := range p.Replicas {
				pi.Replicas = append(pi.Replicas, r.ID)
			}
			for _, r := range p.Isr {
				pi.ISR = append(pi.ISR, r.ID)
			}
			ti.Partitions = append(ti.Partitions, pi)
			offReq.Topics[t.Name] = append(offReq.Topics[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
		sort.Slice(ti.Partitions, func(i, j int) bool { return ti.Partitions[i].ID < ti.Partitions[j].ID })
		cfgReq.Resources = append(cfgReq.Resources, kafka.DescribeConfigRequestResource{ResourceType: kafka.ResourceTypeTopic, ResourceName: t.Name})
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return out, nil
	}
	offs, err := cl.ListOffsets(ctx, offReq)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	cfgs, err := cl.DescribeConfigs(ctx, cfgReq)
	if err != nil {
		return nil, fmt.Errorf("describe configs: %w", err)
	}
	for i := range out {
		t := &out[i]
		for _, po := range offs.Topics[t.Name] {
			for j := range t.Partitions {
				if t.Partitions[j].ID == po.Partition {
					t.Partitions[j].Start, t.Partitions[j].End = po.FirstOffset, po.LastOffset
				}
			}
		}
		for _, r := range cfgs.Resources {
			if r.ResourceName != t.Name {
				continue
			}
			if r.Error != nil && !errors.Is(r.Error, kafka.Error(0)) {
				return nil, fmt.Errorf("configs of %s: %w", t.Name, r.Error)
			}
			for _, e := range r.ConfigEntries {
				if e.ConfigSource == 1 { // DYNAMIC_TOPIC_CONFIG
					t.Overrides[e.ConfigName] = e.ConfigValue
				}
			}
		}
	}
	return out, nil
}
