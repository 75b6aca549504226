package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Dynamic broker configs, Kafka's DynamicBrokerConfig in ZooKeeper mode: the keys AlterConfigs
// may set on a BROKER resource — per broker (/config/brokers/<id>) or as the cluster-wide
// default (/config/brokers/<default>) — and how they combine: a per-broker value wins over the
// default, which wins over the built-in default. Gregor updates only the replication throttles
// at runtime; every other key is set in the broker's config file.

// dynamicKey is one key Gregor applies at runtime: all of them are Kafka's LONG rates, at least
// 0, with Long.MaxValue (no limit) as the default.
type dynamicKey struct {
	name string
	doc  string
}

var dynamicKeys = []dynamicKey{
	{LeaderThrottledRate, "bytes/s a leader sends followers of its leader.replication.throttled.replicas (measured over replication.quota.window.num x replication.quota.window.size.seconds)"},
	{FollowerThrottledRate, "bytes/s a follower fetches for its follower.replication.throttled.replicas"},
	{AlterLogDirsThrottledRate, "bytes/s of moves between log dirs (accepted; Gregor moves no replica between log dirs)"},
}

func isDynamicKey(name string) bool {
	for _, k := range dynamicKeys {
		if k.name == name {
			return true
		}
	}
	return false
}

// kafkaReconfigurable are the keys of Gregor's config file that Kafka 2.8 updates dynamically
// (DynamicBrokerConfig.AllDynamicConfigs) and Gregor does not yet: they get a message saying so
// rather than Kafka's "Cannot update these configs dynamically".
var kafkaReconfigurable = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range []string{
		"listeners", "advertised.listeners", "listener.security.protocol.map",
		"log.cleaner.threads", "log.cleaner.dedupe.buffer.size", "log.cleaner.io.buffer.load.factor", "log.cleaner.backoff.ms",
		"log.segment.bytes", "log.roll.ms", "log.roll.hours", "log.index.size.max.bytes", "log.flush.interval.messages",
		"log.flush.interval.ms", "log.retention.bytes", "log.retention.ms", "log.retention.minutes", "log.retention.hours",
		"log.index.interval.bytes", "log.cleaner.delete.retention.ms", "log.cleaner.min.compaction.lag.ms",
		"log.cleaner.max.compaction.lag.ms", "log.segment.delete.delay.ms", "log.cleaner.min.cleanable.ratio",
		"log.cleanup.policy", "unclean.leader.election.enable", "min.insync.replicas", "compression.type",
		"log.message.timestamp.type", "log.message.timestamp.difference.max.ms", "message.max.bytes",
		"num.io.threads", "num.network.threads", "num.replica.fetchers", "num.recovery.threads.per.data.dir",
		"max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides",
	} {
		m[k] = true
	}
	return m
}()

// ValidateDynamicBrokerConfigs checks the complete dynamic config set of a BROKER resource (a
// broker's or the cluster default's: no key Gregor updates is per-broker only), in Kafka's
// order: keys that cannot be dynamic, then values. The error's text is Kafka's ConfigException message (the caller adds
// the resource, as Kafka's "Invalid config value for resource ..." does).
func ValidateDynamicBrokerConfigs(cfg map[string]string) error {
	names := make([]string, 0, len(cfg))
	for k := range cfg {
		names = append(names, k)
	}
	sort.Strings(names)
	var static, unsupported, unknown []string
	for _, k := range names {
		switch {
		case isDynamicKey(k):
		case kafkaReconfigurable[k]:
			unsupported = append(unsupported, k)
		case keyIndex[k] != nil:
			static = append(static, k)
		default:
			unknown = append(unknown, k)
		}
	}
	if len(static) > 0 {
		return fmt.Errorf("Cannot update these configs dynamically: Set(%s)", strings.Join(static, ", "))
	}
	if len(unsupported) > 0 {
		return fmt.Errorf("Gregor cannot update these configs dynamically yet (Kafka can): Set(%s); set them in the broker's config file", strings.Join(unsupported, ", "))
	}
	if len(unknown) > 0 {
		return fmt.Errorf("Unknown broker configs: Set(%s)", strings.Join(unknown, ", "))
	}
	for _, k := range names {
		if _, err := parseRate(k, cfg[k]); err != nil {
			return err
		}
	}
	return nil
}

// parseRate reads a LONG >= 0 with Kafka's ConfigDef messages.
func parseRate(name, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("Invalid value %s for configuration %s: Not a number of type LONG", v, name)
	}
	if n < 0 {
		return 0, fmt.Errorf("Invalid value %s for configuration %s: Value must be at least 0", v, name)
	}
	return n, nil
}

// ThrottleRates are a broker's effective replication throttles in bytes/s (UnlimitedRate: none).
type ThrottleRates struct {
	Leader, Follower, AlterLogDirs int64
}

// EffectiveThrottleRates resolves the rates from the broker's own dynamic configs over the
// cluster default's. (Kafka 2.8 applied only per-broker rates to its quota managers; later
// versions, and Gregor, also honour <default>.) A value that does not parse — written to
// ZooKeeper by hand — counts as unset, and the error names it.
func EffectiveThrottleRates(perBroker, defaults map[string]string) (ThrottleRates, error) {
	var firstErr error
	get := func(name string) int64 {
		for _, m := range []map[string]string{perBroker, defaults} {
			if v, ok := m[name]; ok {
				n, err := parseRate(name, v)
				if err == nil {
					return n
				}
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		return UnlimitedRate
	}
	r := ThrottleRates{Leader: get(LeaderThrottledRate), Follower: get(FollowerThrottledRate), AlterLogDirs: get(AlterLogDirsThrottledRate)}
	return r, firstErr
}

// DescribeDynamic lists a BROKER resource's configs for DescribeConfigs, as Kafka's
// ZkAdminManager does: for a broker (perBroker true), every static config plus the dynamic keys
// set in its own or the default znode, with source DYNAMIC_BROKER_CONFIG or
// DYNAMIC_DEFAULT_BROKER_CONFIG and synonyms most specific first; for the cluster default, only
// the keys set there.
func (b *Broker) DescribeDynamic(perBroker bool, own, defaults map[string]string) []ConfigEntry {
	var out []ConfigEntry
	if perBroker {
		out = b.Describe()
	}
	for _, k := range dynamicKeys {
		e := ConfigEntry{Name: k.name, Type: TypeLong, Doc: k.doc}
		if v, ok := own[k.name]; ok && perBroker {
			e.Synonyms = append(e.Synonyms, Synonym{Name: k.name, Value: v, Source: SourceDynamicBroker})
		}
		if v, ok := defaults[k.name]; ok {
			e.Synonyms = append(e.Synonyms, Synonym{Name: k.name, Value: v, Source: SourceDynamicDefaultBroker})
		}
		if len(e.Synonyms) == 0 {
			continue
		}
		e.Value, e.Source = e.Synonyms[0].Value, e.Synonyms[0].Source
		out = append(out, e)
	}
	return out
}
