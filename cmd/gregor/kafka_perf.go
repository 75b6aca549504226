package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"time"
)

func init() {
	register("kafka-producer-perf-test.sh", "Kafka's kafka-producer-perf-test.sh: --topic --num-records --record-size --throughput --producer-props", runKafkaProducerPerf)
	register("kafka-consumer-perf-test.sh", "Kafka's kafka-consumer-perf-test.sh: --bootstrap-server --topic --messages", runKafkaConsumerPerf)
}

// mib is Kafka's perf tools' megabyte.
const mib = 1024 * 1024

func runKafkaProducerPerf(args []string) error {
	fs := newFlags("kafka-producer-perf-test.sh", "kafka-producer-perf-test.sh --topic T --num-records N --record-size B --throughput R|-1 --producer-props bootstrap.servers=host:port [k=v ...]")
	topic := fs.String("topic", "", "REQUIRED: the topic to produce to (created if missing)")
	numRecords := fs.Int("num-records", 0, "REQUIRED: number of records to produce")
	recordSize := fs.Int("record-size", -1, "REQUIRED: record size in bytes")
	throughput := fs.Float64("throughput", 0, "REQUIRED: records/s to send at most, -1 for no limit")
	bootstrap := fs.String("bootstrap-server", "", "the broker(s) to connect to (or bootstrap.servers in --producer-props)")
	config := fs.String("producer.config", "", "producer properties file")
	printMetrics := fs.Bool("print-metrics", false, "accepted; the client's metrics are not printed")
	var props multiFlag
	fs.Var(&props, "producer-props", "producer properties k=v, space-separated after the flag")
	if err := parseFlags(fs, expandMulti(args, "producer-props")); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	_ = printMetrics
	switch {
	case *topic == "":
		return usagef("Missing required argument \"[topic]\"")
	case *numRecords <= 0:
		return usagef("Missing required argument \"[num-records]\" (a positive number)")
	case *recordSize < 0:
		return usagef("Missing required argument \"[record-size]\"")
	case *throughput == 0:
		return usagef("Missing required argument \"[throughput]\" (records/s, -1 for no limit)")
	}
	pp := map[string]string{}
	if *config != "" {
		fileProps, err := readProperties(*config)
		if err != nil {
			return err
		}
		for k, v := range fileProps {
			pp[k] = v
		}
	}
	cmdProps, err := parseConfigs("--producer-props", props)
	if err != nil {
		return err
	}
	for k, v := range cmdProps {
		pp[k] = v
	}
	if *bootstrap == "" {
		*bootstrap = pp["bootstrap.servers"]
	}
	if *bootstrap == "" {
		return usagef("Either --bootstrap-server or bootstrap.servers in --producer-props or --producer.config must be specified")
	}
	spec := producePerfSpec{brokers: splitBrokers(*bootstrap), topic: *topic, records: *numRecords, size: *recordSize,
		acks: "all", throughput: *throughput, props: pp, partitions: -1, rf: -1, latencies: true}
	if _, ok := pp["acks"]; !ok {
		pp["acks"] = "all" // Kafka 3's producer default
	}
	// Kafka's windowed line, every 5 s, on stdout as the tool prints it.
	spec.progress = func(w perfWindow) {
		avg := 0.0
		if w.acked > 0 {
			avg = ms(w.latencySum) / float64(w.acked)
		}
		s := w.elapsed.Seconds()
		fmt.Printf("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
			w.acked, float64(w.acked)/s, float64(w.acked)*float64(*recordSize)/mib/s, avg, ms(w.latencyMax))
	}
	res, err := producePerf(spec)
	if err != nil {
		return err
	}
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	s := res.elapsed.Seconds()
	avg := 0.0
	if res.acked > 0 {
		avg = ms(res.latencySum) / float64(res.acked)
	}
	// Only acknowledged records are counted and rated, as Kafka's callback-driven stats do.
	fmt.Printf("%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
		res.acked, float64(res.acked)/s, float64(res.acked)*float64(*recordSize)/mib/s, avg, ms(res.latencyMax),
		percentile(res.latencies, 0.5).Milliseconds(), percentile(res.latencies, 0.95).Milliseconds(),
		percentile(res.latencies, 0.99).Milliseconds(), percentile(res.latencies, 0.999).Milliseconds())
	if res.failed > 0 {
		return fmt.Errorf("%d of %d records failed (not counted above); first: %v", res.failed, *numRecords, res.firstErr)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func runKafkaConsumerPerf(args []string) error {
	fs := newFlags("kafka-consumer-perf-test.sh", "kafka-consumer-perf-test.sh --bootstrap-server host:port --topic T --messages N [--group G] [--from-latest] [--timeout ms]")
	bootstrap := fs.String("bootstrap-server", "", "REQUIRED: the broker(s) to connect to")
	brokerList := fs.String("broker-list", "", "DEPRECATED: same as --bootstrap-server")
	topic := fs.String("topic", "", "REQUIRED: the topic to consume from")
	messages := fs.Int("messages", 0, "REQUIRED: the number of records to consume")
	group := fs.String("group", fmt.Sprintf("perf-consumer-%d", rand.Intn(100000)), "the consumer group id")
	fromLatest := fs.Bool("from-latest", false, "start at the end of the log where the group has no committed offset")
	timeout := fs.Int64("timeout", 10000, "ms allowed between two returned records")
	hideHeader := fs.Bool("hide-header", false, "do not print the header line")
	interval := fs.Int64("reporting-interval", 5000, "ms between detailed stats")
	detailed := fs.Bool("show-detailed-stats", false, "print a line every --reporting-interval")
	fetchSize := fs.Int("fetch-size", 1048576, "accepted; the client sizes its fetches itself")
	printMetrics := fs.Bool("print-metrics", false, "accepted; the client's metrics are not printed")
	threads := fs.Int("threads", 1, "DEPRECATED: accepted, ignored (as Kafka 3 does)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	_, _, _ = fetchSize, printMetrics, threads
	if *bootstrap == "" {
		*bootstrap = *brokerList
	}
	switch {
	case *bootstrap == "":
		return usagef("Missing required argument \"[bootstrap-server]\"")
	case *topic == "":
		return usagef("Missing required argument \"[topic]\"")
	case *messages <= 0:
		return usagef("Missing required argument \"[messages]\" (a positive number)")
	}
	const header = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
	const detailedHeader = "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if !*hideHeader {
		if *detailed {
			fmt.Fprintln(out, detailedHeader)
		} else {
			fmt.Fprintln(out, header)
		}
		out.Flush()
	}
	spec := consumePerfSpec{brokers: splitBrokers(*bootstrap), topic: *topic, group: *group, records: *messages,
		latest: *fromLatest, idle: time.Duration(*timeout) * time.Millisecond, interval: time.Duration(*interval) * time.Millisecond}
	var lastN, lastBytes int64
	var lastAt time.Duration
	if *detailed {
		spec.progress = func(n, bytes int64, at time.Duration) {
			d := (at - lastAt).Seconds()
			mb := float64(bytes-lastBytes) / mib
			fmt.Fprintf(out, "%s, %d, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f\n", kafkaTime(time.Now()), 0,
				float64(bytes)/mib, mb/d, n, float64(n-lastN)/d, 0, (at - lastAt).Milliseconds(), mb/d, float64(n-lastN)/d)
			out.Flush()
			lastN, lastBytes, lastAt = n, bytes, at
		}
	}
	res, err := consumePerf(spec)
	if err != nil {
		return err
	}
	if res.timedOut {
		fmt.Fprintf(os.Stderr, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded. You can use the --timeout option to increase the timeout.\n", *timeout)
	}
	if !*detailed {
		mb := float64(res.bytes) / mib
		s, fs := res.elapsed.Seconds(), res.fetchTime.Seconds()
		fmt.Fprintf(out, "%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f\n", kafkaTime(res.start), kafkaTime(res.end),
			mb, mb/s, res.records, float64(res.records)/s, res.rebalance.Milliseconds(), res.fetchTime.Milliseconds(),
			mb/fs, float64(res.records)/fs)
	}
	return nil
}

// kafkaTime is the perf tools' date format, yyyy-MM-dd HH:mm:ss:SSS.
func kafkaTime(t time.Time) string { return t.Format("2006-01-02 15:04:05:000") }

// readProperties reads a Java .properties file: k=v or k:v lines, # and ! comments, a trailing
// backslash continuing a line.
func readProperties(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseProperties(string(data)), nil
}

// parseProperties is readProperties on the file's text.
func parseProperties(data string) map[string]string {
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + strings.TrimSpace(lines[i])
		}
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		cut := strings.IndexAny(line, "=:")
		if cut < 0 {
			out[line] = ""
			continue
		}
		out[strings.TrimSpace(line[:cut])] = strings.TrimSpace(line[cut+1:])
	}
	return out
}
