package log

import (
	"fmt"
	"math"
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
	if c.ProducerIDExpirationMs <= 0 {
		c.ProducerIDExpirationMs = d.ProducerIDExpirationMs
	}
	return c
}
