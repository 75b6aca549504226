package config

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Broker is a broker's effective configuration.
type Broker struct {
	BrokerID                           int32
	Listeners                          []Listener
	AdvertisedListeners                []Listener
	ListenerSecurityProtocolMap        map[string]string
	InterBrokerListenerName            string
	BrokerRack                         string
	LogDirs                            []string
	ZookeeperConnect                   string
	ZookeeperSessionTimeoutMs          int
	ZookeeperConnectionTimeoutMs       int
	NumPartitions                      int32
	DefaultReplicationFactor           int16
	LogSegmentBytes                    int64
	LogRollMs                          int64
	LogRetentionMs                     int64
	LogRetentionBytes                  int64
	LogRetentionCheckIntervalMs        int64
	LogIndexIntervalBytes              int32
	LogIndexSizeMaxBytes               int32
	LogFlushIntervalMessages           int64
	LogFlushIntervalMs                 int64
	LogFlushSchedulerIntervalMs        int64
	LogFlushOffsetCheckpointIntervalMs int64
	LogDeleteDelayMs                   int64
	LogCleanupPolicy                   string
	MessageMaxBytes                    int32
	MinInsyncReplicas                  int32
	AutoCreateTopicsEnable             bool
	DeleteTopicEnable                  bool
	UncleanLeaderElectionEnable        bool
	SocketRequestMaxBytes              int32
	ConnectionsMaxIdleMs               int64
	ReplicaLagTimeMaxMs                int64
	OffsetsTopicReplicationFactor      int16
	OffsetsTopicNumPartitions          int32
	CompressionType                    string
	LogMessageTimestampType            string
	ProducerIDExpirationMs             int64
	MetricsListen                      string
	LogLevel                           string
	LogFormat                          string
	Source                             string

	values  map[string]string       // raw value of every key set in the file or environment
	sources map[string]ConfigSource // where each set key came from
}

// keyDef describes one broker property: Kafka's name, type, default (as Kafka prints it) and how
// its value is applied.
type keyDef struct {
	name string
	typ  int8
	def  string
	null bool // no default value (Kafka prints null)
	doc  string
	set  func(b *Broker, v string) error
}

func intKey(name, def, doc string, min int64, dst func(*Broker) *int32) keyDef {
	return keyDef{name: name, typ: TypeInt, def: def, doc: doc, set: func(b *Broker, v string) error {
		n, err := parseInt(v, 32, min)
		*dst(b) = int32(n)
		return err
	}}
}

func longKey(name, def, doc string, min int64, dst func(*Broker) *int64) keyDef {
	return keyDef{name: name, typ: TypeLong, def: def, doc: doc, set: func(b *Broker, v string) error {
		n, err := parseInt(v, 64, min)
		*dst(b) = n
		return err
	}}
}

func boolKey(name, def, doc string, dst func(*Broker) *bool) keyDef {
	return keyDef{name: name, typ: TypeBoolean, def: def, doc: doc, set: func(b *Broker, v string) error {
		x, err := parseBool(v)
		*dst(b) = x
		return err
	}}
}

// accepted keys that Gregor reads but that change nothing in it (thread pools, socket buffers):
// accepted so a Kafka server.properties translated to YAML loads as-is.
func noEffect(name, def string, typ int8) keyDef {
	return keyDef{name: name, typ: typ, def: def, doc: "accepted for compatibility; no effect in Gregor",
		set: func(b *Broker, v string) error {
			if typ == TypeInt || typ == TypeLong {
				_, err := parseInt(v, 64, math.MinInt64)
				return err
			}
			return nil
		}}
}

