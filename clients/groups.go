package clients

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/describegroups"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int
}

// GroupListing is one group of ListGroups.
type GroupListing struct {
	GroupID      string
	ProtocolType string
}

// ListGroups lists the consumer groups of every broker (ListGroups goes to each broker, which
// answers for the groups it coordinates), sorted. Groups of other protocol types (Connect
// workers, say) are left out, as kafka-consumer-groups.sh does.
func ListGroups(ctx context.Context, brokers []string) ([]GroupListing, error) {
	resp, err := client(brokers).ListGroups(ctx, &kafka.ListGroupsRequest{})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	seen := map[string]bool{}
	var out []GroupListing
	for _, g := range resp.Groups {
		if seen[g.GroupID] || (g.ProtocolType != "consumer" && g.ProtocolType != "") {
			continue
		}
		seen[g.GroupID] = true
		out = append(out, GroupListing{GroupID: g.GroupID, ProtocolType: g.ProtocolType})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupID < out[j].GroupID })
	return out, nil
}

// GroupMember is one member as DescribeGroups reports it.
type GroupMember struct {
	MemberID   string
	InstanceID string
	ClientID   string
	Host       string
	Assignment []TopicPartition // decoded from the consumer protocol; empty when not Stable
}

// Coordinator is the broker that coordinates a group.
type Coordinator struct {
	ID   int
	Host string
	Port int
}

// GroupDescription is a group's state, members, offsets and the log ends of its partitions.
type GroupDescription struct {
	GroupID     string
	State       string // Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
	Protocol    string // the assignment strategy of a stable group
	Coordinator Coordinator
	Members     []GroupMember
	// Committed offsets by partition (absent: none).
	Committed map[TopicPartition]int64
	// LogEnd is the high watermark of every assigned or committed partition (absent: unknown).
	LogEnd map[TopicPartition]int64
}

// DescribeGroups describes groups with their committed offsets and log end offsets, in the
// order asked. A group the cluster does not know is "Dead" with nothing else.
func DescribeGroups(ctx context.Context, brokers []string, groups []string) ([]GroupDescription, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	cl := client(brokers)
	m, err := kafka.DefaultTransport.RoundTrip(ctx, cl.Addr, &describegroups.Request{Groups: groups})
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	byID := map[string]describegroups.ResponseGroup{}
	for _, g := range m.(*describegroups.Response).Groups {
		byID[g.GroupID] = g
	}
	out := make([]GroupDescription, 0, len(groups))
	for _, id := range groups {
		g, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("describe groups: no answer for %s", id)
		}
		if g.ErrorCode != 0 {
			return nil, fmt.Errorf("describe group %s: %w", id, kafka.Error(g.ErrorCode))
		}
		d := GroupDescription{GroupID: id, State: g.GroupState, Protocol: g.ProtocolData,
			Committed: map[TopicPartition]int64{}, LogEnd: map[TopicPartition]int64{}}
		for _, m := range g.Members {
			gm := GroupMember{MemberID: m.MemberID, InstanceID: m.GroupInstanceID, ClientID: m.ClientID, Host: m.ClientHost}
			if g.ProtocolType == "consumer" {
				gm.Assignment = decodeAssignment(m.MemberAssignment)
			}
			d.Members = append(d.Members, gm)
		}
		fc, err := cl.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: id, KeyType: kafka.CoordinatorKeyTypeConsumer})
		if err == nil && fc.Error == nil && fc.Coordinator != nil {
			d.Coordinator = Coordinator{ID: fc.Coordinator.NodeID, Host: fc.Coordinator.Host, Port: fc.Coordinator.Port}
		}
		if d.State != "Dead" {
			if d.Committed, err = CommittedOffsets(ctx, brokers, id); err != nil {
				return nil, err
			}
			var tps []TopicPartition
			for tp := range d.Committed {
				tps = append(tps, tp)
			}
			for _, m := range d.Members {
				tps = append(tps, m.Assignment...)
			}
			if d.LogEnd, err = listOffsets(ctx, cl, tps, kafka.LastOffset); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// CommittedOffsets is every offset a group has committed (OffsetFetch with all topics).
func CommittedOffsets(ctx context.Context, brokers []string, group string) (map[TopicPartition]int64, error) {
	resp, err := client(brokers).OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("offsets of %s: %w", group, resp.Error)
	}
	out := map[TopicPartition]int64{}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("offset of %s %s-%d: %w", group, topic, p.Partition, p.Error)
			}
			if p.CommittedOffset >= 0 {
				out[TopicPartition{topic, p.Partition}] = p.CommittedOffset
			}
		}
	}
	return out, nil
}

