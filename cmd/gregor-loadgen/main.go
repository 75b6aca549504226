// Command gregor-loadgen is scripts/bench.sh's client: franz-go (kgo) producing, consuming and
// measuring end-to-end latency against one broker — Gregor or internal/benchfloor's floor, the
// same workload for both. It prints one line of key=value figures per run for the script.
//
//	gregor-loadgen create  -bootstrap B -topic T -partitions P
//	gregor-loadgen produce -bootstrap B -topic T -records N -size S -acks 1|all   (all: idempotent)
//	gregor-loadgen consume -bootstrap B -topic T -records N
//	gregor-loadgen e2e     -bootstrap B -topic T -rate R -duration D -size S
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gregor-loadgen create|produce|consume|e2e [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	bootstrap := fs.String("bootstrap", "127.0.0.1:9092", "broker address")
	topic := fs.String("topic", "bench", "topic")
	partitions := fs.Int("partitions", 3, "partitions (create)")
	records := fs.Int("records", 1_000_000, "records (produce, consume)")
	size := fs.Int("size", 100, "value bytes (produce, e2e)")
	acks := fs.String("acks", "1", "1 or all (all = idempotent)")
	rate := fs.Int("rate", 5000, "records/s (e2e)")
	duration := fs.Duration("duration", 10*time.Second, "run time (e2e)")
	_ = fs.Parse(os.Args[2:])
	seeds := strings.Split(*bootstrap, ",")
	var err error
	switch mode {
	case "create":
		err = create(seeds, *topic, *partitions)
	case "produce":
		err = produce(seeds, *topic, *records, *size, *acks)
	case "consume":
		err = consume(seeds, *topic, *records)
	case "e2e":
		err = e2e(seeds, *topic, *rate, *duration, *size)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gregor-loadgen:", err)
		os.Exit(1)
	}
}

func create(seeds []string, topic string, partitions int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), 1, nil, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

// producerOpts are those of `gregor perf produce`, so figures compare with the older ones.
func producerOpts(seeds []string, topic, acks string) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(100_000), kgo.ProducerBatchCompression(kgo.NoCompression())}
	switch acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("-acks %q", acks)
	}
	return opts, nil
}

func produce(seeds []string, topic string, n, size int, acks string) error {
	opts, err := producerOpts(seeds, topic, acks)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	value := make([]byte, size)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil && failed.Add(1) == 1 {
				firstErr.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	d := time.Since(start)
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d records failed: %v", f, n, firstErr.Load())
	}
	fmt.Printf("records=%d seconds=%.3f records_per_s=%.0f\n", n, d.Seconds(), float64(n)/d.Seconds())
	return nil
}

func consume(seeds []string, topic string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	got := 0
	var start time.Time
	for got < n {
		fetches := cl.PollFetches(ctx)
		if start.IsZero() {
			start = time.Now() // from the first answer: metadata and connection setup excluded
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumed %d of %d: %w", got, n, err)
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		got += fetches.NumRecords()
	}
	d := time.Since(start)
	fmt.Printf("records=%d seconds=%.3f records_per_s=%.0f\n", got, d.Seconds(), float64(got)/d.Seconds())
	return nil
}

// e2e produces at rate records/s for duration (acks=1, no linger) to a new topic while a
// consumer reads it; each value carries its send time, and the latency is receive - send.
func e2e(seeds []string, topic string, rate int, duration time.Duration, size int) error {
	if size < 8 {
		size = 8
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), duration+time.Minute)
	defer cancel()
	// Warm up: one record there and back, so both clients have their connections and the
	// consumer its position before the timed run (the topic is new: the consumer reads it from
	// the start).
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: make([]byte, size)}).FirstErr(); err != nil {
		return fmt.Errorf("warm-up produce: %w", err)
	}
	for warm := 0; warm < 1; {
		fetches := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return errors.New("warm-up record never arrived")
		}
		warm += fetches.NumRecords()
	}
	total := int(float64(rate) * duration.Seconds())
	lat := make([]time.Duration, 0, total)
	done := make(chan error, 1)
	go func() {
		for len(lat) < total {
			fetches := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				done <- fmt.Errorf("received %d of %d: %w", len(lat), total, ctx.Err())
				return
			}
			now := time.Now().UnixNano()
			fetches.EachRecord(func(r *kgo.Record) {
				if len(r.Value) >= 8 {
					lat = append(lat, time.Duration(now-int64(binary.BigEndian.Uint64(r.Value))))
				}
			})
		}
		done <- nil
	}()
	var failed atomic.Int64
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		v := make([]byte, size)
		binary.BigEndian.PutUint64(v, uint64(time.Now().UnixNano()))
		prod.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := <-done; err != nil {
		return err
	}
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d sends failed", f)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	fmt.Printf("records=%d seconds=%.3f records_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
		len(lat), time.Since(start).Seconds(), float64(len(lat))/time.Since(start).Seconds(), q(0.5), q(0.99), q(1))
	return nil
}
