package log

import (
	"fmt"
	"math"
	"strings"
)

// TopicPartition names a partition; its String is the partition's directory name.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Config is the per-log configuration: Kafka's topic-level settings the storage engine obeys.
type Config struct {
	SegmentBytes           int64 // segment.bytes
	SegmentMs              int64 // segment.ms
	RetentionMs            int64 // retention.ms; -1 = forever
	RetentionBytes         int64 // retention.bytes; -1 = unbounded
	IndexIntervalBytes     int32 // index.interval.bytes
	MaxIndexSize           int32 // segment.index.bytes
	MaxMessageBytes        int32 // max.message.bytes
	FlushIntervalMessages  int64 // flush.messages
	FlushIntervalMs        int64 // flush.ms
	FileDeleteDelayMs      int64 // file.delete.delay.ms
	LogAppendTime          bool  // message.timestamp.type=LogAppendTime
	ProducerIDExpirationMs int64 // producer.id.expiration.ms

	// Compaction (cleaner.go). CleanupPolicy is "delete", "compact" or "compact,delete", as
	// config.normalizePolicy spells it; "" means "delete".
	CleanupPolicy          string  // cleanup.policy
	DeleteRetentionMs      int64   // delete.retention.ms: how long tombstones survive cleaning
	MinCompactionLagMs     int64   // min.compaction.lag.ms
	MaxCompactionLagMs     int64   // max.compaction.lag.ms
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio

	// MaxTimestampDiffMs is message.timestamp.difference.max.ms: CreateTime timestamps further
	// than this from the broker's clock are refused (INVALID_TIMESTAMP). 0 is read as unset
	// (math.MaxInt64, Kafka's default); the broker passes Kafka's 0 as 1 ms.
	MaxTimestampDiffMs int64
}

// Cleanup policies.
const (
	PolicyDelete        = "delete"
	PolicyCompact       = "compact"
	PolicyCompactDelete = "compact,delete"
)

// Compact reports whether the log cleaner compacts this log (cleanup.policy has compact).
func (c Config) Compact() bool { return strings.Contains(c.CleanupPolicy, PolicyCompact) }

// Delete reports whether time and size retention apply (cleanup.policy has delete). Kafka deletes
// segments by retention.ms/retention.bytes only then; with compact alone, only segments below the
// log start offset (DeleteRecords) are deleted.
func (c Config) Delete() bool {
	return c.CleanupPolicy == "" || strings.Contains(c.CleanupPolicy, PolicyDelete)
}

// DefaultConfig is Apache Kafka's default for every field.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * 3600 * 1000,
		RetentionMs:            7 * 24 * 3600 * 1000,
		RetentionBytes:         -1,
		IndexIntervalBytes:     4096,
		MaxIndexSize:           10 << 20,
		MaxMessageBytes:        1048588,
		FlushIntervalMessages:  math.MaxInt64,
		FlushIntervalMs:        math.MaxInt64,
		FileDeleteDelayMs:      60000,
		ProducerIDExpirationMs: 86400000,
		CleanupPolicy:          PolicyDelete,
		DeleteRetentionMs:      86400000,
		MinCompactionLagMs:     0,
		MaxCompactionLagMs:     math.MaxInt64,
		MinCleanableDirtyRatio: 0.5,
		MaxTimestampDiffMs:     math.MaxInt64,
	}
}

// sanitize fills zero values with defaults so a partially filled Config behaves.
func (c Config) sanitize() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = d.RetentionMs
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = d.RetentionBytes
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.MaxIndexSize < offsetEntrySize*4 {
		c.MaxIndexSize = d.MaxIndexSize
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.FlushIntervalMessages <= 0 {
		c.FlushIntervalMessages = d.FlushIntervalMessages
	}
	if c.FlushIntervalMs <= 0 {
		c.FlushIntervalMs = d.FlushIntervalMs
	}
	if c.FileDeleteDelayMs < 0 {
		c.FileDeleteDelayMs = 0
	}
	if c.MaxTimestampDiffMs <= 0 {
		c.MaxTimestampDiffMs = d.MaxTimestampDiffMs
	}
	if c.ProducerIDExpirationMs <= 0 {
		c.ProducerIDExpirationMs = d.ProducerIDExpirationMs
	}
	if c.CleanupPolicy == "" {
		c.CleanupPolicy = d.CleanupPolicy
	}
	// 0 is a valid delete.retention.ms, min.compaction.lag.ms and min.cleanable.dirty.ratio
	// (Kafka's minimum), so only out-of-range values are replaced.
	if c.DeleteRetentionMs < 0 {
		c.DeleteRetentionMs = 0
	}
	if c.MinCompactionLagMs < 0 {
		c.MinCompactionLagMs = 0
	}
	if c.MaxCompactionLagMs <= 0 {
		c.MaxCompactionLagMs = d.MaxCompactionLagMs
	}
	if c.MinCleanableDirtyRatio < 0 || c.MinCleanableDirtyRatio > 1 {
		c.MinCleanableDirtyRatio = d.MinCleanableDirtyRatio
	}
	return c
}

// maxSegmentMs is the time-based roll limit: segment.ms, or max.compaction.lag.ms if smaller on
// a compacted log, so that no record stays in the active (uncleanable) segment longer than the
// lag allows (Kafka's LogConfig.maxSegmentMs).
func (c Config) maxSegmentMs() int64 {
	if c.Compact() && c.MaxCompactionLagMs > 0 {
		return min(c.SegmentMs, c.MaxCompactionLagMs)
	}
	return c.SegmentMs
}
