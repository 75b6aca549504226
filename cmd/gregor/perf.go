package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register("perf", "load test: gregor perf produce|consume --topic T --records N --size B (franz-go client)", runPerf)
}

// runPerf drives a broker with franz-go and reports records/s and MB/s, like
// kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh.
func runPerf(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: gregor perf produce|consume [flags]")
	}
	mode := args[0]
	fs := flag.NewFlagSet("perf "+mode, flag.ContinueOnError)
	bootstrap := fs.String("bootstrap-server", "127.0.0.1:9092", "broker address(es)")
	topic := fs.String("topic", "perf", "topic")
	records := fs.Int("records", 1_000_000, "number of records")
	size := fs.Int("size", 100, "value size in bytes (produce)")
	acks := fs.String("acks", "all", "all, 1 or 0 (produce)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	seeds := strings.Split(*bootstrap, ",")
	switch mode {
	case "produce":
		opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(*topic), kgo.ProducerLinger(5 * time.Millisecond),
			kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(100_000), kgo.ProducerBatchCompression(kgo.NoCompression())}
		switch *acks {
		case "all", "-1":
			opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
		case "1":
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
		case "0":
			opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
		default:
			return fmt.Errorf("--acks %q", *acks)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		defer cl.Close()
		value := make([]byte, *size)
		var wg sync.WaitGroup
		var failed atomic.Int64
		var firstErr atomic.Value
		start := time.Now()
		for i := 0; i < *records; i++ {
			wg.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
				if err != nil && failed.Add(1) == 1 {
					firstErr.Store(err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		report("produce", *records, *records**size, time.Since(start))
		if n := failed.Load(); n > 0 {
			return fmt.Errorf("%d records failed; first: %v", n, firstErr.Load())
		}
	case "consume":
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(*topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(50<<20))
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		n, bytes := 0, 0
		start := time.Now()
		for n < *records {
			fetches := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("consumed %d of %d records: %w", n, *records, err)
			}
			if errs := fetches.Errors(); len(errs) > 0 {
				return fmt.Errorf("fetch: %v", errs[0].Err)
			}
			fetches.EachRecord(func(r *kgo.Record) { n++; bytes += len(r.Value) })
		}
		report("consume", n, bytes, time.Since(start))
	default:
		return fmt.Errorf("unknown perf mode %q", mode)
	}
	return nil
}

func report(what string, records, bytes int, d time.Duration) {
	s := d.Seconds()
	fmt.Printf("%s: %d records, %.1f MB in %.2fs: %.0f records/s, %.1f MB/s\n",
		what, records, float64(bytes)/1e6, s, float64(records)/s, float64(bytes)/1e6/s)
}
