package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/clients"
	"github.com/gregor-broker/gregor/zkmeta"
)

// Apache Kafka's command-line tools under their own names. bin/kafka-*.sh launch these
// commands of the one binary; each takes its Kafka tool's flags and prints what the tool
// prints, so tutorials, runbooks and scripts written for Kafka work unchanged. They share the
// engines of the gregor commands (topics, groups, perf, dump-log, ...).
func init() {
	register("kafka-topics.sh", "Kafka's kafka-topics.sh: --create, --list, --describe, --alter, --delete", runKafkaTopics)
	register("kafka-console-producer.sh", "Kafka's kafka-console-producer.sh: stdin lines to a topic", runKafkaConsoleProducer)
	register("kafka-console-consumer.sh", "Kafka's kafka-console-consumer.sh: a topic's records to stdout", runKafkaConsoleConsumer)
	register("kafka-consumer-groups.sh", "Kafka's kafka-consumer-groups.sh: --list, --describe, --delete, --reset-offsets, --delete-offsets", runKafkaConsumerGroups)
	register("kafka-configs.sh", "Kafka's kafka-configs.sh: --describe or --alter topic and broker configs", runKafkaConfigs)
	register("kafka-dump-log.sh", "Kafka's kafka-dump-log.sh: --files segment/index files", runKafkaDumpLog)
	register("zookeeper-shell.sh", "Kafka's zookeeper-shell.sh: zookeeper-shell.sh host:port[/chroot] ls|get PATH", runZookeeperShell)
}

// expandMulti rewrites joptsimple's multi-valued options ("--producer-props a=1 b=2") into one
// flag per value, which the flag package can read.
func expandMulti(args []string, names ...string) []string {
	multi := map[string]bool{}
	for _, n := range names {
		multi["--"+n], multi["-"+n] = true, true
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !multi[a] {
			out = append(out, a)
			continue
		}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			out = append(out, a+"="+args[i])
		}
	}
	return out
}

// kafkaBootstrap returns the brokers to talk to: --bootstrap-server (or the older
// --broker-list), else the brokers registered under --zookeeper, as Kafka's pre-2.2 tools found
// them.
func kafkaBootstrap(bootstrap, zookeeper string) ([]string, error) {
	switch {
	case bootstrap != "":
		return splitBrokers(bootstrap), nil
	case zookeeper != "":
		return brokersFromZK(zookeeper)
	}
	return nil, usagef("Missing required argument \"[bootstrap-server]\"")
}

// zkConnect opens a session on a connect string with an optional chroot (host:port/kafka) and
// returns the chroot to prefix paths with.
func zkConnect(connect string) (*zk.Conn, string, error) {
	servers, chroot := connect, ""
	if i := strings.Index(connect, "/"); i >= 0 {
		servers, chroot = connect[:i], strings.TrimSuffix(connect[i:], "/")
	}
	conn, ev, err := zk.Connect(strings.Split(servers, ","), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return nil, "", err
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return conn, chroot, nil
			}
		case <-deadline:
			conn.Close()
			return nil, "", fmt.Errorf("no ZooKeeper session with %s within 10s", servers)
		}
	}
}

