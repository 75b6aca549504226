package config

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Topic is a topic's effective configuration: broker defaults overlaid with its overrides.
type Topic struct {
	CleanupPolicy               string
	CompressionType             string
	SegmentBytes                int64
	SegmentMs                   int64
	SegmentIndexBytes           int32
	IndexIntervalBytes          int32
	RetentionMs                 int64
	RetentionBytes              int64
	MaxMessageBytes             int32
	MinInsyncReplicas           int32
	FlushMessages               int64
	FlushMs                     int64
	FileDeleteDelayMs           int64
	MessageTimestampType        string
	UncleanLeaderElectionEnable bool
	DeleteRetentionMs           int64
	MinCompactionLagMs          int64
	MaxCompactionLagMs          int64
	MinCleanableDirtyRatio      float64
	TimestampDiffMaxMs          int64 // message.timestamp.difference.max.ms
}

// topicDef is one topic-level config: Kafka's name, type, the broker property that supplies its
// default (its synonym), and its validation.
type topicDef struct {
	name     string
	typ      int8
	synonyms []string // broker keys, most specific first
	def      func(b *Broker) string
	check    func(v string) error
	doc      string
}

func intCheck(bits int, min int64) func(string) error {
	return func(v string) error { _, err := parseInt(v, bits, min); return err }
}

