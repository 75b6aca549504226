package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register("perf", "load test: gregor perf produce|consume -t topic --records N --size B (franz-go client)", runPerf)
}

var perfActions = map[string]action{
	"produce": {"send --records records of --size bytes and report the acknowledged rate", runPerfProduce},
	"consume": {"read --records records from the start of a topic and report the rate", runPerfConsume},
}

// runPerf drives a broker with franz-go and reports records/s and MB/s, like
// kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh (which are these same engines
// with Kafka's flags and output: kafka_perf.go).
func runPerf(args []string) error { return runActions("perf", perfActions, args) }

func runPerfProduce(name string, args []string) error {
	fs := newFlags("perf produce", "gregor perf produce -b host:port -t topic [--records N] [--size B] [--acks all|1|0]")
	bootstrap := bootstrapFlag(fs)
	topic := topicFlag(fs, "perf", "topic (created with the broker's defaults, or --partitions/--replication-factor, if missing)")
	var spec producePerfSpec
	fs.IntVar(&spec.records, "records", 1_000_000, "number of records")
	fs.IntVar(&spec.size, "size", 100, "value size in bytes")
	fs.StringVar(&spec.acks, "acks", "all", "all, 1 or 0")
	fs.Float64Var(&spec.throughput, "throughput", -1, "records/s to send at most (-1: as fast as possible)")
	fs.IntVar(&spec.partitions, "partitions", -1, "partitions of the topic if it has to be created (-1: num.partitions)")
	fs.IntVar(&spec.rf, "replication-factor", -1, "replication factor of the topic if it has to be created (-1: default.replication.factor)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	spec.brokers, spec.topic = splitBrokers(*bootstrap), *topic
	spec.progress = func(s perfWindow) {
		fmt.Fprintf(os.Stderr, "produce: %d records acknowledged, %d failed, %.0f records/s in the last %.1fs\n",
			s.totalAcked, s.totalFailed, float64(s.acked)/s.elapsed.Seconds(), s.elapsed.Seconds())
	}
	res, err := producePerf(spec)
	if err != nil {
		return err
	}
	s := res.elapsed.Seconds()
	mb := float64(res.acked) * float64(spec.size) / 1e6
	// The rate counts acknowledged records only; failures are beside it, never in it.
	fmt.Printf("produce: %d records acknowledged, %d failed, %.1f MB in %.2fs: %.0f records/s, %.1f MB/s\n",
		res.acked, res.failed, mb, s, float64(res.acked)/s, mb/s)
	if res.failed > 0 {
		return fmt.Errorf("%d of %d records failed; first: %v", res.failed, spec.records, res.firstErr)
	}
	return nil
}

func runPerfConsume(name string, args []string) error {
	fs := newFlags("perf consume", "gregor perf consume -b host:port -t topic [--records N]")
	bootstrap := bootstrapFlag(fs)
	topic := topicFlag(fs, "perf", "topic")
	var spec consumePerfSpec
	fs.IntVar(&spec.records, "records", 1_000_000, "number of records to read")
	fs.DurationVar(&spec.idle, "timeout", 30*time.Second, "give up when no record arrives for this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	spec.brokers, spec.topic = splitBrokers(*bootstrap), *topic
	spec.progress = func(n, bytes int64, d time.Duration) {
		fmt.Fprintf(os.Stderr, "consume: %d of %d records in %.1fs\n", n, spec.records, d.Seconds())
	}
	res, err := consumePerf(spec)
	if err != nil {
		return err
	}
	s := res.elapsed.Seconds()
	fmt.Printf("consume: %d records, %.1f MB in %.2fs: %.0f records/s, %.1f MB/s\n",
		res.records, float64(res.bytes)/1e6, s, float64(res.records)/s, float64(res.bytes)/1e6/s)
	if res.records < int64(spec.records) {
		return fmt.Errorf("read %d of %d records: no record for %v", res.records, spec.records, spec.idle)
	}
	return nil
}

// producePerfSpec is one producer load test.
type producePerfSpec struct {
	brokers        []string
	topic          string
	records, size  int
	acks           string
	throughput     float64           // records/s at most; <= 0: unlimited
	props          map[string]string // Kafka producer properties (linger.ms, batch.size, compression.type, ...)
	partitions, rf int               // for creating a missing topic; -1: the broker's defaults
	interval       time.Duration     // progress interval (default 5 s, as Kafka's tool)
	progress       func(perfWindow)  // called every interval while records are in flight
	latencies      bool              // time every record (Kafka's tool reports latencies; gregor perf does not)
}

// perfWindow is the traffic of one progress interval.
type perfWindow struct {
	acked, failed           int64
	totalAcked, totalFailed int64
	latencySum, latencyMax  time.Duration
	elapsed                 time.Duration
}

type producePerfResult struct {
	acked, failed int64
	firstErr      error
	elapsed       time.Duration
	latencies     []time.Duration // of acknowledged records, sampled
	latencySum    time.Duration
	latencyMax    time.Duration
}

// producerOpts turns Kafka producer properties into franz-go options. Unknown keys are refused:
// a test that silently ignores its settings measures something else.
func producerOpts(acks string, props map[string]string) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.ProducerLinger(5 * time.Millisecond), kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(100_000), kgo.ProducerBatchCompression(kgo.NoCompression())}
	if v, ok := props["acks"]; ok {
		acks = v
	}
	switch acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, usagef("acks %q: all, -1, 1 or 0", acks)
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := props[k]
		n, nerr := strconv.Atoi(v)
		bad := func() error { return usagef("producer property %s=%q is not a number", k, v) }
		switch k {
		case "acks", "bootstrap.servers", "client.id", "key.serializer", "value.serializer":
		case "linger.ms":
			if nerr != nil {
				return nil, bad()
			}
			opts = append(opts, kgo.ProducerLinger(time.Duration(n)*time.Millisecond))
		case "batch.size":
			if nerr != nil {
				return nil, bad()
			}
			opts = append(opts, kgo.ProducerBatchMaxBytes(int32(n)))
		case "buffer.memory":
		case "enable.idempotence":
			if v == "false" {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
		case "compression.type":
			c := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
				"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
			codec, ok := c[v]
			if !ok {
				return nil, usagef("compression.type %q: none, gzip, snappy, lz4 or zstd", v)
			}
			opts = append(opts, kgo.ProducerBatchCompression(codec))
		case "max.in.flight.requests.per.connection":
			if nerr != nil {
				return nil, bad()
			}
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(n))
		case "delivery.timeout.ms":
			if nerr != nil {
				return nil, bad()
			}
			opts = append(opts, kgo.RecordDeliveryTimeout(time.Duration(n)*time.Millisecond))
		default:
			return nil, usagef("producer property %q is not supported", k)
		}
	}
	return opts, nil
}

