package clients

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"
)

// The replication throttle of a reassignment, as kafka-reassign-partitions --throttle sets and
// --verify clears it: the rates are dynamic broker configs of every broker a move involves, the
// throttled replicas topic configs naming, for each moving partition, its current replicas
// (leader side: any of them may lead) and its new ones (follower side).

const (
	leaderRate       = "leader.replication.throttled.rate"
	followerRate     = "follower.replication.throttled.rate"
	alterLogDirsRate = "replica.alter.log.dirs.io.max.bytes.per.second"
	leaderReplicas   = "leader.replication.throttled.replicas"
	followerReplicas = "follower.replication.throttled.replicas"
)

// Move is one partition's replicas now and after a reassignment.
type Move struct {
	Topic           string
	Partition       int
	Current, Target []int
}

// SetReassignmentThrottle throttles the moves that copy data (a target replica not among the
// current ones) at rate bytes/s and returns the brokers whose rates it set.
func SetReassignmentThrottle(ctx context.Context, brokers []string, moves []Move, rate int64) ([]int, error) {
	leaders, followers := map[string][]string{}, map[string][]string{}
	involved := map[int]bool{}
	for _, m := range moves {
		var added []int
		for _, b := range m.Target {
			if !containsInt(m.Current, b) {
				added = append(added, b)
			}
		}
		if len(added) == 0 {
			continue
		}
		for _, b := range m.Current {
			leaders[m.Topic] = append(leaders[m.Topic], fmt.Sprintf("%d:%d", m.Partition, b))
			involved[b] = true
		}
		for _, b := range added {
			followers[m.Topic] = append(followers[m.Topic], fmt.Sprintf("%d:%d", m.Partition, b))
			involved[b] = true
		}
	}
	for topic, l := range leaders {
		set := map[string]string{leaderReplicas: strings.Join(l, ","), followerReplicas: strings.Join(followers[topic], ",")}
		if err := AlterTopic(ctx, brokers, topic, 0, set, nil); err != nil {
			return nil, fmt.Errorf("throttled replicas of %s: %w", topic, err)
		}
	}
	ids := sortedIDs(involved)
	v := strconv.FormatInt(rate, 10)
	for _, id := range ids {
		if err := alterBroker(ctx, brokers, id, map[string]string{leaderRate: v, followerRate: v}, nil); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// ClearReassignmentThrottles removes the throttle rates from every broker of the cluster and
// the throttled replicas from the topics, and returns the brokers.
func ClearReassignmentThrottles(ctx context.Context, brokers []string, topics []string) ([]int, error) {
	md, err := client(brokers).Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	all := map[int]bool{}
	for _, b := range md.Brokers {
		all[b.ID] = true
	}
	ids := sortedIDs(all)
	for _, id := range ids {
		if err := alterBroker(ctx, brokers, id, nil, []string{leaderRate, followerRate, alterLogDirsRate}); err != nil {
			return nil, err
		}
	}
	for _, topic := range topics {
		if err := AlterTopic(ctx, brokers, topic, 0, nil, []string{leaderReplicas, followerReplicas}); err != nil {
			return nil, fmt.Errorf("throttled replicas of %s: %w", topic, err)
		}
	}
	return ids, nil
}

// alterBroker sets and deletes one broker's dynamic configs (IncrementalAlterConfigs, which
// kafka-go sends to that broker, as a BROKER resource must be).
func alterBroker(ctx context.Context, brokers []string, id int, set map[string]string, del []string) error {
	var cfgs []kafka.IncrementalAlterConfigsRequestConfig
	for k, v := range set {
		cfgs = append(cfgs, kafka.IncrementalAlterConfigsRequestConfig{Name: k, Value: v, ConfigOperation: kafka.ConfigOperationSet})
	}
	for _, k := range del {
		cfgs = append(cfgs, kafka.IncrementalAlterConfigsRequestConfig{Name: k, ConfigOperation: kafka.ConfigOperationDelete})
	}
	resp, err := client(brokers).IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{ResourceType: kafka.ResourceTypeBroker, ResourceName: strconv.Itoa(id), Configs: cfgs}}})
	if err != nil {
		return fmt.Errorf("broker %d: %w", id, err)
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return fmt.Errorf("broker %d: %w", id, r.Error)
		}
	}
	return nil
}

func sortedIDs(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