// listOffsets resolves one ListOffsets timestamp (kafka.FirstOffset, kafka.LastOffset or a ms
// timestamp) per partition; partitions without an answer are absent, and so are partitions
// where no record is at or after a timestamp.
func listOffsets(ctx context.Context, cl *kafka.Client, tps []TopicPartition, ts int64) (map[TopicPartition]int64, error) {
	out := map[TopicPartition]int64{}
	if len(tps) == 0 {
		return out, nil
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	seen := map[TopicPartition]bool{}
	for _, tp := range tps {
		if seen[tp] {
			continue
		}
		seen[tp] = true
		req.Topics[tp.Topic] = append(req.Topics[tp.Topic], kafka.OffsetRequest{Partition: tp.Partition, Timestamp: ts})
	}
	resp, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				continue
			}
			tp := TopicPartition{topic, p.Partition}
			switch ts {
			case kafka.FirstOffset:
				out[tp] = p.FirstOffset
			case kafka.LastOffset:
				out[tp] = p.LastOffset
			default:
				for off := range p.Offsets {
					if off >= 0 {
						out[tp] = off
					}
				}
			}
		}
	}
	return out, nil
}

// decodeAssignment reads a ConsumerProtocolAssignment (version, topics with partitions, user
// data); anything unreadable is an empty assignment.
func decodeAssignment(b []byte) []TopicPartition {
	if len(b) < 6 {
		return nil
	}
	n := int(int32(binary.BigEndian.Uint32(b[2:])))
	b = b[6:]
	var out []TopicPartition
	for i := 0; i < n; i++ {
		if len(b) < 2 {
			return nil
		}
		l := int(int16(binary.BigEndian.Uint16(b)))
		if l < 0 || len(b) < 2+l+4 {
			return nil
		}
		topic := string(b[2 : 2+l])
		b = b[2+l:]
		np := int(int32(binary.BigEndian.Uint32(b)))
		b = b[4:]
		if np < 0 || len(b) < 4*np {
			return nil
		}
		for j := 0; j < np; j++ {
			out = append(out, TopicPartition{topic, int(int32(binary.BigEndian.Uint32(b[4*j:])))})
		}
		b = b[4*np:]
	}
	return out
}

// DeleteGroups deletes groups; the map holds each group's error (nil: deleted).
func DeleteGroups(ctx context.Context, brokers []string, groups []string) (map[string]error, error) {
	resp, err := client(brokers).DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: groups})
	if err != nil {
		return nil, err
	}
	out := map[string]error{}
	for _, g := range groups {
		out[g] = resp.Errors[g]
	}
	return out, nil
}

// DeleteOffsetsResult is an OffsetDelete's answer: a group-level error, or one per partition.
type DeleteOffsetsResult struct {
	GroupErr   error
	Partitions map[TopicPartition]error
}

// DeleteOffsets deletes a group's committed offsets of partitions (OffsetDelete).
func DeleteOffsets(ctx context.Context, brokers []string, group string, tps []TopicPartition) (DeleteOffsetsResult, error) {
	req := &kafka.OffsetDeleteRequest{GroupID: group, Topics: map[string][]int{}}
	for _, tp := range tps {
		req.Topics[tp.Topic] = append(req.Topics[tp.Topic], tp.Partition)
	}
	resp, err := client(brokers).OffsetDelete(ctx, req)
	if err != nil {
		return DeleteOffsetsResult{}, err
	}
	out := DeleteOffsetsResult{GroupErr: resp.Error, Partitions: map[TopicPartition]error{}}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			out.Partitions[TopicPartition{topic, p.Partition}] = p.Error
		}
	}
	return out, nil
}

// ResetSpec is a --reset-offsets scenario: exactly one of the fields after Scope is used.
type ResetSpec struct {
	ToEarliest bool
	ToLatest   bool
	ToCurrent  bool
	ToOffset   *int64
	ShiftBy    *int64
	ToDatetime *time.Time
}