var brokerKeys = []keyDef{
	{name: "broker.id", typ: TypeInt, null: true, doc: "the broker's id (required, >= 0)", set: func(b *Broker, v string) error {
		n, err := parseInt(v, 32, 0)
		b.BrokerID = int32(n)
		return err
	}},
	{name: "listeners", typ: TypeString, def: "PLAINTEXT://:9092", doc: "comma-separated NAME://host:port to bind", set: func(b *Broker, v string) (err error) {
		b.Listeners, err = ParseListeners(v)
		return err
	}},
	{name: "advertised.listeners", typ: TypeString, null: true, doc: "listeners published in ZooKeeper and Metadata (default: listeners)", set: func(b *Broker, v string) (err error) {
		b.AdvertisedListeners, err = ParseListeners(v)
		return err
	}},
	{name: "listener.security.protocol.map", typ: TypeString, def: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", doc: "listener name to security protocol", set: func(b *Broker, v string) (err error) {
		b.ListenerSecurityProtocolMap, err = parseProtocolMap(v)
		return err
	}},
	{name: "inter.broker.listener.name", typ: TypeString, null: true, doc: "listener brokers and the controller use to talk to each other", set: func(b *Broker, v string) error {
		b.InterBrokerListenerName = strings.ToUpper(strings.TrimSpace(v))
		return nil
	}},
	{name: "broker.rack", typ: TypeString, null: true, doc: "rack of the broker, for rack-aware replica assignment", set: func(b *Broker, v string) error { b.BrokerRack = v; return nil }},
	{name: "log.dirs", typ: TypeString, null: true, doc: "directories holding the partition logs (comma-separated)", set: func(b *Broker, v string) error {
		b.LogDirs = splitList(v)
		if len(b.LogDirs) == 0 {
			return fmt.Errorf("names no directory")
		}
		return nil
	}},
	{name: "log.dir", typ: TypeString, def: "/tmp/kafka-logs", doc: "log directory used when log.dirs is unset", set: func(b *Broker, v string) error { return nil }},
	{name: "zookeeper.connect", typ: TypeString, null: true, doc: "ZooKeeper host:port list with optional /chroot (required)", set: func(b *Broker, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("is empty")
		}
		b.ZookeeperConnect = strings.TrimSpace(v)
		return nil
	}},
	{name: "zookeeper.session.timeout.ms", typ: TypeInt, def: "18000", doc: "ZooKeeper session timeout", set: func(b *Broker, v string) error {
		n, err := parseInt(v, 32, 1)
		b.ZookeeperSessionTimeoutMs = int(n)
		return err
	}},
	{name: "zookeeper.connection.timeout.ms", typ: TypeInt, null: true, doc: "time to wait for a ZooKeeper connection (default: session timeout)", set: func(b *Broker, v string) error {
		n, err := parseInt(v, 32, 1)
		b.ZookeeperConnectionTimeoutMs = int(n)
		return err
	}},
	intKey("num.partitions", "1", "partitions of auto-created topics", 1, func(b *Broker) *int32 { return &b.NumPartitions }),
	{name: "default.replication.factor", typ: TypeInt, def: "1", doc: "replication factor of auto-created topics", set: func(b *Broker, v string) error {
		n, err := parseInt(v, 16, 1)
		b.DefaultReplicationFactor = int16(n)
		return err
	}},
	longKey("log.segment.bytes", "1073741824", "segment file size", 14, func(b *Broker) *int64 { return &b.LogSegmentBytes }),
	longKey("log.roll.ms", "", "time after which a new segment is rolled", 1, func(b *Broker) *int64 { return &b.LogRollMs }),
	{name: "log.roll.hours", typ: TypeInt, def: "168", doc: "log.roll.ms in hours", set: func(b *Broker, v string) error { _, err := parseInt(v, 32, 1); return err }},
	longKey("log.retention.ms", "", "how long to keep a segment; -1 forever", -1, func(b *Broker) *int64 { return &b.LogRetentionMs }),
	{name: "log.retention.minutes", typ: TypeInt, null: true, doc: "log.retention.ms in minutes", set: func(b *Broker, v string) error { _, err := parseInt(v, 32, -1); return err }},
	{name: "log.retention.hours", typ: TypeInt, def: "168", doc: "log.retention.ms in hours", set: func(b *Broker, v string) error { _, err := parseInt(v, 32, -1); return err }},
	longKey("log.retention.bytes", "-1", "size a partition may reach before old segments are deleted; -1 unbounded", -1, func(b *Broker) *int64 { return &b.LogRetentionBytes }),
	longKey("log.retention.check.interval.ms", "300000", "how often retention runs", 1, func(b *Broker) *int64 { return &b.LogRetentionCheckIntervalMs }),
	intKey("log.index.interval.bytes", "4096", "bytes between offset index entries", 0, func(b *Broker) *int32 { return &b.LogIndexIntervalBytes }),
	intKey("log.index.size.max.bytes", "10485760", "maximum size of an offset index", 4, func(b *Broker) *int32 { return &b.LogIndexSizeMaxBytes }),
	longKey("log.flush.interval.messages", strconv.FormatInt(math.MaxInt64, 10), "messages between forced fsyncs", 1, func(b *Broker) *int64 { return &b.LogFlushIntervalMessages }),
	longKey("log.flush.interval.ms", "", "time between forced fsyncs (default: leave to the OS)", 0, func(b *Broker) *int64 { return &b.LogFlushIntervalMs }),
	longKey("log.flush.scheduler.interval.ms", strconv.FormatInt(math.MaxInt64, 10), "how often the flusher checks", 1, func(b *Broker) *int64 { return &b.LogFlushSchedulerIntervalMs }),
	longKey("log.flush.offset.checkpoint.interval.ms", "60000", "how often recovery points are checkpointed", 0, func(b *Broker) *int64 { return &b.LogFlushOffsetCheckpointIntervalMs }),
	longKey("log.segment.delete.delay.ms", "60000", "delay before a deleted segment's files are removed", 0, func(b *Broker) *int64 { return &b.LogDeleteDelayMs }),
	{name: "log.cleanup.policy", typ: TypeList, def: "delete", doc: "default cleanup policy", set: func(b *Broker, v string) error {
		b.LogCleanupPolicy = normalizePolicy(v)
		return oneOf(b.LogCleanupPolicy, "delete", "compact", "compact,delete")
	}},
	intKey("message.max.bytes", "1048588", "largest record batch accepted", 0, func(b *Broker) *int32 { return &b.MessageMaxBytes }),
	intKey("min.insync.replicas", "1", "replicas that must acknowledge an acks=all write", 1, func(b *Broker) *int32 { return &b.MinInsyncReplicas }),
	boolKey("auto.create.topics.enable", "true", "create topics on first Metadata request", func(b *Broker) *bool { return &b.AutoCreateTopicsEnable }),
	boolKey("delete.topic.enable", "true", "allow topic deletion", func(b *Broker) *bool { return &b.DeleteTopicEnable }),
	boolKey("unclean.leader.election.enable", "false", "allow out-of-sync replicas to become leader", func(b *Broker) *bool { return &b.UncleanLeaderElectionEnable }),
	intKey("socket.request.max.bytes", "104857600", "largest request frame accepted", 1, func(b *Broker) *int32 { return &b.SocketRequestMaxBytes }),
	longKey("connections.max.idle.ms", "600000", "idle connections are closed after this", 1, func(b *Broker) *int64 { return &b.ConnectionsMaxIdleMs }),
	longKey("replica.lag.time.max.ms", "30000", "a follower behind longer than this leaves the ISR", 1, func(b *Broker) *int64 { return &b.ReplicaLagTimeMaxMs }),
	{name: "offsets.topic.replication.factor", typ: TypeShort, def: "3", doc: "replication factor of __consumer_offsets", set: func(b *Broker, v string) error {
		n, err := parseInt(v, 16, 1)
		b.OffsetsTopicReplicationFactor = int16(n)
		return err
	}},
	intKey("offsets.topic.num.partitions", "50", "partitions of __consumer_offsets", 1, func(b *Broker) *int32 { return &b.OffsetsTopicNumPartitions }),
	{name: "compression.type", typ: TypeString, def: "producer", doc: "compression of stored batches; producer keeps the producer's", set: func(b *Broker, v string) error {
		b.CompressionType = v
		return oneOf(v, "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")
	}},
	{name: "log.message.timestamp.type", typ: TypeString, def: "CreateTime", doc: "CreateTime or LogAppendTime", set: func(b *Broker, v string) error {
		b.LogMessageTimestampType = v
		return oneOf(v, "CreateTime", "LogAppendTime")
	}},
	longKey("producer.id.expiration.ms", "86400000", "idle producer ids are forgotten after this", 1, func(b *Broker) *int64 { return &b.ProducerIDExpirationMs }),
	{name: "gregor.metrics.listen", typ: TypeString, null: true, doc: "host:port of the Prometheus /metrics endpoint (unset: off)", set: func(b *Broker, v string) error { b.MetricsListen = v; return nil }},
	{name: "gregor.log.level", typ: TypeString, def: "info", doc: "log level: debug, info, warn, error", set: func(b *Broker, v string) error {
		b.LogLevel = strings.ToLower(v)
		return oneOf(b.LogLevel, "trace", "debug", "info", "warn", "warning", "error")
	}},
	{name: "gregor.log.format", typ: TypeString, def: "text", doc: "log format: text or json", set: func(b *Broker, v string) error {
		b.LogFormat = strings.ToLower(v)
		return oneOf(b.LogFormat, "text", "json")
	}},
	noEffect("num.network.threads", "3", TypeInt),
	noEffect("num.io.threads", "8", TypeInt),
	noEffect("num.recovery.threads.per.data.dir", "1", TypeInt),
	noEffect("num.replica.fetchers", "1", TypeInt),
	noEffect("socket.send.buffer.bytes", "102400", TypeInt),
	noEffect("socket.receive.buffer.bytes", "102400", TypeInt),
	noEffect("transaction.state.log.replication.factor", "3", TypeShort),
	noEffect("transaction.state.log.min.isr", "2", TypeInt),
	noEffect("group.initial.rebalance.delay.ms", "3000", TypeInt),
	noEffect("auto.leader.rebalance.enable", "true", TypeBoolean),
	noEffect("controlled.shutdown.enable", "true", TypeBoolean),
}

