package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gregor-broker/gregor/clients"
)

func init() {
	register("produce", "send stdin lines as records (kcat -P style): gregor produce -b host:port -t topic [-K :]", runProduce)
	register("consume", "print records (kcat -C style, or -G with --group): gregor consume -b host:port -t topic [-o beginning] [-e] [-c N] [--group G]", runConsume)
}

func runProduce(args []string) error {
	fs := newFlags("produce", "gregor produce -b host:port -t topic [-K sep] [-H k=v] < lines")
	var o clients.ProduceOptions
	brokers := bootstrapFlag(fs)
	topic := topicFlag(fs, "", "topic (required)")
	partition := partitionFlag(fs, -1, "partition (-1: by key hash)")
	fs.StringVar(&o.KeySep, "K", "", "key separator: lines are key<sep>value")
	fs.IntVar(&o.Acks, "acks", -1, "-1 (all), 1 or 0")
	fs.StringVar(&o.Compression, "z", "none", "compression: none, gzip, snappy, lz4, zstd")
	var headers multiFlag
	fs.Var(&headers, "H", "header key=value (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	o.Topic, o.Partition = *topic, *partition
	if o.Topic == "" {
		return usagef("-t/--topic is required")
	}
	o.Brokers = splitBrokers(*brokers)
	o.Headers = map[string]string{}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok {
			return usagef("-H %q is not key=value", h)
		}
		o.Headers[k] = v
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n, err := clients.Produce(ctx, o, os.Stdin)
	fmt.Fprintf(os.Stderr, "%d records produced to %s\n", n, o.Topic)
	return err
}

func runConsume(args []string) error {
	fs := newFlags("consume", "gregor consume -b host:port -t topic [-o beginning|end|N|s@ms] [-e] [-c N] [--group G]")
	var o clients.ConsumeOptions
	brokers := bootstrapFlag(fs)
	topic := topicFlag(fs, "", "topic (required)")
	partition := partitionFlag(fs, -1, "partition (-1: all)")
	fs.StringVar(&o.Start, "o", "end", "start: beginning, end, an offset, or s@<unix ms>")
	fs.IntVar(&o.Count, "c", 0, "exit after this many records")
	fs.IntVar(&o.Count, "max-messages", 0, "same as -c")
	fs.BoolVar(&o.ExitAtEnd, "e", false, "exit once every partition read has reached its end (as of the start), empty ones included")
	fs.StringVar(&o.KeySep, "K", "", "print key<sep>value")
	fs.BoolVar(&o.Headers, "headers", false, "print headers before each record")
	fs.StringVar(&o.Group, "group", "", "consume as a member of this consumer group, committing each record printed (kcat -G)")
	fs.StringVar(&o.Group, "G", "", "short for --group")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	o.Topic = *topic
	if o.Topic == "" {
		return usagef("-t/--topic is required")
	}
	if o.Group != "" && (o.ExitAtEnd || *partition >= 0) {
		return usagef("a group member is assigned its partitions: -e and -p do not apply with --group")
	}
	o.Brokers = splitBrokers(*brokers)
	if *partition >= 0 {
		o.Partitions = []int{*partition}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	_, err := clients.Consume(ctx, o, os.Stdout)
	if err == context.Canceled {
		return nil
	}
	return err
}
