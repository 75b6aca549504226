package main

import (
	"bufio"
	"context"
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

var topicActions = map[string]action{
	"create":   {"create a topic", runTopicsAction},
	"list":     {"list the topics' names", runTopicsAction},
	"describe": {"partitions, leaders, replicas, ISR and offsets of topics", runTopicsAction},
	"alter":    {"add partitions, set or remove topic configs", runTopicsAction},
	"delete":   {"delete a topic", runTopicsAction},
}

func runTopics(args []string) error { return runActions("topics", topicActions, args) }

// topicsOptions is what kafka-topics.sh and `gregor topics` both take.
type topicsOptions struct {
	brokers        []string
	topic          string
	partitions, rf int
	assignment     string
	filter         partitionFilter
	configs        map[string]string
	deleteConfigs  []string
	kafkaFormat    bool // print exactly what kafka-topics.sh prints (no Offsets column)
}

// addTopicsFlags defines the flags shared by `gregor topics` and kafka-topics.sh.
func addTopicsFlags(fs *flag.FlagSet, o *topicsOptions, configs, deleteConfigs *multiFlag) {
	fs.IntVar(&o.partitions, "partitions", 0, "partition count (create: default num.partitions; alter: new count)")
	fs.IntVar(&o.rf, "replication-factor", 0, "replication factor (default default.replication.factor)")
	fs.StringVar(&o.assignment, "replica-assignment", "", `explicit replicas, e.g. "1:2,2:3" (partition 0 on 1,2; 1 on 2,3)`)
	fs.BoolVar(&o.filter.underReplicated, "under-replicated-partitions", false, "describe: only partitions whose ISR is smaller than their replicas")
	fs.BoolVar(&o.filter.unavailable, "unavailable-partitions", false, "describe: only partitions without a live leader")
	fs.BoolVar(&o.filter.underMinISR, "under-min-isr-partitions", false, "describe: only partitions whose ISR is below min.insync.replicas")
	fs.BoolVar(&o.filter.atMinISR, "at-min-isr-partitions", false, "describe: only partitions whose ISR equals min.insync.replicas")
	fs.Var(configs, "config", "topic config k=v (repeatable)")
	fs.Var(deleteConfigs, "delete-config", "topic config to remove (alter; repeatable)")
}

func runTopicsAction(action string, args []string) error {
	fs := newFlags("topics "+action, "gregor topics "+action+" [-b host:port] [-t topic] [flags]")
	bootstrap := bootstrapFlag(fs)
	topic := topicFlag(fs, "", "topic name")
	var o topicsOptions
	var configs, deleteConfigs multiFlag
	addTopicsFlags(fs, &o, &configs, &deleteConfigs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	o.brokers, o.topic, o.deleteConfigs = splitBrokers(*bootstrap), *topic, deleteConfigs
	var err error
	if o.configs, err = parseConfigs("--config", configs); err != nil {
		return err
	}
	return doTopics(action, o)
}

// parseConfigs reads repeated k=v flags.
func parseConfigs(flagName string, kvs []string) (map[string]string, error) {
	cfgs := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("%s %q is not k=v", flagName, kv)
		}
		cfgs[k] = v
	}
	return cfgs, nil
}

func doTopics(action string, o topicsOptions) error {
	if action != "list" && action != "describe" && o.topic == "" {
		return usagef("--topic is required for %s", action)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch action {
	case "create":
		spec := clients.TopicSpec{Name: o.topic, Partitions: o.partitions, ReplicationFactor: o.rf, Configs: o.configs}
		if o.assignment != "" {
			a, err := parseAssignment(o.assignment)
			if err != nil {
				return usageError{err.Error()}
			}
			spec.Assignment = a
		}
		if err := clients.CreateTopic(ctx, o.brokers, spec); err != nil {
			return fmt.Errorf("create %s: %w", o.topic, err)
		}
		fmt.Printf("Created topic %s.\n", o.topic)
	case "list":
		names, err := clients.ListTopics(ctx, o.brokers)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Println(n)
		}
	case "describe":
		var names []string
		if o.topic != "" {
			names = []string{o.topic}
		}
		topics, err := clients.DescribeTopics(ctx, o.brokers, names)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(os.Stdout)
		printTopics(topics, o.filter, o.kafkaFormat, w)
		w.Flush()
	case "delete":
		if err := clients.DeleteTopic(ctx, o.brokers, o.topic); err != nil {
			return fmt.Errorf("delete %s: %w", o.topic, err)
		}
		fmt.Printf("Deleted topic %s.\n", o.topic)
	case "alter":
		if err := clients.AlterTopic(ctx, o.brokers, o.topic, o.partitions, o.configs, o.deleteConfigs); err != nil {
			return fmt.Errorf("alter %s: %w", o.topic, err)
		}
		fmt.Printf("Altered topic %s.\n", o.topic)
	default:
		return usagef("unknown action %q: create, list, describe, alter or delete", action)
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

// partitionFilter is kafka-topics.sh --describe's partition filters; none set shows every
// partition under its topic's summary line, any set shows only the matching partition lines.
type partitionFilter struct {
	underReplicated, unavailable, underMinISR, atMinISR bool
	linesOnly                                           bool // never print the topic's summary line
}

func (f partitionFilter) any() bool {
	return f.underReplicated || f.unavailable || f.underMinISR || f.atMinISR
}

func (f partitionFilter) keep(t clients.TopicInfo, p clients.PartitionInfo) bool {
	switch {
	case !f.any():
		return true
	case f.underReplicated && len(p.ISR) < len(p.Replicas):
		return true
	case f.unavailable && p.Leader < 0:
		return true
	case f.underMinISR && len(p.ISR) < t.MinISR:
		return true
	case f.atMinISR && len(p.ISR) == t.MinISR:
		return true
	}
	return false
}

// printTopics prints Kafka's describe format: plain tab-separated fields, "none" for a missing
// leader, the offline replicas when there are any, then Gregor's log offsets.
func printTopics(topics []clients.TopicInfo, f partitionFilter, kafkaFormat bool, w *bufio.Writer) {
	for _, t := range topics {
		if !f.any() && !f.linesOnly {
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
		}
		for _, p := range t.Partitions {
			if !f.keep(t, p) {
				continue
			}
			leader := strconv.Itoa(p.Leader)
			if p.Leader < 0 {
				leader = "none"
			}
			fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s", t.Name, p.ID, leader, ids(p.Replicas), ids(p.ISR))
			if len(p.Offline) > 0 {
				fmt.Fprintf(w, "\tOffline: %s", ids(p.Offline))
			}
			if !kafkaFormat {
				fmt.Fprintf(w, "\tOffsets: %d..%d", p.Start, p.End)
			}
			fmt.Fprintln(w)
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