var topicDefs = []topicDef{
	{"cleanup.policy", TypeList, []string{"log.cleanup.policy"}, func(b *Broker) string { return b.LogCleanupPolicy },
		func(v string) error { return oneOf(normalizePolicy(v), "delete", "compact", "compact,delete") }, "delete or compact old segments"},
	{"compression.type", TypeString, []string{"compression.type"}, func(b *Broker) string { return b.CompressionType },
		func(v string) error { return oneOf(v, "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd") }, "compression of stored batches"},
	{"delete.retention.ms", TypeLong, []string{"log.cleaner.delete.retention.ms"}, func(b *Broker) string { return i64(b.LogCleanerDeleteRetentionMs) }, intCheck(64, 0), "how long compaction keeps tombstones"},
	{"file.delete.delay.ms", TypeLong, []string{"log.segment.delete.delay.ms"}, func(b *Broker) string { return i64(b.LogDeleteDelayMs) }, intCheck(64, 0), "delay before deleted segment files are removed"},
	{"flush.messages", TypeLong, []string{"log.flush.interval.messages"}, func(b *Broker) string { return i64(b.LogFlushIntervalMessages) }, intCheck(64, 1), "messages between fsyncs"},
	{"flush.ms", TypeLong, []string{"log.flush.interval.ms"}, func(b *Broker) string {
		if b.LogFlushIntervalMs < 0 {
			return i64(math.MaxInt64)
		}
		return i64(b.LogFlushIntervalMs)
	}, intCheck(64, 0), "time between fsyncs"},
	{FollowerThrottledReplicas, TypeList, nil, func(*Broker) string { return "" }, throttledReplicasCheck(FollowerThrottledReplicas), "replicas (partition:broker, or *) whose fetching as followers is throttled by follower.replication.throttled.rate"},
	{"index.interval.bytes", TypeInt, []string{"log.index.interval.bytes"}, func(b *Broker) string { return i64(int64(b.LogIndexIntervalBytes)) }, intCheck(32, 0), "bytes between offset index entries"},
	{LeaderThrottledReplicas, TypeList, nil, func(*Broker) string { return "" }, throttledReplicasCheck(LeaderThrottledReplicas), "replicas (partition:broker, or *) whose serving of followers as leaders is throttled by leader.replication.throttled.rate"},
	{"max.compaction.lag.ms", TypeLong, []string{"log.cleaner.max.compaction.lag.ms"}, func(b *Broker) string { return i64(b.LogCleanerMaxCompactionLagMs) }, intCheck(64, 1), "longest a record stays uncompacted"},
	{"max.message.bytes", TypeInt, []string{"message.max.bytes"}, func(b *Broker) string { return i64(int64(b.MessageMaxBytes)) }, intCheck(32, 0), "largest record batch"},
	{"message.downconversion.enable", TypeBoolean, []string{"log.message.downconversion.enable"}, func(*Broker) string { return "true" },
		func(v string) error { _, err := parseBool(v); return err }, "down-convert for old consumers"},
	{"message.timestamp.difference.max.ms", TypeLong, []string{"log.message.timestamp.difference.max.ms"}, func(b *Broker) string { return i64(b.LogMessageTimestampDifferenceMaxMs) }, intCheck(64, 0), "largest accepted timestamp skew"},
	{"message.timestamp.type", TypeString, []string{"log.message.timestamp.type"}, func(b *Broker) string { return b.LogMessageTimestampType },
		func(v string) error { return oneOf(v, "CreateTime", "LogAppendTime") }, "CreateTime or LogAppendTime"},
	{"min.cleanable.dirty.ratio", TypeDouble, []string{"log.cleaner.min.cleanable.ratio"}, func(b *Broker) string {
		return strconv.FormatFloat(b.LogCleanerMinCleanableRatio, 'f', -1, 64)
	},
		func(v string) error { _, err := parseDouble(v, 0, 1); return err }, "dirty ratio that triggers compaction"},
	{"min.compaction.lag.ms", TypeLong, []string{"log.cleaner.min.compaction.lag.ms"}, func(b *Broker) string { return i64(b.LogCleanerMinCompactionLagMs) }, intCheck(64, 0), "shortest a record stays uncompacted"},
	{"min.insync.replicas", TypeInt, []string{"min.insync.replicas"}, func(b *Broker) string { return i64(int64(b.MinInsyncReplicas)) }, intCheck(32, 1), "replicas an acks=all write needs"},
	{"preallocate", TypeBoolean, []string{"log.preallocate"}, func(*Broker) string { return "false" },
		func(v string) error { _, err := parseBool(v); return err }, "preallocate segment files"},
	{"retention.bytes", TypeLong, []string{"log.retention.bytes"}, func(b *Broker) string { return i64(b.LogRetentionBytes) }, intCheck(64, -1), "size before old segments are deleted"},
	{"retention.ms", TypeLong, []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}, func(b *Broker) string { return i64(b.LogRetentionMs) }, intCheck(64, -1), "how long segments are kept"},
	{"segment.bytes", TypeInt, []string{"log.segment.bytes"}, func(b *Broker) string { return i64(b.LogSegmentBytes) }, intCheck(32, 14), "segment file size"},
	{"segment.index.bytes", TypeInt, []string{"log.index.size.max.bytes"}, func(b *Broker) string { return i64(int64(b.LogIndexSizeMaxBytes)) }, intCheck(32, 4), "maximum offset index size"},
	{"segment.jitter.ms", TypeLong, []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}, func(*Broker) string { return "0" }, intCheck(64, 0), "random jitter on segment.ms"},
	{"segment.ms", TypeLong, []string{"log.roll.ms", "log.roll.hours"}, func(b *Broker) string { return i64(b.LogRollMs) }, intCheck(64, 1), "time before a segment is rolled"},
	{"unclean.leader.election.enable", TypeBoolean, []string{"unclean.leader.election.enable"}, func(b *Broker) string { return strconv.FormatBool(b.UncleanLeaderElectionEnable) },
		func(v string) error { _, err := parseBool(v); return err }, "allow out-of-sync leaders"},
}

var topicIndex = func() map[string]*topicDef {
	m := map[string]*topicDef{}
	for i := range topicDefs {
		m[topicDefs[i].name] = &topicDefs[i]
	}
	return m
}()

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// TopicConfigNames lists every topic-level config name.
func TopicConfigNames() []string {
	out := make([]string, len(topicDefs))
	for i, d := range topicDefs {
		out[i] = d.name
	}
	return out
}

// IsTopicConfig reports whether name is a topic-level config.
func IsTopicConfig(name string) bool { return topicIndex[name] != nil }