func brokersFromZK(connect string) ([]string, error) {
	conn, chroot, err := zkConnect(connect)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ids, _, err := conn.Children(chroot + "/brokers/ids")
	if err != nil {
		return nil, fmt.Errorf("%s/brokers/ids: %w", chroot, err)
	}
	var out []string
	for _, id := range ids {
		data, _, err := conn.Get(chroot + "/brokers/ids/" + id)
		if err != nil {
			continue // gone since the listing
		}
		b, err := zkmeta.DecodeBroker(data)
		if err != nil || len(b.Endpoints) == 0 {
			continue
		}
		out = append(out, net.JoinHostPort(b.Endpoints[0].Host, strconv.Itoa(b.Endpoints[0].Port)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no broker registered under %s/brokers/ids", chroot)
	}
	return out, nil
}

// onlyOne checks that exactly one of a tool's action options is set and returns it.
func onlyOne(set map[string]bool) (string, error) {
	var on, all []string
	for name, v := range set {
		all = append(all, "--"+name)
		if v {
			on = append(on, name)
		}
	}
	sort.Strings(all)
	if len(on) != 1 {
		return "", usagef("Command must include exactly one action: %s", strings.Join(all, ", "))
	}
	return on[0], nil
}

func runKafkaTopics(args []string) error {
	fs := newFlags("kafka-topics.sh", "kafka-topics.sh --bootstrap-server host:port --create|--list|--describe|--alter|--delete [--topic T] [flags]")
	bootstrap := fs.String("bootstrap-server", "", "REQUIRED: the broker(s) to connect to, host:port[,host:port]")
	zkConnect := fs.String("zookeeper", "", "DEPRECATED: ZooKeeper connect string, to find the brokers")
	create := fs.Bool("create", false, "create a new topic")
	list := fs.Bool("list", false, "list all available topics")
	describe := fs.Bool("describe", false, "list details for the given topics")
	alter := fs.Bool("alter", false, "alter the number of partitions and configuration of a topic")
	del := fs.Bool("delete", false, "delete a topic")
	topic := fs.String("topic", "", "the topic to create, alter, describe or delete")
	ifNotExists := fs.Bool("if-not-exists", false, "create: only if the topic does not exist")
	ifExists := fs.Bool("if-exists", false, "alter, delete, describe: only if the topic exists")
	excludeInternal := fs.Bool("exclude-internal", false, "list, describe: leave out internal topics")
	var o topicsOptions
	var configs, deleteConfigs multiFlag
	addTopicsFlags(fs, &o, &configs, &deleteConfigs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	action, err := onlyOne(map[string]bool{"create": *create, "list": *list, "describe": *describe, "alter": *alter, "delete": *del})
	if err != nil {
		return err
	}
	if o.brokers, err = kafkaBootstrap(*bootstrap, *zkConnect); err != nil {
		return err
	}
	if o.configs, err = parseConfigs("--config", configs); err != nil {
		return err
	}
	o.topic, o.deleteConfigs, o.kafkaFormat = *topic, deleteConfigs, true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch action {
	case "create":
		if o.topic == "" {
			return usagef("Missing required argument \"[topic]\"")
		}
		spec := clients.TopicSpec{Name: o.topic, Partitions: o.partitions, ReplicationFactor: o.rf, Configs: o.configs}
		if o.assignment != "" {
			a, err := parseAssignment(o.assignment)
			if err != nil {
				return usageError{err.Error()}
			}
			spec.Assignment = a
		}
		err := clients.CreateTopic(ctx, o.brokers, spec)
		if *ifNotExists && errors.Is(err, kafka.TopicAlreadyExists) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("Error while executing topic command : %w", err)
		}
		fmt.Printf("Created topic %s.\n", o.topic)
	case "list":
		names, err := clients.ListTopics(ctx, o.brokers)
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if *excludeInternal && strings.HasPrefix(n, "__") {
				continue
			}
			fmt.Println(n)
		}
	case "describe":
		var names []string
		if o.topic != "" {
			names = []string{o.topic}
		}
		topics, err := clients.DescribeTopics(ctx, o.brokers, names)
		if err != nil {
			if *ifExists && errors.Is(err, kerr.UnknownTopicOrPartition) {
				return nil
			}
			return fmt.Errorf("Error while executing topic command : %w", err)
		}
		if *excludeInternal {
			kept := topics[:0]
			for _, t := range topics {
				if !strings.HasPrefix(t.Name, "__") {
					kept = append(kept, t)
				}
			}
			topics = kept
		}
		printKafkaTopics(topics, o.filter)
	case "alter", "delete":
		if o.topic == "" {
			return usagef("Missing required argument \"[topic]\"")
		}
		if action == "delete" {
			err = clients.DeleteTopic(ctx, o.brokers, o.topic)
		} else {
			err = clients.AlterTopic(ctx, o.brokers, o.topic, o.partitions, o.configs, o.deleteConfigs)
		}
		if err != nil && !(*ifExists && errors.Is(err, kafka.UnknownTopicOrPartition)) {
			return fmt.Errorf("Error while executing topic command : %w", err)
		}
	}
	return nil
}

// printKafkaTopics is kafka-topics.sh --describe: the summary line with the topic id as Kafka
// prints it (URL-safe base64, no padding), then a line per partition.
func printKafkaTopics(topics []clients.TopicInfo, f partitionFilter) {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, t := range topics {
		if !f.any() {
			var overrides []string
			for k, v := range t.Overrides {
				overrides = append(overrides, k+"="+v)
			}
			sort.Strings(overrides)
			rf := 0
			if len(t.Partitions) > 0 {
				rf = len(t.Partitions[0].Replicas)
			}
			fmt.Fprintf(w, "Topic: %s", t.Name)
			if t.ID != [16]byte{} {
				fmt.Fprintf(w, "\tTopicId: %s", base64.RawURLEncoding.EncodeToString(t.ID[:]))
			}
			fmt.Fprintf(w, "\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n", len(t.Partitions), rf, strings.Join(overrides, ","))
		}
		printTopics([]clients.TopicInfo{{Name: t.Name, Partitions: t.Partitions, MinISR: t.MinISR}}, partitionFilterOnlyLines(f), true, w)
	}
}

// partitionFilterOnlyLines keeps the filter's choice of partitions but never prints the topic
// line (printKafkaTopics prints its own).
func partitionFilterOnlyLines(f partitionFilter) partitionFilter {
	f.linesOnly = true
	return f
}

func runKafkaConsoleProducer(args []string) error {
	fs := newFlags("kafka-console-producer.sh", "kafka-console-producer.sh --bootstrap-server host:port --topic T [--property parse.key=true --property key.separator=:] < lines")
	bootstrap := fs.String("bootstrap-server", "", "REQUIRED: the broker(s) to connect to")
	brokerList := fs.String("broker-list", "", "DEPRECATED: same as --bootstrap-server")
	topic := fs.String("topic", "", "REQUIRED: the topic to produce to")
	acks := fs.String("request-required-acks", "-1", "acks: -1 (all), 1 or 0")
	codec := fs.String("compression-codec", "none", "none, gzip, snappy, lz4 or zstd")
	var props, producerProps multiFlag
	fs.Var(&props, "property", "line reader property: parse.key, key.separator, ignore.error (repeatable)")
	fs.Var(&producerProps, "producer-property", "producer property k=v (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *bootstrap == "" {
		*bootstrap = *brokerList
	}
	brokers, err := kafkaBootstrap(*bootstrap, "")
	if err != nil {
		return err
	}
	if *topic == "" {
		return usagef("Missing required argument \"[topic]\"")
	}
	reader, err := parseConfigs("--property", props)
	if err != nil {
		return err
	}
	pp, err := parseConfigs("--producer-property", producerProps)
	if err != nil {
		return err
	}
	if _, ok := pp["compression.type"]; !ok && *codec != "none" {
		pp["compression.type"] = *codec
	}
	parseKey, sep := reader["parse.key"] == "true", "\t"
	if s, ok := reader["key.separator"]; ok {
		sep = s
	}
	for k := range reader {
		switch k {
		case "parse.key", "key.separator", "ignore.error":
		default:
			fmt.Fprintf(os.Stderr, "WARN The line reader property %s is not supported and is ignored\n", k)
		}
	}
	opts, err := producerOpts(*acks, pp)
	if err != nil {
		return err
	}
	opts = append(opts, kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(*topic), kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(2*time.Minute))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var failed atomic.Int64
	var wg sync.WaitGroup
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 16<<20)
	for lineNo := 1; ; lineNo++ {
		fmt.Print(">") // Kafka's line reader prompts for every line, piped or not
		if !in.Scan() {
			break
		}
		line := in.Text()
		r := &kgo.Record{Value: []byte(line)}
		if parseKey {
			k, v, ok := strings.Cut(line, sep)
			if !ok {
				if reader["ignore.error"] != "true" {
					wg.Wait()
					return fmt.Errorf("No key separator found on line number %d: '%s'", lineNo, line)
				}
			} else {
				r.Key, r.Value = []byte(k), []byte(v)
			}
		}
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failed.Add(1)
				fmt.Fprintf(os.Stderr, "ERROR Error when sending message to topic %s with key: %s, value: %d bytes with error: %v\n",
					*topic, keyOrNull(r.Key), len(r.Value), err)
			}
		})
	}
	wg.Wait()
	if err := in.Err(); err != nil {
		return err
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d records were not sent", n)
	}
	return nil
}

