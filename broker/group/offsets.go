package group

import (
	"context"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
)

// CommitRequest is one OffsetCommit. GenerationID -1 with an empty MemberID is a commit from
// outside group management (admin tools, standalone consumers), allowed for an empty group.
type CommitRequest struct {
	GroupID      string
	MemberID     string
	InstanceID   *string
	GenerationID int32
	Offsets      []CommitOffset
}

// CommitOffset is one partition's commit.
type CommitOffset struct {
	TP klog.TopicPartition
	Offset
}

// CommitOffsets stores the offsets in __consumer_offsets, one batch for the request, and answers
// once the write is acknowledged with offsets.commit.required.acks. The result has one error per
// requested partition, in request order.
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) []error {
	errs := make([]error, len(req.Offsets))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if err := c.validate(req.GroupID, apiCommit); err != nil {
		return fail(err)
	}
	g := c.getGroup(req.GroupID)
	if g == nil {
		if req.GenerationID >= 0 {
			// A generation of a group that does not exist (any more): an old member.
			return fail(ErrIllegalGeneration)
		}
		if g = c.getOrCreateGroup(req.GroupID, true); g == nil {
			return fail(ErrNotCoordinator)
		}
	}
	g.mu.Lock()
	if err := g.validateCommitLocked(req); err != nil {
		g.mu.Unlock()
		return fail(err)
	}
	switch g.state {
	case CompletingRebalance:
		// The member has its new generation but no assignment yet: let it finish the rebalance.
		g.mu.Unlock()
		return fail(ErrRebalanceInProgress)
	case Stable, PreparingRebalance:
		// Commits are allowed while preparing: the member learns of the rebalance from its next
		// heartbeat.
		m := g.members[req.MemberID]
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
	}
	// One record per partition, the last commit of a partition winning; oversized metadata is
	// answered OFFSET_METADATA_TOO_LARGE and not written.
	last := map[klog.TopicPartition]int{}
	for i, o := range req.Offsets {
		if len(o.Metadata) > int(c.o.Config.MetadataMaxBytes) {
			errs[i] = ErrOffsetMetadataTooLarge
			continue
		}
		last[o.TP] = i
	}
	if len(last) == 0 {
		g.mu.Unlock()
		return errs
	}
	var recs []kv
	var written []CommitOffset
	for i, o := range req.Offsets {
		if errs[i] != nil || last[o.TP] != i {
			continue
		}
		recs = append(recs, kv{offsetKey(g.id, o.TP), offsetValue(o.Offset)})
		written = append(written, o)
		g.pendingCommits[o.TP]++
	}
	done := make(chan error, 1)
	c.appendLocked(g, buildBatch(c.nowMs(), recs), func(res replica.ProduceResult) {
		err := commitError(res.Err)
		g.mu.Lock()
		for i, o := range written {
			n, pending := g.pendingCommits[o.TP]
			if !pending {
				continue // the offset was deleted while its write was in flight
			}
			if n <= 1 {
				delete(g.pendingCommits, o.TP)
			} else {
				g.pendingCommits[o.TP] = n - 1
			}
			if err != nil || g.is(Dead) {
				continue
			}
			logOffset := res.BaseOffset + int64(i)
			if cur, ok := g.offsets[o.TP]; !ok || cur.logOffset < logOffset {
				g.offsets[o.TP] = committed{Offset: o.Offset, logOffset: logOffset}
			}
		}
		g.mu.Unlock()
		done <- err
	})
	g.mu.Unlock()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ErrRequestTimedOut
	}
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

// validateCommitLocked is Kafka's validateOffsetCommit.
func (g *Group) validateCommitLocked(req CommitRequest) error {
	switch {
	case g.is(Dead):
		return ErrCoordinatorNotAvailable
	case req.GenerationID >= 0 || req.MemberID != "" || req.InstanceID != nil:
		switch {
		case g.staticMemberFenced(req.MemberID, req.InstanceID):
			return ErrFencedInstanceID
		case !g.has(req.MemberID):
			return ErrUnknownMemberID
		case req.GenerationID != g.generation:
			return ErrIllegalGeneration
		}
	case !g.is(Empty):
		// Only members commit to a group that has members.
		return ErrUnknownMemberID
	}
	return nil
}

// FetchedOffset is one partition of an OffsetFetch answer; Offset -1 means none committed.
type FetchedOffset struct {
	TP          klog.TopicPartition
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         error
}

