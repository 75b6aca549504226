package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register("topics", "create, list, describe, alter or delete topics (like kafka-topics.sh)", runTopics)
}

// multiFlag collects a repeatable flag such as --config k=v.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runTopics(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: gregor topics create|list|describe|alter|delete --bootstrap-server host:port [flags]")
	}
	action := args[0]
	fs := flag.NewFlagSet("topics "+action, flag.ContinueOnError)
	bootstrap := fs.String("bootstrap-server", "127.0.0.1:9092", "broker address(es), comma-separated")
	topic := fs.String("topic", "", "topic name")
	partitions := fs.Int("partitions", -1, "partition count (create: default num.partitions; alter: new count)")
	rf := fs.Int("replication-factor", -1, "replication factor (default default.replication.factor)")
	assignment := fs.String("replica-assignment", "", `explicit replicas, e.g. "1:2,2:3" (partition 0 on 1,2; 1 on 2,3)`)
	var configs, deleteConfigs multiFlag
	fs.Var(&configs, "config", "topic config k=v (repeatable)")
	fs.Var(&deleteConfigs, "delete-config", "topic config to remove (alter; repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*bootstrap, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfgs := map[string]*string{}
	for _, kv := range configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--config %q is not k=v", kv)
		}
		cfgs[k] = &v
	}
	needTopic := func() error {
		if *topic == "" {
			return errors.New("--topic is required")
		}
		return nil
	}
	switch action {
	case "create":
		if err := needTopic(); err != nil {
			return err
		}
		var resp kadm.CreateTopicResponse
		if *assignment != "" {
			a, err := parseAssignment(*assignment)
			if err != nil {
				return err
			}
			if err := createWithAssignment(ctx, cl, *topic, a, cfgs); err != nil {
				return err
			}
			fmt.Printf("Created topic %s.\n", *topic)
			return nil
		}
		resp, err = adm.CreateTopic(ctx, int32(*partitions), int16(*rf), cfgs, *topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", *topic, err)
		}
		fmt.Printf("Created topic %s.\n", *topic)
	case "list":
		md, err := adm.ListTopics(ctx)
		if err != nil {
			return err
		}
		for _, n := range md.Names() {
			fmt.Println(n)
		}
	case "describe":
		return describeTopics(ctx, adm, *topic)
	case "delete":
		if err := needTopic(); err != nil {
			return err
		}
		resp, err := adm.DeleteTopic(ctx, *topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", *topic, err)
		}
		fmt.Printf("Deleted topic %s.\n", *topic)
	case "alter":
		if err := needTopic(); err != nil {
			return err
		}
		if *partitions > 0 {
			rs, err := adm.UpdatePartitions(ctx, *partitions, *topic)
			if err == nil {
				err = rs[*topic].Err
			}
			if err != nil {
				return fmt.Errorf("alter partitions of %s: %w", *topic, err)
			}
		}
		var alters []kadm.AlterConfig
		for k, v := range cfgs {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
		}
		for _, k := range deleteConfigs {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
		if len(alters) > 0 {
			rs, err := adm.AlterTopicConfigs(ctx, alters, *topic)
			if err == nil {
				for _, r := range rs {
					if r.Err != nil {
						err = r.Err
					}
				}
			}
			if err != nil {
				return fmt.Errorf("alter configs of %s: %w", *topic, err)
			}
		}
		fmt.Printf("Altered topic %s.\n", *topic)
	default:
		return fmt.Errorf("unknown action %q: create, list, describe, alter or delete", action)
	}
	return nil
}

// parseAssignment reads kafka-topics' --replica-assignment: partitions separated by commas,
// replicas by colons.
func parseAssignment(s string) (map[int32][]int32, error) {
	out := map[int32][]int32{}
	for p, part := range strings.Split(s, ",") {
		for _, r := range strings.Split(part, ":") {
			id, err := strconv.ParseInt(strings.TrimSpace(r), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--replica-assignment %q: %q is not a broker id", s, r)
			}
			out[int32(p)] = append(out[int32(p)], int32(id))
		}
	}
	return out, nil
}

func describeTopics(ctx context.Context, adm *kadm.Client, topic string) error {
	var names []string
	if topic != "" {
		names = []string{topic}
	}
	md, err := adm.Metadata(ctx, names...)
	if err != nil {
		return err
	}
	topics := md.Topics.Sorted()
	starts, _ := adm.ListStartOffsets(ctx, names...)
	ends, _ := adm.ListEndOffsets(ctx, names...)
	rc, _ := adm.DescribeTopicConfigs(ctx, names...)
	w := bufio.NewWriter(os.Stdout) // Kafka's describe format: plain tab-separated fields
	defer w.Flush()
	for _, t := range topics {
		if t.Err != nil {
			return fmt.Errorf("%s: %w", t.Topic, t.Err)
		}
		var overrides []string
		for _, r := range rc {
			if r.Name != t.Topic {
				continue
			}
			for _, c := range r.Configs {
				if c.Source == 1 && c.Value != nil { // DYNAMIC_TOPIC_CONFIG
					overrides = append(overrides, c.Key+"="+*c.Value)
				}
			}
		}
		sort.Strings(overrides)
		rf := 0
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Replicas)
		}
		fmt.Fprintf(w, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
			t.Topic, topicIDString(t.ID), len(t.Partitions), rf, strings.Join(overrides, ","))
		for _, p := range t.Partitions.Sorted() {
			s, _ := starts.Lookup(t.Topic, p.Partition)
			e, _ := ends.Lookup(t.Topic, p.Partition)
			fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s\tOffsets: %d..%d\n",
				t.Topic, p.Partition, p.Leader, ids(p.Replicas), ids(p.ISR), s.Offset, e.Offset)
		}
	}
	return nil
}

// createWithAssignment sends CreateTopics with explicit replica assignments (kadm has no call
// for that), as kafka-topics.sh --replica-assignment does.
func createWithAssignment(ctx context.Context, cl *kgo.Client, topic string, a map[int32][]int32, cfgs map[string]*string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = topic, -1, -1
	for p := int32(0); p < int32(len(a)); p++ {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = p, a[p]
		t.ReplicaAssignment = append(t.ReplicaAssignment, ra)
	}
	for k, v := range cfgs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, v
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		msg := ""
		if m := resp.Topics[0].ErrorMessage; m != nil {
			msg = ": " + *m
		}
		return fmt.Errorf("create %s: %w%s", topic, err, msg)
	}
	return nil
}

func topicIDString(id kadm.TopicID) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(id.String()), "=")
}

func ids(xs []int32) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(int(x))
	}
	return strings.Join(parts, ",")
}