func keyOrNull(k []byte) string {
	if k == nil {
		return "null"
	}
	return fmt.Sprintf("%d bytes", len(k))
}

func runKafkaConsoleConsumer(args []string) error {
	fs := newFlags("kafka-console-consumer.sh", "kafka-console-consumer.sh --bootstrap-server host:port --topic T [--from-beginning] [--max-messages N] [--group G]")
	bootstrap := fs.String("bootstrap-server", "", "REQUIRED: the broker(s) to connect to")
	topic := fs.String("topic", "", "the topic to consume")
	group := fs.String("group", "", "the consumer group id (default: none, every partition read directly)")
	fromBeginning := fs.Bool("from-beginning", false, "start with the earliest record, not the latest (where there is no committed offset)")
	maxMessages := fs.Int("max-messages", 0, "exit after this many records (default: consume forever)")
	partition := fs.Int("partition", -1, "read only this partition")
	offset := fs.String("offset", "latest", "with --partition: earliest, latest or an offset")
	timeoutMs := fs.Int("timeout-ms", 0, "exit when no record arrives for this many ms")
	var props, consumerProps multiFlag
	fs.Var(&props, "property", "formatter property: print.key, print.value, print.timestamp, print.partition, print.offset, print.headers, key.separator, line.separator (repeatable)")
	fs.Var(&consumerProps, "consumer-property", "consumer property k=v (repeatable; group.id, auto.offset.reset)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	brokers, err := kafkaBootstrap(*bootstrap, "")
	if err != nil {
		return err
	}
	if *topic == "" {
		return usagef("Exactly one of whitelist/topic is required.")
	}
	fp, err := parseConfigs("--property", props)
	if err != nil {
		return err
	}
	cp, err := parseConfigs("--consumer-property", consumerProps)
	if err != nil {
		return err
	}
	if g, ok := cp["group.id"]; ok && *group == "" {
		*group = g
	}
	start := kgo.NewOffset().AtEnd()
	if *fromBeginning || cp["auto.offset.reset"] == "earliest" {
		start = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeResetOffset(start)}
	switch {
	case *partition >= 0:
		if *group != "" {
			return usagef("Options group and partition cannot be specified together.")
		}
		o := kgo.NewOffset().AtEnd()
		switch *offset {
		case "earliest":
			o = kgo.NewOffset().AtStart()
		case "latest":
			if *fromBeginning {
				o = kgo.NewOffset().AtStart()
			}
		default:
			n, err := strconv.ParseInt(*offset, 10, 64)
			if err != nil {
				return usagef("The provided offset value '%s' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.", *offset)
			}
			o = kgo.NewOffset().At(n)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{*topic: {int32(*partition): o}}))
	case *offset != "latest":
		return usagef("The partition is required when offset is specified.")
	default:
		opts = append(opts, kgo.ConsumeTopics(*topic))
		if *group != "" {
			opts = append(opts, kgo.ConsumerGroup(*group))
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	format := consoleFormatter(fp)
	w := bufio.NewWriter(os.Stdout)
	n := 0
	var runErr error
	lastRecord := time.Now()
loop:
	for *maxMessages == 0 || n < *maxMessages {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if *timeoutMs > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, lastRecord.Add(time.Duration(*timeoutMs)*time.Millisecond))
		}
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			break
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) {
				fmt.Fprintln(os.Stderr, "ERROR Error processing message, terminating consumer process:  org.apache.kafka.common.errors.TimeoutException")
				break loop
			}
			runErr = fmt.Errorf("fetch %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
			break loop
		}
		iter := fetches.RecordIter()
		for !iter.Done() && (*maxMessages == 0 || n < *maxMessages) {
			w.WriteString(format(iter.Next()))
			n++
		}
		w.Flush()
		lastRecord = time.Now()
	}
	w.Flush()
	if *group != "" {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cl.CommitUncommittedOffsets(cctx)
		cancel()
	}
	fmt.Fprintf(os.Stderr, "Processed a total of %d messages\n", n)
	return runErr
}

