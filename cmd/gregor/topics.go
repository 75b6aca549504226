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

	"github.com/gregor-broker/gregor/clients"
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
	partitions := fs.Int("partitions", 0, "partition count (create: default num.partitions; alter: new count)")
	rf := fs.Int("replication-factor", 0, "replication factor (default default.replication.factor)")
	assignment := fs.String("replica-assignment", "", `explicit replicas, e.g. "1:2,2:3" (partition 0 on 1,2; 1 on 2,3)`)
	var configs, deleteConfigs multiFlag
	fs.Var(&configs, "config", "topic config k=v (repeatable)")
	fs.Var(&deleteConfigs, "delete-config", "topic config to remove (alter; repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	brokers := strings.Split(*bootstrap, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfgs := map[string]string{}
	for _, kv := range configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--config %q is not k=v", kv)
		}
		cfgs[k] = v
	}
	if action != "list" && action != "describe" && *topic == "" {
		return errors.New("--topic is required")
	}
	switch action {
	case "create":
		spec := clients.TopicSpec{Name: *topic, Partitions: *partitions, ReplicationFactor: *rf, Configs: cfgs}
		if *assignment != "" {
			a, err := parseAssignment(*assignment)
			if err != nil {
				return err
			}
			spec.Assignment = a
		}
		if err := clients.CreateTopic(ctx, brokers, spec); err != nil {
			return fmt.Errorf("create %s: %w", *topic, err)
		}
		fmt.Printf("Created topic %s.\n", *topic)
	case "list":
		names, err := clients.ListTopics(ctx, brokers)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Println(n)
		}
	case "describe":
		var names []string
		if *topic != "" {
			names = []string{*topic}
		}
		topics, err := clients.DescribeTopics(ctx, brokers, names)
		if err != nil {
			return err
		}
		printTopics(topics)
	case "delete":
		if err := clients.DeleteTopic(ctx, brokers, *topic); err != nil {
			return fmt.Errorf("delete %s: %w", *topic, err)
		}
		fmt.Printf("Deleted topic %s.\n", *topic)
	case "alter":
		if err := clients.AlterTopic(ctx, brokers, *topic, *partitions, cfgs, deleteConfigs); err != nil {
			return fmt.Errorf("alter %s: %w", *topic, err)
		}
		fmt.Printf("Altered topic %s.\n", *topic)
	default:
		return fmt.Errorf("unknown action %q: create, list, describe, alter or delete", action)
	}
	return nil
}

// parseAssignment reads kafka-topics' --replica-assignment: partitions separated by commas,
// replicas by colons.
func parseAssignment(s string) (map[int][]int, error) {
	out := map[int][]int{}
	for p, part := range strings.Split(s, ",") {
		for _, r := range strings.Split(part, ":") {
			id, err := strconv.Atoi(strings.TrimSpace(r))
			if err != nil {
				return nil, fmt.Errorf("--replica-assignment %q: %q is not a broker id", s, r)
			}
			out[p] = append(out[p], id)
		}
	}
	return out, nil
}

// printTopics prints Kafka's describe format: plain tab-separated fields.
func printTopics(topics []clients.TopicInfo) {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, t := range topics {
		var overrides []string
		for k, v := range t.Overrides {
			overrides = append(overrides, k+"="+v)
		}
		sort.Strings(overrides)
		rf := 0
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Replicas)
		}
		fmt.Fprintf(w, "Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
			t.Name, len(t.Partitions), rf, strings.Join(overrides, ","))
		for _, p := range t.Partitions {
			fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s\tOffsets: %d..%d\n",
				t.Name, p.ID, p.Leader, ids(p.Replicas), ids(p.ISR), p.Start, p.End)
		}
	}
}

func ids(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}
