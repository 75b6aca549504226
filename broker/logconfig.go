package broker

import (
	"fmt"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// topicLogConfig is replica.Options.LogConfig: the topic's overrides from
// /config/topics/<topic> over the broker's defaults, as the log's Config, plus
// min.insync.replicas. Called when a log is created and on every config change of the topic.
func (b *Broker) topicLogConfig(topic string) (klog.Config, int32, error) {
	overrides, err := b.zk.GetTopicConfig(topic)
	if err != nil {
		return klog.Config{}, 0, fmt.Errorf("read config of topic %s: %w", topic, err)
	}
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
	}, tc.MinInsyncReplicas, nil
}