// consoleFormatter is Kafka's DefaultMessageFormatter: optional timestamp, partition, offset,
// headers and key columns, each followed by key.separator, then the value and line.separator.
func consoleFormatter(p map[string]string) func(*kgo.Record) string {
	on := func(k string, def bool) bool {
		v, ok := p[k]
		if !ok {
			return def
		}
		return v == "true"
	}
	sep, lineSep := "\t", "\n"
	if s, ok := p["key.separator"]; ok {
		sep = s
	}
	if s, ok := p["line.separator"]; ok {
		lineSep = s
	}
	ts, part, off, hdrs, key, val := on("print.timestamp", false), on("print.partition", false), on("print.offset", false),
		on("print.headers", false), on("print.key", false), on("print.value", true)
	nullOr := func(b []byte) string {
		if b == nil {
			return "null"
		}
		return string(b)
	}
	return func(r *kgo.Record) string {
		var b strings.Builder
		if ts {
			fmt.Fprintf(&b, "CreateTime:%d%s", r.Timestamp.UnixMilli(), sep)
		}
		if part {
			fmt.Fprintf(&b, "Partition:%d%s", r.Partition, sep)
		}
		if off {
			fmt.Fprintf(&b, "Offset:%d%s", r.Offset, sep)
		}
		if hdrs {
			if len(r.Headers) == 0 {
				b.WriteString("NO_HEADERS")
			}
			for i, h := range r.Headers {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(h.Key + ":" + nullOr(h.Value))
			}
			b.WriteString(sep)
		}
		if key {
			b.WriteString(nullOr(r.Key) + sep)
		}
		if val {
			b.WriteString(nullOr(r.Value))
		}
		b.WriteString(lineSep)
		return b.String()
	}
}

