package clients

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
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
	ID, Leader    int // Leader -1: offline
	Replicas, ISR []int
	Offline       []int // replicas on brokers that are not alive
	Start, End    int64 // log start and end offsets
}

// TopicInfo is a topic as describe prints it.
type TopicInfo struct {
	Name       string
	ID         [16]byte // the topic id (zero if the broker sent none)
	Partitions []PartitionInfo
	Overrides  map[string]string // topic-level config overrides (DYNAMIC_TOPIC_CONFIG)
	MinISR     int               // effective min.insync.replicas (override or broker default)
}

func client(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...)}
}

// retryTimeouts runs call with its own deadline of adminAttemptTimeout and runs it again after a
// network timeout, until ctx ends — as Kafka's admin client retries a call within
// default.api.timeout.ms: one broker slow to answer (a loaded machine, a connection lost
// mid-request) is not the tool's failure. Other errors return at once.
func retryTimeouts(ctx context.Context, call func(context.Context) error) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, adminAttemptTimeout)
		err := call(attempt)
		cancel()
		var ne net.Error
		if err == nil || ctx.Err() != nil || !(errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond): // retry backoff, as the admin client's retry.backoff.ms
		}
	}
}

// adminAttemptTimeout bounds one attempt of an admin call (Kafka's request.timeout.ms is 30 s
// for the admin client; the tools' own deadline is 60 s).
const adminAttemptTimeout = 15 * time.Second

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
	// The replica lists come from franz-go's metadata, which keeps the ids as the broker sent
	// them: kafka-go resolves each id against the live brokers and turns a dead one into 0.
	kc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	md, err := kadm.NewClient(kc).Metadata(ctx, names...)
	if err != nil {
		return nil, err
	}
	offReq := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	cfgReq := &kafka.DescribeConfigsRequest{}
	var out []TopicInfo
	for _, t := range md.Topics {
		if t.Err != nil {
			return nil, fmt.Errorf("%s: %w", t.Topic, t.Err)
		}
		ti := TopicInfo{Name: t.Topic, ID: t.ID, Overrides: map[string]string{}}
		for _, p := range t.Partitions {
			pi := PartitionInfo{ID: int(p.Partition), Leader: int(p.Leader), Replicas: ints(p.Replicas), ISR: ints(p.ISR), Offline: ints(p.OfflineReplicas)}
			ti.Partitions = append(ti.Partitions, pi)
			offReq.Topics[t.Topic] = append(offReq.Topics[t.Topic], kafka.FirstOffsetOf(pi.ID), kafka.LastOffsetOf(pi.ID))
		}
		sort.Slice(ti.Partitions, func(i, j int) bool { return ti.Partitions[i].ID < ti.Partitions[j].ID })
		cfgReq.Resources = append(cfgReq.Resources, kafka.DescribeConfigRequestResource{ResourceType: kafka.ResourceTypeTopic, ResourceName: t.Topic})
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return out, nil
	}
	var offs *kafka.ListOffsetsResponse
	err = retryTimeouts(ctx, func(ctx context.Context) (err error) {
		offs, err = cl.ListOffsets(ctx, offReq)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	var cfgs *kafka.DescribeConfigsResponse
	err = retryTimeouts(ctx, func(ctx context.Context) (err error) {
		cfgs, err = cl.DescribeConfigs(ctx, cfgReq)
		return err
	})
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
				if e.ConfigName == "min.insync.replicas" {
					t.MinISR, _ = strconv.Atoi(e.ConfigValue)
				}
			}
		}
	}
	return out, nil
}

func ints(xs []int32) []int {
	if len(xs) == 0 {
		return nil
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}
