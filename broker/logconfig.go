package broker

import (
	"fmt"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/config"
)

// topicLogConfig is replica.Options.LogConfig: the topic's overrides from
// /config/topics/<topic> over the broker's defaults, as the log's Config, plus
// min.insync.replicas. Called when a log is created and on every config change of the topic;
// it also applies the topic's throttled-replica lists to the replication throttles then (as
// Kafka's TopicConfigHandler does on a change), so a replica is throttled from its first fetch.
func (b *Broker) topicLogConfig(topic string) (klog.Config, int32, error) {
	overrides, err := b.zk.GetTopicConfig(topic)
	if err != nil {
		return klog.Config{}, 0, fmt.Errorf("read config of topic %s: %w", topic, err)
	}
	b.applyTopicThrottles(topic, overrides)
	cfg, minISR, err := b.topicLogConfigFrom(overrides)
	if err != nil {
		return klog.Config{}, 0, fmt.Errorf("config of topic %s: %w", topic, err)
	}
	return cfg, minISR, nil
}

// topicLogConfigFrom resolves overrides (nil = broker defaults) into a log Config.
func (b *Broker) topicLogConfigFrom(overrides map[string]string) (klog.Config, int32, error) {
	tc, err := b.cfg.TopicConfig(overrides)
	if err != nil {
		return klog.Config{}, 0, err
	}
	return klog.Config{
		SegmentBytes:           tc.SegmentBytes,
		SegmentMs:              tc.SegmentMs,
		RetentionMs:            tc.RetentionMs,
		RetentionBytes:         tc.RetentionBytes,
		IndexIntervalBytes:     tc.IndexIntervalBytes,
		MaxIndexSize:           tc.SegmentIndexBytes,
		MaxMessageBytes:        tc.MaxMessageBytes,
		FlushIntervalMessages:  tc.FlushMessages,
		FlushIntervalMs:        tc.FlushMs,
		FileDeleteDelayMs:      tc.FileDeleteDelayMs,
		LogAppendTime:          tc.MessageTimestampType == "LogAppendTime",
		ProducerIDExpirationMs: b.cfg.ProducerIDExpirationMs,
		CleanupPolicy:          tc.CleanupPolicy,
		DeleteRetentionMs:      tc.DeleteRetentionMs,
		MinCompactionLagMs:     tc.MinCompactionLagMs,
		MaxCompactionLagMs:     tc.MaxCompactionLagMs,
		MinCleanableDirtyRatio: tc.MinCleanableDirtyRatio,
		// Kafka's 0 (only timestamps equal to the broker's clock) is 1 ms here: the log reads 0
		// as unset.
		MaxTimestampDiffMs: max(tc.TimestampDiffMaxMs, 1),
	}, tc.MinInsyncReplicas, nil
}

// applyTopicThrottles sets the replication throttles' partitions of topic on this broker from
// its leader/follower.replication.throttled.replicas.
func (b *Broker) applyTopicThrottles(topic string, overrides map[string]string) {
	leader, follower, err := config.TopicThrottles(overrides)
	if err != nil {
		b.log.WithError(err).WithField("topic", topic).Warn("throttled replicas in ZooKeeper are invalid; topic not throttled")
	}
	on := func(t config.ThrottledReplicas) replica.Throttled {
		all, parts := t.On(b.cfg.BrokerID)
		return replica.Throttled{All: all, Partitions: parts}
	}
	b.replicas.SetTopicThrottles(topic, on(leader), on(follower))
}