var keyIndex = func() map[string]*keyDef {
	m := map[string]*keyDef{}
	for i := range brokerKeys {
		m[brokerKeys[i].name] = &brokerKeys[i]
	}
	return m
}()

// Default is the configuration with Kafka's defaults and nothing set (broker.id and
// zookeeper.connect are still missing; Validate reports them).
func Default() *Broker {
	b, _ := build(map[string]string{}, map[string]ConfigSource{}, "", false)
	return b
}

// Load reads a YAML config file and applies KAFKA_* overrides from environ.
func Load(path string, environ []string) (*Broker, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, environ)
}

// Parse builds a configuration from YAML bytes; name is the file name used in errors.
func Parse(data []byte, name string, environ []string) (*Broker, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a YAML map of Kafka properties: %v", name, err)
	}
	values, sources := map[string]string{}, map[string]ConfigSource{}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if keyIndex[k] == nil {
			return nil, &Error{File: name, Key: k, Reason: "unknown key" + suggest(k)}
		}
		v, err := scalarString(raw[k])
		if err != nil {
			return nil, &Error{File: name, Key: k, Reason: err.Error()}
		}
		values[k], sources[k] = v, SourceStaticBroker
	}
	if err := applyEnv(values, sources, environ); err != nil {
		return nil, err
	}
	return build(values, sources, name, true)
}

