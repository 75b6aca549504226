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
	BrokerID                             int32
	Listeners                            []Listener
	AdvertisedListeners                  []Listener
	ListenerSecurityProtocolMap          map[string]string
	InterBrokerListenerName              string
	BrokerRack                           string
	ReplicaSelectorClass                 string
	LogDirs                              []string
	ZookeeperConnect                     string
	ZookeeperSessionTimeoutMs            int
	ZookeeperConnectionTimeoutMs         int
	NumPartitions                        int32
	DefaultReplicationFactor             int16
	LogSegmentBytes                      int64
	LogRollMs                            int64
	LogRetentionMs                       int64
	LogRetentionBytes                    int64
	LogRetentionCheckIntervalMs          int64
	LogIndexIntervalBytes                int32
	LogIndexSizeMaxBytes                 int32
	LogFlushIntervalMessages             int64
	LogFlushIntervalMs                   int64
	LogFlushSchedulerIntervalMs          int64
	LogFlushOffsetCheckpointIntervalMs   int64
	LogDeleteDelayMs                     int64
	LogCleanupPolicy                     string
	LogCleanerEnable                     bool
	LogCleanerThreads                    int32
	LogCleanerDedupeBufferSize           int64
	LogCleanerIOBufferLoadFactor         float64
	LogCleanerBackoffMs                  int64
	LogCleanerMinCleanableRatio          float64
	LogCleanerMinCompactionLagMs         int64
	LogCleanerMaxCompactionLagMs         int64
	LogCleanerDeleteRetentionMs          int64
	MessageMaxBytes                      int32
	MinInsyncReplicas                    int32
	AutoCreateTopicsEnable               bool
	DeleteTopicEnable                    bool
	UncleanLeaderElectionEnable          bool
	SocketRequestMaxBytes                int32
	ConnectionsMaxIdleMs                 int64
	MaxConnections                       int32
	MaxConnectionsPerIP                  int32
	MaxConnectionsPerIPOverrides         map[string]int
	QueuedMaxRequests                    int32
	QueuedMaxRequestBytes                int64
	FetchMaxBytes                        int32
	MaxIncrementalFetchSessionCacheSlots int32
	FetchWaitMaxMs                       int64
	RequestTimeoutMaxMs                  int64
	MaxPartitionsPerTopic                int32
	MaxPartitionsPerRequest              int32
	ReplicaLagTimeMaxMs                  int64
	NumReplicaFetchers                   int32
	AutoLeaderRebalanceEnable            bool
	LeaderImbalanceCheckIntervalSeconds  int64
	LeaderImbalancePerBrokerPercentage   int32
	ControlledShutdownEnable             bool
	ControlledShutdownMaxRetries         int32
	ControlledShutdownRetryBackoffMs     int64
	ReplicaFetchMaxBytes                 int32
	ReplicaFetchResponseMaxBytes         int32
	ReplicaFetchWaitMaxMs                int32
	ReplicaFetchMinBytes                 int32
	ReplicaFetchBackoffMs                int32
	ReplicaSocketTimeoutMs               int32
	ReplicationQuotaWindowNum            int32
	ReplicationQuotaWindowSizeSeconds    int32
	ControllerSocketTimeoutMs            int32
	OffsetsTopicReplicationFactor        int16
	OffsetsTopicNumPartitions            int32
	OffsetsTopicSegmentBytes             int32
	OffsetsCommitRequiredAcks            int16
	OffsetsCommitTimeoutMs               int32
	OffsetsRetentionMinutes              int32
	OffsetsRetentionCheckIntervalMs      int64
	OffsetsLoadBufferSize                int32
	OffsetMetadataMaxBytes               int32
	GroupMinSessionTimeoutMs             int32
	GroupMaxSessionTimeoutMs             int32
	GroupInitialRebalanceDelayMs         int32
	GroupMaxSize                         int32
	CompressionType                      string
	LogMessageTimestampType              string
	LogMessageTimestampDifferenceMaxMs   int64
	ProducerIDExpirationMs               int64
	MetricsListen                        string
	TestFaultInjection                   bool
	DebugPprof                           bool
	LogLevel                             string
	LogFormat                            string
	Source                               string

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

