package config

import (
	"fmt"
	"strconv"
	"strings"
)

// The topic configs naming the replicas whose replication traffic is throttled, and the broker
// configs setting the throttles' rates (Kafka's LogConfig and DynamicConfig.Broker names).
const (
	LeaderThrottledReplicas   = "leader.replication.throttled.replicas"
	FollowerThrottledReplicas = "follower.replication.throttled.replicas"

	LeaderThrottledRate       = "leader.replication.throttled.rate"
	FollowerThrottledRate     = "follower.replication.throttled.rate"
	AlterLogDirsThrottledRate = "replica.alter.log.dirs.io.max.bytes.per.second"
)

// UnlimitedRate is Kafka's DefaultReplicationThrottledRate (Long.MaxValue): no throttle.
const UnlimitedRate int64 = 1<<63 - 1

// ThrottledReplicas is a parsed *.replication.throttled.replicas value: "*" (every replica of
// the topic) or partition:broker pairs.
type ThrottledReplicas struct {
	All      bool
	Replicas []ThrottledReplica
}

// ThrottledReplica is one partition:broker pair.
type ThrottledReplica struct {
	Partition, Broker int32
}

// ParseThrottledReplicas reads a throttled-replicas list as Kafka's ThrottledReplicaListValidator
// accepts it: the comma-separated entries, each trimmed, are all "partition:broker" (decimal) or
// empty, or together they spell "*". name is the config's name, for the error Kafka gives.
func ParseThrottledReplicas(name, v string) (ThrottledReplicas, error) {
	entries := strings.Split(v, ",")
	for i := range entries {
		entries[i] = strings.TrimSpace(entries[i])
	}
	if strings.Join(entries, "") == "*" {
		return ThrottledReplicas{All: true}, nil
	}
	var out ThrottledReplicas
	for _, e := range entries {
		if e == "" {
			continue
		}
		p, b, ok := strings.Cut(e, ":")
		pn, perr := parseDecimal32(p)
		bn, berr := parseDecimal32(b)
		if !ok || perr != nil || berr != nil {
			return ThrottledReplicas{}, fmt.Errorf("%s must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...", name)
		}
		out.Replicas = append(out.Replicas, ThrottledReplica{Partition: pn, Broker: bn})
	}
	return out, nil
}

// parseDecimal32 accepts only ASCII digits (Kafka's [0-9]+), within int32.
func parseDecimal32(s string) (int32, error) {
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return int32(n), err
}

// On is what the list throttles on one broker, as Kafka's TopicConfigHandler reads it: every
// partition of the topic ("*"), or the partitions paired with that broker.
func (t ThrottledReplicas) On(broker int32) (all bool, partitions []int32) {
	if t.All {
		return true, nil
	}
	for _, r := range t.Replicas {
		if r.Broker == broker {
			partitions = append(partitions, r.Partition)
		}
	}
	return false, partitions
}

// Empty reports whether the list throttles nothing.
func (t ThrottledReplicas) Empty() bool { return !t.All && len(t.Replicas) == 0 }

// Format writes the list back in Kafka's form ("*" or "p:b,p:b").
func (t ThrottledReplicas) Format() string {
	if t.All {
		return "*"
	}
	parts := make([]string, len(t.Replicas))
	for i, r := range t.Replicas {
		parts[i] = fmt.Sprintf("%d:%d", r.Partition, r.Broker)
	}
	return strings.Join(parts, ",")
}

// TopicThrottles reads a topic's two throttled-replica lists from its overrides; a missing or
// empty value throttles nothing.
func TopicThrottles(overrides map[string]string) (leader, follower ThrottledReplicas, err error) {
	if v := overrides[LeaderThrottledReplicas]; strings.TrimSpace(v) != "" {
		if leader, err = ParseThrottledReplicas(LeaderThrottledReplicas, v); err != nil {
			return ThrottledReplicas{}, ThrottledReplicas{}, err
		}
	}
	if v := overrides[FollowerThrottledReplicas]; strings.TrimSpace(v) != "" {
		if follower, err = ParseThrottledReplicas(FollowerThrottledReplicas, v); err != nil {
			return ThrottledReplicas{}, ThrottledReplicas{}, err
		}
	}
	return leader, follower, nil
}

func throttledReplicasCheck(name string) func(string) error {
	return func(v string) error { _, err := ParseThrottledReplicas(name, v); return err }
}