// scalarString turns a YAML value into Kafka's string form; lists become comma-separated.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, err := scalarString(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("value must be a string, number, boolean or list, not %T", v)
}

// envIgnored are KAFKA_* variables the Kafka container images use for the JVM, not for config.
var envIgnored = map[string]bool{"KAFKA_HEAP_OPTS": true, "KAFKA_OPTS": true, "KAFKA_JMX_OPTS": true,
	"KAFKA_LOG4J_OPTS": true, "KAFKA_JVM_PERFORMANCE_OPTS": true, "KAFKA_GC_LOG_OPTS": true,
	"KAFKA_DEBUG": true, "KAFKA_VERSION": true, "KAFKA_HOME": true}

// applyEnv maps KAFKA_LOG_DIRS → log.dirs ("___" → "_", "_" → "."), overriding the file.
func applyEnv(values map[string]string, sources map[string]ConfigSource, environ []string) error {
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "KAFKA_") || envIgnored[name] {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, "KAFKA_"))
		key = strings.ReplaceAll(key, "___", "\x00")
		key = strings.ReplaceAll(key, "_", ".")
		key = strings.ReplaceAll(key, "\x00", "_")
		if keyIndex[key] == nil {
			return &Error{File: "environment", Key: name, Reason: "does not name a broker config key (" + key + ")" + suggest(key)}
		}
		values[key], sources[key] = value, SourceStaticBroker
	}
	return nil
}

func build(values map[string]string, sources map[string]ConfigSource, name string, validate bool) (*Broker, error) {
	b := &Broker{Source: name, values: values, sources: sources, BrokerID: -1}
	for i := range brokerKeys {
		k := &brokerKeys[i]
		v, set := values[k.name]
		if !set {
			if k.null || k.def == "" {
				continue
			}
			v = k.def
		}
		if err := k.set(b, v); err != nil {
			return nil, &Error{File: name, Key: k.name, Value: v, Reason: err.Error()}
		}
	}
	// Derived values, with Kafka's precedence.
	b.LogRetentionMs = hoursMinutesMs(values, "log.retention.ms", "log.retention.minutes", "log.retention.hours", 168)
	b.LogRollMs = hoursMinutesMs(values, "log.roll.ms", "", "log.roll.hours", 168)
	if _, ok := values["log.flush.interval.ms"]; !ok {
		b.LogFlushIntervalMs = -1
	}
	if len(b.LogDirs) == 0 {
		dir := values["log.dir"]
		if dir == "" {
			dir = "/tmp/kafka-logs"
		}
		b.LogDirs = splitList(dir)
	}
	if len(b.AdvertisedListeners) == 0 {
		b.AdvertisedListeners = append([]Listener(nil), b.Listeners...)
	}
	if b.InterBrokerListenerName == "" && len(b.Listeners) > 0 {
		b.InterBrokerListenerName = "PLAINTEXT"
		if _, ok := b.ListenerSecurityProtocolMap["PLAINTEXT"]; !ok || !hasListener(b.Listeners, "PLAINTEXT") {
			b.InterBrokerListenerName = b.Listeners[0].Name
		}
	}
	if b.ZookeeperConnectionTimeoutMs == 0 {
		b.ZookeeperConnectionTimeoutMs = b.ZookeeperSessionTimeoutMs
	}
	if !validate {
		return b, nil
	}
	return b, b.validate()
}