// ensureTopic creates the topic when it does not exist and waits until every partition has a
// leader, so a load test never spends its time on UNKNOWN_TOPIC_OR_PARTITION retries. It gives
// up within seconds, saying why.
func ensureTopic(brokers []string, topic string, partitions, rf int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	created := false
	for {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return fmt.Errorf("metadata of %s from %s: %w", topic, strings.Join(brokers, ","), err)
		}
		t := md.Topics[topic]
		switch {
		case t.Err == nil && len(t.Partitions) > 0:
			ready := true
			for _, p := range t.Partitions {
				ready = ready && p.Err == nil && p.Leader >= 0
			}
			if ready {
				return nil
			}
		case errors.Is(t.Err, kerr.UnknownTopicOrPartition) && !created:
			resp, err := adm.CreateTopic(ctx, int32(partitions), int16(rf), nil, topic)
			if err == nil {
				err = resp.Err
			}
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("topic %s does not exist and creating it failed: %w", topic, err)
			}
			created = true
			if err == nil {
				fmt.Fprintf(os.Stderr, "created topic %s\n", topic)
			}
		case t.Err != nil && !errors.Is(t.Err, kerr.UnknownTopicOrPartition) && !errors.Is(t.Err, kerr.LeaderNotAvailable):
			return fmt.Errorf("topic %s: %w", topic, t.Err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leader for every partition after 15s", topic)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// producePerf sends spec.records records, timing each from its hand-over to the client to its
// acknowledgement.
func producePerf(spec producePerfSpec) (producePerfResult, error) {
	var res producePerfResult
	if spec.records <= 0 || spec.size < 0 {
		return res, usagef("the number of records must be positive and the size not negative")
	}
	opts, err := producerOpts(spec.acks, spec.props)
	if err != nil {
		return res, err
	}
	if err := ensureTopic(spec.brokers, spec.topic, spec.partitions, spec.rf); err != nil {
		return res, err
	}
	opts = append(opts, kgo.SeedBrokers(spec.brokers...), kgo.DefaultProduceTopic(spec.topic))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, err
	}
	defer cl.Close()

	// Latencies (when asked for) of every stride-th record are kept for the percentiles, at
	// most ~500k samples, each in its own slot: the callbacks never take a lock, which would
	// show in the rate measured.
	stride := spec.records/500_000 + 1
	var samples []time.Duration
	if spec.latencies {
		samples = make([]time.Duration, (spec.records+stride-1)/stride)
		for i := range samples {
			samples[i] = -1
		}
	}
	var acked, failed atomic.Int64
	var latSum, latMax, winLatSum, winLatMax atomic.Int64 // nanoseconds
	var firstErr atomic.Value
	var wg sync.WaitGroup
	value := make([]byte, spec.size)
	start := time.Now()
	if spec.interval == 0 {
		spec.interval = 5 * time.Second
	}
	stop := make(chan struct{})
	var reporter sync.WaitGroup
	if spec.progress != nil {
		reporter.Add(1)
		go func() { // owned by producePerf: stopped by close(stop)
			defer reporter.Done()
			t := time.NewTicker(spec.interval)
			defer t.Stop()
			last, lastAcked, lastFailed := start, int64(0), int64(0)
			for {
				select {
				case <-stop:
					return
				case now := <-t.C:
					w := perfWindow{totalAcked: acked.Load(), totalFailed: failed.Load(), elapsed: now.Sub(last),
						latencySum: time.Duration(winLatSum.Swap(0)), latencyMax: time.Duration(winLatMax.Swap(0))}
					w.acked, w.failed = w.totalAcked-lastAcked, w.totalFailed-lastFailed
					last, lastAcked, lastFailed = now, w.totalAcked, w.totalFailed
					spec.progress(w)
				}
			}
		}()
	}
	for i := 0; i < spec.records; i++ {
		if spec.throughput > 0 {
			// Kafka's throttle: never ahead of i/throughput seconds since the start.
			if ahead := time.Duration(float64(i)/spec.throughput*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		slot := -1
		if spec.latencies && i%stride == 0 {
			slot = i / stride
		}
		wg.Add(1)
		// The record's Timestamp is set by the client when it is handed over: its latency base.
		cl.Produce(context.Background(), &kgo.Record{Value: value}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				if failed.Add(1) == 1 {
					firstErr.Store(err)
				}
				return
			}
			acked.Add(1)
			if !spec.latencies {
				return
			}
			lat := int64(time.Since(r.Timestamp))
			latSum.Add(lat)
			winLatSum.Add(lat)
			storeMax(&latMax, lat)
			storeMax(&winLatMax, lat)
			if slot >= 0 {
				samples[slot] = time.Duration(lat)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	close(stop)
	reporter.Wait()
	res.acked, res.failed = acked.Load(), failed.Load()
	res.latencySum, res.latencyMax = time.Duration(latSum.Load()), time.Duration(latMax.Load())
	for _, d := range samples {
		if d >= 0 { // a failed record has no latency
			res.latencies = append(res.latencies, d)
		}
	}
	if e, ok := firstErr.Load().(error); ok {
		res.firstErr = e
	}
	return res, nil
}

// storeMax raises m to v if v is larger.
func storeMax(m *atomic.Int64, v int64) {
	for {
		cur := m.Load()
		if v <= cur || m.CompareAndSwap(cur, v) {
			return
		}
	}
}

// percentile of sorted latencies, as Kafka's tool picks it: the sample at index p*n.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// consumePerfSpec is one consumer load test.
type consumePerfSpec struct {
	brokers  []string
	topic    string
	group    string // "": read every partition directly
	records  int
	latest   bool          // start at the end instead of the beginning
	idle     time.Duration // give up when nothing arrives for this long
	interval time.Duration
	progress func(records, bytes int64, elapsed time.Duration)
}

type consumePerfResult struct {
	records, bytes int64
	start, end     time.Time
	elapsed        time.Duration
	rebalance      time.Duration // until the first record arrived in a group (joining and syncing)
	fetchTime      time.Duration // elapsed minus rebalance
	timedOut       bool
}

func consumePerf(spec consumePerfSpec) (consumePerfResult, error) {
	var res consumePerfResult
	if spec.records <= 0 {
		return res, usagef("the number of records must be positive")
	}
	offset := kgo.NewOffset().AtStart()
	if spec.latest {
		offset = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(spec.brokers...), kgo.ConsumeTopics(spec.topic),
		kgo.ConsumeResetOffset(offset), kgo.FetchMaxBytes(50 << 20)}
	res.start = time.Now()
	var assigned atomic.Int64 // unix nanos of the first assignment
	if spec.group != "" {
		opts = append(opts, kgo.ConsumerGroup(spec.group), kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			assigned.CompareAndSwap(0, time.Now().UnixNano())
		}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	if spec.idle <= 0 {
		spec.idle = 10 * time.Second
	}
	if spec.interval == 0 {
		spec.interval = 5 * time.Second
	}
	lastRecord, lastReport := time.Now(), time.Now()
	for res.records < int64(spec.records) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return res, fmt.Errorf("fetch %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		got := int64(0)
		fetches.EachRecord(func(r *kgo.Record) { got++; res.bytes += int64(len(r.Value)) })
		res.records += got
		now := time.Now()
		if got > 0 {
			lastRecord = now
		} else if now.Sub(lastRecord) > spec.idle {
			res.timedOut = true
			break
		}
		if spec.progress != nil && now.Sub(lastReport) >= spec.interval {
			spec.progress(res.records, res.bytes, now.Sub(res.start))
			lastReport = now
		}
	}
	res.end = time.Now()
	if res.timedOut {
		res.end = lastRecord
	}
	res.elapsed = res.end.Sub(res.start)
	if a := assigned.Load(); a != 0 {
		res.rebalance = time.Unix(0, a).Sub(res.start)
	}
	res.fetchTime = res.elapsed - res.rebalance
	cl.LeaveGroup()
	return res, nil
}