func doubleKey(name, def, doc string, min, max float64, dst func(*Broker) *float64) keyDef {
	return keyDef{name: name, typ: TypeDouble, def: def, doc: doc, set: func(b *Broker, v string) error {
		x, err := parseDouble(v, min, max)
		*dst(b) = x
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
	{name: "replica.selector.class", typ: TypeString, null: true, doc: "org.apache.kafka.common.replica.RackAwareReplicaSelector lets consumers that send a rack id fetch from a follower in their rack (KIP-392)", set: func(b *Broker, v string) error {
		b.ReplicaSelectorClass = strings.TrimSpace(v)
		switch b.ReplicaSelectorClass {
		case "", "org.apache.kafka.common.replica.RackAwareReplicaSelector", "org.apache.kafka.common.replica.LeaderSelector":
			return nil
		}
		return fmt.Errorf("unknown replica selector; Gregor has org.apache.kafka.common.replica.RackAwareReplicaSelector and LeaderSelector")
	}},
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
	boolKey("log.cleaner.enable", "true", "run the log cleaner (compaction of cleanup.policy=compact topics)", func(b *Broker) *bool { return &b.LogCleanerEnable }),
	intKey("log.cleaner.threads", "1", "log cleaner goroutines", 0, func(b *Broker) *int32 { return &b.LogCleanerThreads }),
	longKey("log.cleaner.dedupe.buffer.size", "134217728", "memory for the cleaners' key => offset maps, shared by all cleaner threads", 0, func(b *Broker) *int64 { return &b.LogCleanerDedupeBufferSize }),
	doubleKey("log.cleaner.io.buffer.load.factor", "0.9", "how full a cleaner's key => offset map may get", 0, 1, func(b *Broker) *float64 { return &b.LogCleanerIOBufferLoadFactor }),
	longKey("log.cleaner.backoff.ms", "15000", "how long a cleaner sleeps when no log needs cleaning", 0, func(b *Broker) *int64 { return &b.LogCleanerBackoffMs }),
	doubleKey("log.cleaner.min.cleanable.ratio", "0.5", "default min.cleanable.dirty.ratio", 0, 1, func(b *Broker) *float64 { return &b.LogCleanerMinCleanableRatio }),
	longKey("log.cleaner.min.compaction.lag.ms", "0", "default min.compaction.lag.ms", 0, func(b *Broker) *int64 { return &b.LogCleanerMinCompactionLagMs }),
	longKey("log.cleaner.max.compaction.lag.ms", strconv.FormatInt(math.MaxInt64, 10), "default max.compaction.lag.ms", 1, func(b *Broker) *int64 { return &b.LogCleanerMaxCompactionLagMs }),
	longKey("log.cleaner.delete.retention.ms", "86400000", "default delete.retention.ms", 0, func(b *Broker) *int64 { return &b.LogCleanerDeleteRetentionMs }),
	intKey("message.max.bytes", "1048588", "largest record batch accepted", 0, func(b *Broker) *int32 { return &b.MessageMaxBytes }),
	intKey("min.insync.replicas", "1", "replicas that must acknowledge an acks=all write", 1, func(b *Broker) *int32 { return &b.MinInsyncReplicas }),
	boolKey("auto.create.topics.enable", "true", "create topics on first Metadata request", func(b *Broker) *bool { return &b.AutoCreateTopicsEnable }),
	boolKey("delete.topic.enable", "true", "allow topic deletion", func(b *Broker) *bool { return &b.DeleteTopicEnable }),
	boolKey("unclean.leader.election.enable", "false", "allow out-of-sync replicas to become leader", func(b *Broker) *bool { return &b.UncleanLeaderElectionEnable }),
	intKey("socket.request.max.bytes", "104857600", "largest request frame accepted", 1, func(b *Broker) *int32 { return &b.SocketRequestMaxBytes }),
	longKey("connections.max.idle.ms", "600000", "idle connections are closed after this", 1, func(b *Broker) *int64 { return &b.ConnectionsMaxIdleMs }),
	intKey("max.connections", "2147483647", "connections the broker accepts at once; more are accepted and closed", 0, func(b *Broker) *int32 { return &b.MaxConnections }),
	intKey("max.connections.per.ip", "2147483647", "connections accepted from one address at once; 0 = only the addresses of max.connections.per.ip.overrides", 0, func(b *Broker) *int32 { return &b.MaxConnectionsPerIP }),
	{name: "max.connections.per.ip.overrides", typ: TypeString, def: "", doc: "per-address limits, host:count,... (host names are resolved at startup)", set: func(b *Broker, v string) (err error) {
		b.MaxConnectionsPerIPOverrides, err = parseConnectionOverrides(v)
		return err
	}},
	intKey("queued.max.requests", "500", "requests being handled at once (a long poll or acks=all wait does not count); more wait before being read", 1, func(b *Broker) *int32 { return &b.QueuedMaxRequests }),
	longKey("queued.max.request.bytes", "268435456", "bytes of request frames held at once; a request that does not fit waits before being read. -1 = unbounded (Kafka's default); Gregor's default is 256 MiB", -1, func(b *Broker) *int64 { return &b.QueuedMaxRequestBytes }),
	intKey("max.incremental.fetch.session.cache.slots", "1000", "incremental fetch sessions (KIP-227) the broker keeps; 0 answers every Fetch without one", 0, func(b *Broker) *int32 { return &b.MaxIncrementalFetchSessionCacheSlots }),
	intKey("fetch.max.bytes", "57671680", "largest response a Fetch gets (the request's own max bytes is lowered to this)", 1024, func(b *Broker) *int32 { return &b.FetchMaxBytes }),
	longKey("gregor.fetch.wait.max.ms", "30000", "longest a Fetch long poll waits, whatever its MaxWaitMillis (a client's default request.timeout.ms)", 0, func(b *Broker) *int64 { return &b.FetchWaitMaxMs }),
	longKey("gregor.request.timeout.max.ms", "30000", "longest a request waits for replicas or the controller (acks=all produce, CreateTopics, CreatePartitions, DeleteTopics), whatever its own timeout", 0, func(b *Broker) *int64 { return &b.RequestTimeoutMaxMs }),
	intKey("gregor.max.partitions.per.topic", "10000", "partitions a topic may have; CreateTopics/CreatePartitions above it answer INVALID_PARTITIONS", 1, func(b *Broker) *int32 { return &b.MaxPartitionsPerTopic }),
	intKey("gregor.max.partitions.per.request", "10000", "partitions one CreateTopics/CreatePartitions request may create (Kafka's controller limit per operation); past it POLICY_VIOLATION", 1, func(b *Broker) *int32 { return &b.MaxPartitionsPerRequest }),
	longKey("replica.lag.time.max.ms", "30000", "a follower behind longer than this leaves the ISR", 1, func(b *Broker) *int64 { return &b.ReplicaLagTimeMaxMs }),
	intKey("num.replica.fetchers", "1", "fetcher goroutines per source broker", 1, func(b *Broker) *int32 { return &b.NumReplicaFetchers }),
	intKey("replica.fetch.max.bytes", "1048576", "bytes a follower asks for per partition", 0, func(b *Broker) *int32 { return &b.ReplicaFetchMaxBytes }),
	intKey("replica.fetch.response.max.bytes", "10485760", "bytes a follower asks for per fetch", 0, func(b *Broker) *int32 { return &b.ReplicaFetchResponseMaxBytes }),
	intKey("replica.fetch.wait.max.ms", "500", "how long a follower's fetch waits on the leader for data", 0, func(b *Broker) *int32 { return &b.ReplicaFetchWaitMaxMs }),
	intKey("replica.fetch.min.bytes", "1", "bytes a follower's fetch waits for", 1, func(b *Broker) *int32 { return &b.ReplicaFetchMinBytes }),
	intKey("replica.fetch.backoff.ms", "1000", "pause after a failed replica fetch", 0, func(b *Broker) *int32 { return &b.ReplicaFetchBackoffMs }),
	intKey("replica.socket.timeout.ms", "30000", "timeout of a replica fetch round trip", 1, func(b *Broker) *int32 { return &b.ReplicaSocketTimeoutMs }),
	intKey("replication.quota.window.num", "11", "samples the replication throttles measure their rate over", 1, func(b *Broker) *int32 { return &b.ReplicationQuotaWindowNum }),
	intKey("replication.quota.window.size.seconds", "1", "length of each replication throttle sample", 1, func(b *Broker) *int32 { return &b.ReplicationQuotaWindowSizeSeconds }),
	intKey("controller.socket.timeout.ms", "30000", "timeout of a controller request to a broker", 1, func(b *Broker) *int32 { return &b.ControllerSocketTimeoutMs }),
	{name: "offsets.topic.replication.factor", typ: TypeShort, def: "3", doc: "replication factor of __consumer_offsets", set: func(b *Broker, v string) error {
		n, err := parseInt(v, 16, 1)
		b.OffsetsTopicReplicationFactor = int16(n)
		return err
	}},
	intKey("offsets.topic.num.partitions", "50", "partitions of __consumer_offsets", 1, func(b *Broker) *int32 { return &b.OffsetsTopicNumPartitions }),
	intKey("offsets.topic.segment.bytes", "104857600", "segment.bytes of __consumer_offsets", 1, func(b *Broker) *int32 { return &b.OffsetsTopicSegmentBytes }),
	{name: "offsets.commit.required.acks", typ: TypeShort, def: "-1", doc: "acks an offset commit waits for (-1: every in-sync replica)", set: func(b *Broker, v string) error {
		n, err := parseInt(v, 16, -1)
		b.OffsetsCommitRequiredAcks = int16(n)
		if err == nil && n > 1 {
			// The replica layer, like Kafka's ReplicaManager, knows only acks -1, 0 and 1.
			return fmt.Errorf("must be -1, 0 or 1")
		}
		return err
	}},
	intKey("offsets.commit.timeout.ms", "5000", "how long an offset commit waits for its replicas", 1, func(b *Broker) *int32 { return &b.OffsetsCommitTimeoutMs }),
	intKey("offsets.retention.minutes", "10080", "committed offsets of a group without members expire after this", 1, func(b *Broker) *int32 { return &b.OffsetsRetentionMinutes }),
	longKey("offsets.retention.check.interval.ms", "600000", "how often expired offsets are looked for", 1, func(b *Broker) *int64 { return &b.OffsetsRetentionCheckIntervalMs }),
	intKey("offsets.load.buffer.size", "5242880", "bytes read at a time when loading __consumer_offsets", 1, func(b *Broker) *int32 { return &b.OffsetsLoadBufferSize }),
	intKey("offset.metadata.max.bytes", "4096", "largest metadata string of an offset commit", 0, func(b *Broker) *int32 { return &b.OffsetMetadataMaxBytes }),
	intKey("group.min.session.timeout.ms", "6000", "smallest session timeout a group member may ask for", 0, func(b *Broker) *int32 { return &b.GroupMinSessionTimeoutMs }),
	intKey("group.max.session.timeout.ms", "1800000", "largest session timeout a group member may ask for", 0, func(b *Broker) *int32 { return &b.GroupMaxSessionTimeoutMs }),
	intKey("group.initial.rebalance.delay.ms", "3000", "how long the first rebalance of an empty group waits for more members", 0, func(b *Broker) *int32 { return &b.GroupInitialRebalanceDelayMs }),
	intKey("group.max.size", "2147483647", "most members a group may have", 1, func(b *Broker) *int32 { return &b.GroupMaxSize }),
	{name: "compression.type", typ: TypeString, def: "producer", doc: "compression of stored batches; producer keeps the producer's", set: func(b *Broker, v string) error {
		b.CompressionType = v
		return oneOf(v, "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")
	}},
	{name: "log.message.timestamp.type", typ: TypeString, def: "CreateTime", doc: "CreateTime or LogAppendTime", set: func(b *Broker, v string) error {
		b.LogMessageTimestampType = v
		return oneOf(v, "CreateTime", "LogAppendTime")
	}},
	longKey("log.message.timestamp.difference.max.ms", strconv.FormatInt(math.MaxInt64, 10), "largest difference between a CreateTime timestamp and the broker's clock", 0, func(b *Broker) *int64 { return &b.LogMessageTimestampDifferenceMaxMs }),
	longKey("producer.id.expiration.ms", "86400000", "idle producer ids are forgotten after this", 1, func(b *Broker) *int64 { return &b.ProducerIDExpirationMs }),
	{name: "gregor.metrics.listen", typ: TypeString, null: true, doc: "host:port of the Prometheus /metrics endpoint (unset: off)", set: func(b *Broker, v string) error { b.MetricsListen = v; return nil }},
	boolKey("gregor.test.fault.injection", "false", "TEST SEAM, never in production: the log dirs live on a fault-injecting file system whose disk failures (write-error, short-write, fsync-error, enospc) tests arm over HTTP at /faults on gregor.metrics.listen", func(b *Broker) *bool { return &b.TestFaultInjection }),
	boolKey("gregor.debug.pprof", "false", "serve Go's profiler (net/http/pprof) at /debug/pprof/ on gregor.metrics.listen: CPU and heap profiles of a running broker, for benchmarks and diagnosis; anyone who reaches that address can read them", func(b *Broker) *bool { return &b.DebugPprof }),
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
	noEffect("socket.send.buffer.bytes", "102400", TypeInt),
	noEffect("socket.receive.buffer.bytes", "102400", TypeInt),
	noEffect("transaction.state.log.replication.factor", "3", TypeShort),
	noEffect("transaction.state.log.min.isr", "2", TypeInt),
	boolKey("auto.leader.rebalance.enable", "true", "move leadership back to preferred replicas when a broker's imbalance exceeds leader.imbalance.per.broker.percentage", func(b *Broker) *bool { return &b.AutoLeaderRebalanceEnable }),
	longKey("leader.imbalance.check.interval.seconds", "300", "how often the controller checks leader imbalance", 1, func(b *Broker) *int64 { return &b.LeaderImbalanceCheckIntervalSeconds }),
	intKey("leader.imbalance.per.broker.percentage", "10", "share of a broker's preferred partitions it may not lead before a rebalance", 0, func(b *Broker) *int32 { return &b.LeaderImbalancePerBrokerPercentage }),
	boolKey("controlled.shutdown.enable", "true", "on SIGTERM, ask the controller to move leadership off this broker first", func(b *Broker) *bool { return &b.ControlledShutdownEnable }),
	intKey("controlled.shutdown.max.retries", "3", "controlled-shutdown attempts before shutting down anyway", 0, func(b *Broker) *int32 { return &b.ControlledShutdownMaxRetries }),
	longKey("controlled.shutdown.retry.backoff.ms", "5000", "pause between controlled-shutdown attempts", 0, func(b *Broker) *int64 { return &b.ControlledShutdownRetryBackoffMs }),
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
	envNames, err := applyEnv(values, sources, environ)
	if err != nil {
		return nil, err
	}
	b, err := build(values, sources, name, true)
	return b, blameEnv(err, envNames)
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
	if b.QueuedMaxRequestBytes > 0 && b.QueuedMaxRequestBytes < int64(b.SocketRequestMaxBytes) {
		return &Error{File: name, Key: "queued.max.request.bytes", Value: strconv.FormatInt(b.QueuedMaxRequestBytes, 10),
			Reason: fmt.Sprintf("must be at least socket.request.max.bytes (%d), or -1", b.SocketRequestMaxBytes)}
	}
	if b.QueuedMaxRequestBytes == 0 {
		return &Error{File: name, Key: "queued.max.request.bytes", Value: "0", Reason: "must be positive, or -1 for unbounded"}
	}
	if b.TestFaultInjection && b.MetricsListen == "" {
		return &Error{File: name, Key: "gregor.test.fault.injection", Value: "true", Reason: "needs gregor.metrics.listen, where its /faults endpoint is served"}
	}
	if b.DebugPprof && b.MetricsListen == "" {
		return &Error{File: name, Key: "gregor.debug.pprof", Value: "true", Reason: "needs gregor.metrics.listen, where /debug/pprof/ is served"}
	}
	if b.MaxConnectionsPerIP == 0 && len(b.MaxConnectionsPerIPOverrides) == 0 {
		return &Error{File: name, Key: "max.connections.per.ip", Value: "0", Reason: "can be set to zero only if max.connections.per.ip.overrides is set"}
	}
	return nil
}

// parseConnectionOverrides reads max.connections.per.ip.overrides, "host:count,host:count"; the
// count follows the last colon, so IPv6 addresses work.
func parseConnectionOverrides(v string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range splitList(v) {
		i := strings.LastIndex(part, ":")
		if i <= 0 {
			return nil, fmt.Errorf("%q is not host:count", part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(part[i+1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: the count must be an integer >= 0", part)
		}
		host := strings.Trim(strings.TrimSpace(part[:i]), "[]")
		out[host] = n
	}
	return out, nil
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

// Describe lists every static broker config for DescribeConfigs(BROKER), all read-only: the
// few dynamic ones are added by DescribeDynamic.
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