func (b *Broker) validate() error {
	name := b.Source
	if _, ok := b.values["broker.id"]; !ok {
		return &Error{File: name, Key: "broker.id", Reason: "required key is missing"}
	}
	if b.ZookeeperConnect == "" {
		return &Error{File: name, Key: "zookeeper.connect", Reason: "required key is missing"}
	}
	for _, l := range b.Listeners {
		if _, ok := b.ListenerSecurityProtocolMap[l.Name]; !ok {
			return &Error{File: name, Key: "listeners", Value: l.String(), Reason: "listener name " + l.Name + " is not in listener.security.protocol.map"}
		}
		if p := b.ListenerSecurityProtocolMap[l.Name]; p != "PLAINTEXT" {
			return &Error{File: name, Key: "listeners", Value: l.String(), Reason: "security protocol " + p + " is not supported yet; use PLAINTEXT"}
		}
	}
	for _, l := range b.AdvertisedListeners {
		if !hasListener(b.Listeners, l.Name) {
			return &Error{File: name, Key: "advertised.listeners", Value: l.String(), Reason: "listener name " + l.Name + " is not one of listeners"}
		}
		if l.Port == 0 {
			return &Error{File: name, Key: "advertised.listeners", Value: l.String(), Reason: "port 0 cannot be advertised"}
		}
	}
	if !hasListener(b.Listeners, b.InterBrokerListenerName) {
		return &Error{File: name, Key: "inter.broker.listener.name", Value: b.InterBrokerListenerName, Reason: "is not one of listeners"}
	}
	return nil
}

func hasListener(ls []Listener, name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}

// hoursMinutesMs resolves Kafka's ms > minutes > hours precedence.
func hoursMinutesMs(values map[string]string, msKey, minKey, hourKey string, defHours int64) int64 {
	if v, ok := values[msKey]; ok {
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n
	}
	if minKey != "" {
		if v, ok := values[minKey]; ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if n < 0 {
				return -1
			}
			return n * 60_000
		}
	}
	h := defHours
	if v, ok := values[hourKey]; ok {
		h, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	if h < 0 {
		return -1
	}
	return h * 3_600_000
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func normalizePolicy(v string) string {
	parts := splitList(strings.ToLower(v))
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// suggest names the closest known key, for typos.
func suggest(k string) string {
	best, bestD := "", 4
	for name := range keyIndex {
		if d := editDistance(k, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Get returns a broker key's effective value as Kafka prints it and its source.
func (b *Broker) Get(name string) (string, ConfigSource, bool) {
	k := keyIndex[name]
	if k == nil {
		return "", SourceUnknown, false
	}
	if v, ok := b.values[name]; ok {
		return v, b.sources[name], true
	}
	switch name {
	case "log.retention.ms":
		return strconv.FormatInt(b.LogRetentionMs, 10), SourceDefault, true
	case "log.roll.ms":
		return strconv.FormatInt(b.LogRollMs, 10), SourceDefault, true
	case "advertised.listeners":
		return formatListeners(b.AdvertisedListeners), SourceDefault, true
	case "inter.broker.listener.name":
		return b.InterBrokerListenerName, SourceDefault, true
	case "log.dirs":
		return strings.Join(b.LogDirs, ","), SourceDefault, true
	}
	if k.null {
		return "", SourceDefault, true
	}
	return k.def, SourceDefault, true
}

// Describe lists every broker config for DescribeConfigs(BROKER). Static configs are read-only:
// Gregor has no dynamic broker configs yet.
func (b *Broker) Describe() []ConfigEntry {
	out := make([]ConfigEntry, 0, len(brokerKeys))
	for _, k := range brokerKeys {
		v, src, _ := b.Get(k.name)
		e := ConfigEntry{Name: k.name, Value: v, Null: v == "" && k.null, Source: src, ReadOnly: true, Type: k.typ, Doc: k.doc}
		e.Synonyms = []Synonym{{Name: k.name, Value: v, Source: src}}
		out = append(out, e)
	}
	return out
}
