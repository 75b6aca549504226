package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gregor-broker/gregor/clients"
)

func init() {
	register("produce", "send stdin lines as records (kcat -P style): gregor produce -b host:port -t topic [-K :]", runProduce)
	register("consume", "print records (kcat -C style): gregor consume -b host:port -t topic [-o beginning] [-e] [-c N]", runConsume)
}

func runProduce(args []string) error {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	var o clients.ProduceOptions
	brokers := fs.String("b", "127.0.0.1:9092", "bootstrap broker(s), comma-separated")
	fs.StringVar(&o.Topic, "t", "", "topic (required)")
	fs.IntVar(&o.Partition, "p", -1, "partition (-1: by key hash)")
	fs.StringVar(&o.KeySep, "K", "", "key separator: lines are key<sep>value")
	fs.IntVar(&o.Acks, "acks", -1, "-1 (all), 1 or 0")
	fs.StringVar(&o.Compression, "z", "none", "compression: none, gzip, snappy, lz4, zstd")
	var headers multiFlag
	fs.Var(&headers, "H", "header key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Topic == "" {
		return fmt.Errorf("-t topic is required")
	}
	o.Brokers = strings.Split(*brokers, ",")
	o.Headers = map[string]string{}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok {
			return fmt.Errorf("-H %q is not key=value", h)
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
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	var o clients.ConsumeOptions
	brokers := fs.String("b", "127.0.0.1:9092", "bootstrap broker(s), comma-separated")
	fs.StringVar(&o.Topic, "t", "", "topic (required)")
	partition := fs.Int("p", -1, "partition (-1: all)")
	fs.StringVar(&o.Start, "o", "end", "start: beginning, end, an offset, or s@<unix ms>")
	fs.IntVar(&o.Count, "c", 0, "exit after this many records")
	fs.BoolVar(&o.ExitAtEnd, "e", false, "exit at the end of each partition")
	fs.StringVar(&o.KeySep, "K", "", "print key<sep>value")
	fs.BoolVar(&o.Headers, "headers", false, "print headers before each record")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Topic == "" {
		return fmt.Errorf("-t topic is required")
	}
	o.Brokers = strings.Split(*brokers, ",")
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
