package group

import (
	"context"
	"sort"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// GroupOverview is one group of a ListGroups answer.
type GroupOverview struct {
	GroupID      string
	ProtocolType string
	State        string
}

// ListGroups lists the groups this broker coordinates, those in one of states if any are given
// (Kafka's handleListGroups). While a partition loads the answer is COORDINATOR_LOAD_IN_PROGRESS
// with the groups known so far.
func (c *Coordinator) ListGroups(states []string) ([]GroupOverview, error) {
	c.mu.RLock()
	if !c.active {
		c.mu.RUnlock()
		return nil, ErrCoordinatorNotAvailable
	}
	var err error
	for _, st := range c.partitions {
		if st.loading {
			err = ErrCoordinatorLoadInProgress
		}
	}
	groups := make([]*Group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.RUnlock()
	want := map[string]bool{}
	for _, s := range states {
		want[s] = true
	}
	out := make([]GroupOverview, 0, len(groups))
	for _, g := range groups {
		g.mu.Lock()
		o := GroupOverview{GroupID: g.id, State: g.state.String()}
		if g.protocolType != nil {
			o.ProtocolType = *g.protocolType
		}
		dead := g.is(Dead)
		g.mu.Unlock()
		if dead || (len(want) > 0 && !want[o.State]) {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupID < out[j].GroupID })
	return out, err
}

// MemberSummary is one member in DescribeGroups.
type MemberSummary struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte // its metadata for the selected protocol; empty unless Stable
	Assignment []byte // empty unless Stable
}

// GroupSummary is one group in DescribeGroups (Kafka's GroupSummary): an unknown group is
// "Dead" with nothing else.
type GroupSummary struct {
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberSummary
}

// DescribeGroup summarises a group (Kafka's handleDescribeGroup).
func (c *Coordinator) DescribeGroup(groupID string) (GroupSummary, error) {
	if err := c.validate(groupID, apiDescribe); err != nil {
		return GroupSummary{}, err
	}
	g := c.getGroup(groupID)
	if g == nil {
		return GroupSummary{State: Dead.String()}, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := GroupSummary{State: g.state.String()}
	if g.protocolType != nil {
		s.ProtocolType = *g.protocolType
	}
	stable := g.is(Stable) && g.protocol != nil
	if stable {
		s.Protocol = *g.protocol
	}
	for _, m := range g.membersInOrder() {
		ms := MemberSummary{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			Metadata: []byte{}, Assignment: []byte{}}
		if stable {
			if md := m.metadata(*g.protocol); md != nil {
				ms.Metadata = md
			}
			if m.assignment != nil {
				ms.Assignment = m.assignment
			}
		}
		s.Members = append(s.Members, ms)
	}
	return s, nil
}

// DeleteGroups deletes empty groups with their offsets (Kafka's handleDeleteGroups): one error
// per requested group, in order.
func (c *Coordinator) DeleteGroups(ctx context.Context, ids []string) []error {
	errs := make([]error, len(ids))
	var eligible []*Group
	for i, id := range ids {
		if err := c.validate(id, apiDelete); err != nil {
			errs[i] = err
			continue
		}
		g := c.getGroup(id)
		if g == nil {
			errs[i] = c.missingGroupError(id)
			continue
		}
		g.mu.Lock()
		switch g.state {
		case Dead:
			g.mu.Unlock()
			errs[i] = c.missingGroupError(id)
			continue
		case Empty:
			g.transition(Dead, c.nowMs())
			eligible = append(eligible, g)
		default:
			errs[i] = ErrNonEmptyGroup
		}
		g.mu.Unlock()
	}
	for _, g := range eligible {
		n := c.cleanupGroup(ctx, g, (*Group).removeAllOffsets)
		c.log.WithField("group", g.id).WithField("offsets", n).Info("deleted group")
	}
	return errs
}

// offsetsOf is for tests and benchmarks: the committed offsets of a group as the cache has them.
func (c *Coordinator) offsetsOf(groupID string) map[klog.TopicPartition]int64 {
	g := c.getGroup(groupID)
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[klog.TopicPartition]int64{}
	for tp, co := range g.offsets {
		out[tp] = co.Offset.Offset
	}
	return out
}