// PlanReset computes the new offsets of a reset as kafka-consumer-groups.sh does: to-offset and
// shift-by are clamped into [log start, log end]; to-datetime takes the first offset at or
// after the time, or the log end if there is none; shift-by needs a committed offset.
func PlanReset(ctx context.Context, brokers []string, group string, tps []TopicPartition, spec ResetSpec) (map[TopicPartition]int64, error) {
	cl := client(brokers)
	out := map[TopicPartition]int64{}
	if len(tps) == 0 {
		return out, nil
	}
	starts, err := listOffsets(ctx, cl, tps, kafka.FirstOffset)
	if err != nil {
		return nil, err
	}
	ends, err := listOffsets(ctx, cl, tps, kafka.LastOffset)
	if err != nil {
		return nil, err
	}
	clamp := func(tp TopicPartition, off int64) (int64, error) {
		end, ok1 := ends[tp]
		start, ok2 := starts[tp]
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("no offsets for partition %s-%d", tp.Topic, tp.Partition)
		}
		return min(max(off, start), end), nil
	}
	var committed map[TopicPartition]int64
	if spec.ShiftBy != nil || spec.ToCurrent {
		if committed, err = CommittedOffsets(ctx, brokers, group); err != nil {
			return nil, err
		}
	}
	var byTime map[TopicPartition]int64
	if spec.ToDatetime != nil {
		if byTime, err = listOffsets(ctx, cl, tps, spec.ToDatetime.UnixMilli()); err != nil {
			return nil, err
		}
	}
	for _, tp := range tps {
		var off int64
		switch {
		case spec.ToEarliest:
			o, ok := starts[tp]
			if !ok {
				return nil, fmt.Errorf("Error getting starting offset of topic partition: %s-%d", tp.Topic, tp.Partition)
			}
			off = o
		case spec.ToLatest:
			o, ok := ends[tp]
			if !ok {
				return nil, fmt.Errorf("Error getting ending offset of topic partition: %s-%d", tp.Topic, tp.Partition)
			}
			off = o
		case spec.ToCurrent:
			o, ok := committed[tp]
			if !ok {
				o, ok = ends[tp]
			}
			if !ok {
				return nil, fmt.Errorf("Error getting ending offset of topic partition: %s-%d", tp.Topic, tp.Partition)
			}
			off = o
		case spec.ToOffset != nil:
			if off, err = clamp(tp, *spec.ToOffset); err != nil {
				return nil, err
			}
		case spec.ShiftBy != nil:
			cur, ok := committed[tp]
			if !ok {
				return nil, fmt.Errorf("Cannot shift offset for partition %s-%d since there is no current committed offset", tp.Topic, tp.Partition)
			}
			if off, err = clamp(tp, cur+*spec.ShiftBy); err != nil {
				return nil, err
			}
		case spec.ToDatetime != nil:
			o, ok := byTime[tp]
			if !ok {
				if o, ok = ends[tp]; !ok {
					return nil, fmt.Errorf("Error getting offset by timestamp of topic partition: %s-%d", tp.Topic, tp.Partition)
				}
			}
			off = o
		default:
			return nil, errors.New("no reset scenario")
		}
		out[tp] = off
	}
	return out, nil
}

// CommitOffsets commits offsets for a group from outside it (generation -1, no member id), as
// the admin client's alterConsumerGroupOffsets does; the group must have no members.
func CommitOffsets(ctx context.Context, brokers []string, group string, offsets map[TopicPartition]int64) error {
	req := &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{}}
	for tp, off := range offsets {
		req.Topics[tp.Topic] = append(req.Topics[tp.Topic], kafka.OffsetCommit{Partition: tp.Partition, Offset: off})
	}
	resp, err := client(brokers).OffsetCommit(ctx, req)
	if err != nil {
		return err
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("commit %s-%d: %w", topic, p.Partition, p.Error)
			}
		}
	}
	return nil
}

// TopicPartitions expands topics to their partitions (from Metadata).
func TopicPartitions(ctx context.Context, brokers []string, topics []string) ([]TopicPartition, error) {
	md, err := client(brokers).Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	var out []TopicPartition
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			out = append(out, TopicPartition{t.Name, p.ID})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}