func runKafkaConsumerGroups(args []string) error {
	var f groupsFlags
	fs := newFlags("kafka-consumer-groups.sh", "kafka-consumer-groups.sh --bootstrap-server host:port --list|--describe|--delete|--reset-offsets|--delete-offsets [--group G] [flags]")
	fs.StringVar(&f.bootstrap, "bootstrap-server", "", "REQUIRED: the broker(s) to connect to")
	addGroupsFlags(fs, &f)
	list := fs.Bool("list", false, "list all consumer groups")
	describe := fs.Bool("describe", false, "describe consumer groups: offsets and lag, --members or --state")
	del := fs.Bool("delete", false, "delete consumer groups")
	reset := fs.Bool("reset-offsets", false, "reset the offsets of a consumer group")
	delOffsets := fs.Bool("delete-offsets", false, "delete the offsets of a consumer group")
	if err := parseFlags(fs, stateArgs(args)); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	action, err := onlyOne(map[string]bool{"list": *list, "describe": *describe, "delete": *del, "reset-offsets": *reset, "delete-offsets": *delOffsets})
	if err != nil {
		return err
	}
	if f.bootstrap == "" {
		return usagef("Missing required argument \"[bootstrap-server]\"")
	}
	return doGroups(action, f)
}

func runKafkaConfigs(args []string) error {
	fs := newFlags("kafka-configs.sh", "kafka-configs.sh --bootstrap-server host:port --entity-type topics|brokers [--entity-name N | --entity-default] --describe | --alter [--add-config k=v,k=v] [--delete-config k,k]")
	bootstrap := fs.String("bootstrap-server", "", "the broker(s) to connect to")
	zkConnect := fs.String("zookeeper", "", "DEPRECATED: ZooKeeper connect string, to find the brokers")
	entityType := fs.String("entity-type", "", "topics or brokers")
	entityName := fs.String("entity-name", "", "the topic name or broker id")
	entityDefault := fs.Bool("entity-default", false, "brokers: the cluster-wide default")
	topic := fs.String("topic", "", "same as --entity-type topics --entity-name T")
	brokerID := fs.String("broker", "", "same as --entity-type brokers --entity-name ID")
	describe := fs.Bool("describe", false, "list the configs of the entity")
	alter := fs.Bool("alter", false, "alter the configs of the entity")
	all := fs.Bool("all", false, "describe: every config, not only the dynamic ones")
	addConfig := fs.String("add-config", "", "k=v pairs, comma-separated (a value with commas in [brackets])")
	deleteConfig := fs.String("delete-config", "", "config names to remove, comma-separated")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	action, err := onlyOne(map[string]bool{"describe": *describe, "alter": *alter})
	if err != nil {
		return err
	}
	if *topic != "" {
		*entityType, *entityName = "topics", *topic
	}
	if *brokerID != "" {
		*entityType, *entityName = "brokers", *brokerID
	}
	if *entityType != "topics" && *entityType != "brokers" {
		return usagef("--entity-type must be topics or brokers")
	}
	brokers, err := kafkaBootstrap(*bootstrap, *zkConnect)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	label := map[string]string{"topics": "topic", "brokers": "broker"}[*entityType]
	if action == "alter" {
		if *entityName == "" && !*entityDefault {
			return usagef("an entity name must be specified with --alter of %s", *entityType)
		}
		alts, err := parseAddConfig(*addConfig)
		if err != nil {
			return err
		}
		for _, k := range strings.Split(*deleteConfig, ",") {
			if k = strings.TrimSpace(k); k != "" {
				alts = append(alts, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
		}
		if len(alts) == 0 {
			return usagef("--alter needs --add-config or --delete-config")
		}
		var resp kadm.AlterConfigsResponses
		if *entityType == "topics" {
			resp, err = adm.AlterTopicConfigs(ctx, alts, *entityName)
		} else {
			var ids []int32
			if !*entityDefault {
				id, err := strconv.Atoi(*entityName)
				if err != nil {
					return usagef("broker id %q is not a number", *entityName)
				}
				ids = []int32{int32(id)}
			}
			resp, err = adm.AlterBrokerConfigs(ctx, alts, ids...)
		}
		if err != nil {
			return err
		}
		for _, r := range resp {
			if r.Err != nil {
				return fmt.Errorf("Error while executing config command with args '%s': %v %s", strings.Join(args, " "), r.Err, r.ErrMessage)
			}
		}
		if *entityDefault {
			fmt.Printf("Completed updating default config for %s in the cluster.\n", *entityType)
		} else {
			fmt.Printf("Completed updating config for %s %s.\n", label, *entityName)
		}
		return nil
	}
	var rcs kadm.ResourceConfigs
	switch {
	case *entityType == "topics":
		names := []string{*entityName}
		if *entityName == "" {
			ts, err := adm.ListTopics(ctx)
			if err != nil {
				return err
			}
			names = ts.Names()
			sort.Strings(names)
		}
		rcs, err = adm.DescribeTopicConfigs(ctx, names...)
	case *entityDefault:
		rcs, err = adm.DescribeBrokerConfigs(ctx)
	default:
		var ids []int32
		if *entityName != "" {
			id, err := strconv.Atoi(*entityName)
			if err != nil {
				return usagef("broker id %q is not a number", *entityName)
			}
			ids = []int32{int32(id)}
		} else {
			md, err := adm.BrokerMetadata(ctx)
			if err != nil {
				return err
			}
			ids = md.Brokers.NodeIDs()
		}
		rcs, err = adm.DescribeBrokerConfigs(ctx, ids...)
	}
	if err != nil {
		return err
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("%s %s: %v %s", label, rc.Name, rc.Err, rc.ErrMessage)
		}
		kind := "Dynamic configs"
		if *all {
			kind = "All configs"
		}
		name := label + " " + rc.Name
		if *entityDefault {
			name = "the brokers' defaults"
		}
		fmt.Printf("%s for %s are:\n", kind, name)
		for _, c := range rc.Configs {
			if !*all && !dynamicSource(c.Source) {
				continue
			}
			fmt.Printf("  %s=%s sensitive=%v synonyms={%s}\n", c.Key, valueOrNull(c.Value, c.Sensitive), c.Sensitive, synonyms(c.Synonyms))
		}
	}
	return nil
}

func dynamicSource(s kmsg.ConfigSource) bool {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return true
	}
	return false
}

