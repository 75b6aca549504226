package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gregor-broker/gregor/clients"
)

func init() {
	register("elect-leaders", "run preferred or unclean leader elections (like kafka-leader-election.sh)", runElectLeaders)
	register("kafka-leader-election.sh", "Kafka's kafka-leader-election.sh (gregor elect-leaders)", func(args []string) error {
		return runElectLeadersAs("kafka-leader-election.sh", args)
	})
}

func runElectLeaders(args []string) error { return runElectLeadersAs("gregor elect-leaders", args) }

func runElectLeadersAs(name string, args []string) error {
	fs := newFlags(name, name+" -b host:port --election-type PREFERRED|UNCLEAN (--all-topic-partitions | --topic T --partition P | --path-to-json-file F)")
	bootstrap := bootstrapFlag(fs)
	kind := fs.String("election-type", "", "PREFERRED or UNCLEAN")
	topic := topicFlag(fs, "", "topic whose partition to elect (with --partition)")
	partition := partitionFlag(fs, -1, "partition to elect (with --topic)")
	all := fs.Bool("all-topic-partitions", false, "every partition of every topic")
	file := fs.String("path-to-json-file", "", `{"partitions":[{"topic":"t","partition":0}]}`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var et int8
	switch strings.ToUpper(*kind) {
	case "PREFERRED":
		et = clients.ElectionPreferred
	case "UNCLEAN":
		et = clients.ElectionUnclean
	default:
		return usagef("--election-type must be PREFERRED or UNCLEAN")
	}
	var parts []clients.PartitionReplicas
	switch {
	case *all:
	case *file != "":
		data, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		var j struct {
			Partitions []struct {
				Topic     string `json:"topic"`
				Partition int    `json:"partition"`
			} `json:"partitions"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		for _, p := range j.Partitions {
			parts = append(parts, clients.PartitionReplicas{Topic: p.Topic, Partition: p.Partition})
		}
	case *topic != "" && *partition >= 0:
		parts = []clients.PartitionReplicas{{Topic: *topic, Partition: *partition}}
	default:
		return usagef("one of --all-topic-partitions, --path-to-json-file or --topic with --partition is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := clients.ElectLeaders(ctx, splitBrokers(*bootstrap), et, parts)
	if err != nil {
		return err
	}
	label := strings.ToUpper(*kind)
	var done, notNeeded []string
	failed := 0
	for _, o := range out {
		name := fmt.Sprintf("%s-%d", o.Topic, o.Partition)
		switch {
		case o.Err == nil:
			done = append(done, name)
		case errors.Is(o.Err, kafka.ElectionNotNeeded):
			notNeeded = append(notNeeded, name)
		default:
			failed++
			fmt.Printf("Error completing leader election (%s) for partition: %s: %v\n", label, name, o.Err)
		}
	}
	if len(done) > 0 {
		fmt.Printf("Successfully completed leader election (%s) for partitions %s\n", label, strings.Join(done, ", "))
	}
	if len(notNeeded) > 0 {
		fmt.Printf("Valid replica already elected for partitions %s\n", strings.Join(notNeeded, ", "))
	}
	if failed > 0 {
		return fmt.Errorf("%d election(s) failed", failed)
	}
	return nil
}