// FetchOffsets returns the group's committed offsets for tps (nil: every partition it has an
// offset for), whatever the group's state: groups may use Kafka only to store offsets. With
// requireStable a partition with a commit in flight answers UNSTABLE_OFFSET_COMMIT.
func (c *Coordinator) FetchOffsets(groupID string, requireStable bool, tps []klog.TopicPartition) ([]FetchedOffset, error) {
	if err := c.validate(groupID, apiFetch); err != nil {
		return nil, err
	}
	none := func(tp klog.TopicPartition) FetchedOffset {
		return FetchedOffset{TP: tp, Offset: -1, LeaderEpoch: -1}
	}
	g := c.getGroup(groupID)
	out := make([]FetchedOffset, 0, len(tps))
	if g == nil {
		for _, tp := range tps {
			out = append(out, none(tp))
		}
		return out, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.is(Dead) {
		for _, tp := range tps {
			out = append(out, none(tp))
		}
		return out, nil
	}
	if tps == nil {
		tps = g.sortedOffsetPartitions()
	}
	for _, tp := range tps {
		switch co, ok := g.offset(tp); {
		case requireStable && g.pendingCommits[tp] > 0:
			f := none(tp)
			f.Err = ErrUnstableOffsetCommit
			out = append(out, f)
		case !ok:
			out = append(out, none(tp))
		default:
			out = append(out, FetchedOffset{TP: tp, Offset: co.Offset.Offset, LeaderEpoch: co.LeaderEpoch, Metadata: co.Metadata})
		}
	}
	return out, nil
}

// DeleteOffsets removes committed offsets (Kafka's handleDeleteOffsets): any of an empty group;
// of a consumer group with members only those of topics it is not subscribed to
// (GROUP_SUBSCRIBED_TO_TOPIC for the others). It returns one error per requested partition, or
// a group-level error (and no partition errors).
func (c *Coordinator) DeleteOffsets(ctx context.Context, groupID string, tps []klog.TopicPartition) ([]error, error) {
	if err := c.validate(groupID, apiOffsetDelete); err != nil {
		return nil, err
	}
	g := c.getGroup(groupID)
	if g == nil {
		return nil, c.missingGroupError(groupID)
	}
	errs := make([]error, len(tps))
	var eligible []klog.TopicPartition
	g.mu.Lock()
	switch {
	case g.is(Dead):
		g.mu.Unlock()
		return nil, c.missingGroupError(groupID)
	case g.is(Empty):
		eligible = tps
	case g.protocolType != nil && *g.protocolType == consumerProtocolType:
		for i, tp := range tps {
			if g.subscribedKnown && g.subscribed[tp.Topic] {
				errs[i] = ErrGroupSubscribedToTopic
			} else {
				eligible = append(eligible, tp)
			}
		}
	default:
		g.mu.Unlock()
		return nil, ErrNonEmptyGroup
	}
	g.mu.Unlock()
	if len(eligible) > 0 {
		c.cleanupGroup(ctx, g, func(g *Group) []klog.TopicPartition { return g.removeOffsets(eligible) })
	}
	return errs, nil
}

// missingGroupError: GROUP_ID_NOT_FOUND when this broker coordinates the group, else
// NOT_COORDINATOR.
func (c *Coordinator) missingGroupError(groupID string) error {
	if c.groupNotExists(groupID) {
		return ErrGroupIDNotFound
	}
	return ErrNotCoordinator
}

// removeOffsets drops offsets (and forgets commits in flight for them); it returns those that
// had an offset, which get tombstones.
func (g *Group) removeOffsets(tps []klog.TopicPartition) []klog.TopicPartition {
	var removed []klog.TopicPartition
	for _, tp := range tps {
		delete(g.pendingCommits, tp)
		if _, ok := g.offsets[tp]; ok {
			delete(g.offsets, tp)
			removed = append(removed, tp)
		}
	}
	return removed
}

// removeAllOffsets drops every offset.
func (g *Group) removeAllOffsets() []klog.TopicPartition {
	return g.removeOffsets(g.sortedOffsetPartitions())
}

// cleanupGroup is Kafka's cleanupGroupMetadata for one group: remove offsets with selector, turn
// an empty group without offsets Dead, and write tombstones for the removed offsets (and the
// group, once it ever had a generation) — waiting for the write, whose failure is only logged,
// as in Kafka. It returns how many offsets were removed.
func (c *Coordinator) cleanupGroup(ctx context.Context, g *Group, selector func(*Group) []klog.TopicPartition) int {
	g.mu.Lock()
	removed := selector(g)
	if g.is(Empty) && !g.hasOffsets() {
		c.logger(g).WithField("generation", g.generation).Info("group has no offsets left; it is dead")
		g.transition(Dead, c.nowMs())
	}
	dead := g.is(Dead)
	var recs []kv
	for _, tp := range removed {
		recs = append(recs, kv{offsetKey(g.id, tp), nil})
	}
	if dead && g.generation > 0 {
		// A group that only stored offsets (generation 0) never had a metadata record.
		recs = append(recs, kv{groupKey(g.id), nil})
	}
	var done chan struct{}
	if len(recs) > 0 {
		done = make(chan struct{})
		c.appendLocked(g, buildBatch(c.nowMs(), recs), func(res replica.ProduceResult) {
			if res.Err != nil {
				c.log.WithError(res.Err).WithField("group", g.id).Warn("writing tombstones failed")
			}
			close(done)
		})
	}
	g.mu.Unlock()
	if dead {
		c.removeGroup(g)
	}
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	return len(removed)
}