func valueOrNull(v *string, sensitive bool) string {
	if sensitive || v == nil {
		return "null"
	}
	return *v
}

func synonyms(ss []kadm.ConfigSynonym) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%s:%s=%s", s.Source, s.Key, valueOrNull(s.Value, false))
	}
	return strings.Join(parts, ", ")
}

// parseAddConfig reads kafka-configs' --add-config: k=v pairs separated by commas, a value
// containing commas written in square brackets (k=[a,b]).
func parseAddConfig(s string) ([]kadm.AlterConfig, error) {
	var out []kadm.AlterConfig
	for s = strings.TrimSpace(s); s != ""; {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--add-config %q: want k=v[,k=v]", s)
		}
		var v string
		if strings.HasPrefix(rest, "[") {
			end := strings.Index(rest, "]")
			if end < 0 {
				return nil, usagef("--add-config: %s=%s has no closing ]", k, rest)
			}
			v, rest = rest[1:end], strings.TrimPrefix(rest[end+1:], ",")
		} else {
			v, rest, _ = strings.Cut(rest, ",")
		}
		val := v
		out = append(out, kadm.AlterConfig{Op: kadm.SetConfig, Name: strings.TrimSpace(k), Value: &val})
		s = strings.TrimSpace(rest)
	}
	return out, nil
}