// ValidateTopicConfigs checks overrides: unknown names and bad values are *Error values.
func ValidateTopicConfigs(overrides map[string]string) error {
	names := make([]string, 0, len(overrides))
	for k := range overrides {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d := topicIndex[k]
		if d == nil {
			return &Error{Key: k, Reason: "unknown topic config"}
		}
		if err := d.check(overrides[k]); err != nil {
			return &Error{Key: k, Value: overrides[k], Reason: err.Error()}
		}
	}
	return nil
}

// TopicConfig resolves a topic's effective configuration.
func (b *Broker) TopicConfig(overrides map[string]string) (Topic, error) {
	if err := ValidateTopicConfigs(overrides); err != nil {
		return Topic{}, err
	}
	get := func(name string) string {
		if v, ok := overrides[name]; ok {
			return v
		}
		return topicIndex[name].def(b)
	}
	n := func(name string) int64 { v, _ := strconv.ParseInt(strings.TrimSpace(get(name)), 10, 64); return v }
	unclean, _ := parseBool(get("unclean.leader.election.enable"))
	ratio, _ := parseDouble(get("min.cleanable.dirty.ratio"), 0, 1)
	return Topic{
		CleanupPolicy:               normalizePolicy(get("cleanup.policy")),
		CompressionType:             get("compression.type"),
		SegmentBytes:                n("segment.bytes"),
		SegmentMs:                   n("segment.ms"),
		SegmentIndexBytes:           int32(n("segment.index.bytes")),
		IndexIntervalBytes:          int32(n("index.interval.bytes")),
		RetentionMs:                 n("retention.ms"),
		RetentionBytes:              n("retention.bytes"),
		MaxMessageBytes:             int32(n("max.message.bytes")),
		MinInsyncReplicas:           int32(n("min.insync.replicas")),
		FlushMessages:               n("flush.messages"),
		FlushMs:                     n("flush.ms"),
		FileDeleteDelayMs:           n("file.delete.delay.ms"),
		MessageTimestampType:        get("message.timestamp.type"),
		UncleanLeaderElectionEnable: unclean,
		DeleteRetentionMs:           n("delete.retention.ms"),
		MinCompactionLagMs:          n("min.compaction.lag.ms"),
		MaxCompactionLagMs:          n("max.compaction.lag.ms"),
		MinCleanableDirtyRatio:      ratio,
		TimestampDiffMaxMs:          n("message.timestamp.difference.max.ms"),
	}, nil
}

// DescribeTopic lists every topic config with its value and source, and its synonyms (the topic
// override, then the broker keys that supply the default), as DescribeConfigs(TOPIC) returns.
func (b *Broker) DescribeTopic(overrides map[string]string) []ConfigEntry {
	out := make([]ConfigEntry, 0, len(topicDefs))
	for _, d := range topicDefs {
		e := ConfigEntry{Name: d.name, Type: d.typ, Doc: d.doc}
		if v, ok := overrides[d.name]; ok {
			e.Value, e.Source = v, SourceDynamicTopic
			e.Synonyms = append(e.Synonyms, Synonym{Name: d.name, Value: v, Source: SourceDynamicTopic})
		} else {
			e.Value, e.Source = d.def(b), SourceDefault
		}
		for _, syn := range d.synonyms {
			if v, src, ok := b.Get(syn); ok {
				if _, set := b.values[syn]; set {
					if e.Source == SourceDefault {
						e.Source = src
					}
					e.Synonyms = append(e.Synonyms, Synonym{Name: syn, Value: v, Source: src})
				}
			}
		}
		if len(e.Synonyms) == 0 || e.Synonyms[len(e.Synonyms)-1].Source != SourceDefault {
			e.Synonyms = append(e.Synonyms, Synonym{Name: firstOr(d.synonyms, d.name), Value: d.def(b), Source: SourceDefault})
		}
		out = append(out, e)
	}
	return out
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