func runKafkaDumpLog(args []string) error {
	// --deep-iteration is what this dump always does (every record of every batch).
	var rest []string
	for _, a := range args {
		if a != "--deep-iteration" && a != "-deep-iteration" {
			rest = append(rest, a)
		}
	}
	return runDumpLogAs("kafka-dump-log.sh", rest)
}

// runZookeeperShell is Kafka's zookeeper-shell.sh: the connect string, then one command (or
// commands on stdin, one a line).
func runZookeeperShell(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Println("USAGE: zookeeper-shell.sh zookeeper_host:port[/path] [-zk-tls-config-file file] [args...]\n\ncommands: ls PATH, get PATH")
		return errHelp
	}
	if len(args) == 0 {
		return usagef("USAGE: zookeeper-shell.sh zookeeper_host:port[/path] [args...]")
	}
	fmt.Printf("Connecting to %s\n", args[0])
	conn, chroot, err := zkConnect(args[0])
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Printf("\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n")
	run := func(words []string) error {
		if len(words) != 2 {
			return usagef("commands: ls PATH, get PATH")
		}
		path := chroot + words[1]
		if words[1] == "/" && chroot != "" {
			path = chroot
		}
		switch words[0] {
		case "ls":
			children, _, err := conn.Children(path)
			if err != nil {
				return fmt.Errorf("ls %s: %w", words[1], err)
			}
			sort.Strings(children)
			fmt.Printf("[%s]\n", strings.Join(children, ", "))
		case "get":
			data, _, err := conn.Get(path)
			if err != nil {
				return fmt.Errorf("get %s: %w", words[1], err)
			}
			if data == nil {
				fmt.Println("null")
			} else {
				fmt.Println(string(data))
			}
		default:
			return usagef("unknown command %q: ls or get", words[0])
		}
		return nil
	}
	if len(args) > 1 {
		return run(args[1:])
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if w := strings.Fields(sc.Text()); len(w) > 0 {
			if err := run(w); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
	}
	return sc.Err()
}
