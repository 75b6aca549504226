package group

import "errors"

// HeartbeatRequest is one Heartbeat.
type HeartbeatRequest struct {
	GroupID      string
	MemberID     string
	InstanceID   *string
	GenerationID int32
}

// Heartbeat renews a member's session (Kafka's handleHeartbeat). REBALANCE_IN_PROGRESS tells a
// member of a preparing group to rejoin; its session is renewed all the same.
func (c *Coordinator) Heartbeat(req HeartbeatRequest) error {
	if err := c.validate(req.GroupID, apiHeartbeat); err != nil {
		if isLoadInProgress(err) {
			return nil // the group is being loaded: the member is fine for now
		}
		return err
	}
	g := c.getGroup(req.GroupID)
	if g == nil {
		return ErrUnknownMemberID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.is(Dead):
		return ErrCoordinatorNotAvailable
	case g.staticMemberFenced(req.MemberID, req.InstanceID):
		return ErrFencedInstanceID
	case !g.has(req.MemberID):
		return ErrUnknownMemberID
	case req.GenerationID != g.generation:
		return ErrIllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		return ErrUnknownMemberID
	case PreparingRebalance:
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
		return ErrRebalanceInProgress
	default: // CompletingRebalance (heartbeats may start right after the join answer), Stable
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
		return nil
	}
}

// scheduleHeartbeatLocked is Kafka's completeAndScheduleNextHeartbeatExpiration: the member is
// alive now; it must be heard from again within timeoutMs.
func (c *Coordinator) scheduleHeartbeatLocked(g *Group, m *member, timeoutMs int32) {
	m.stopHeartbeat()
	m.heartbeatSatisfied = false
	seq, id := m.hbSeq, m.id
	m.hbTimer = c.clock.AfterFunc(msDur(timeoutMs), func() { c.onHeartbeatExpired(g, id, seq) })
}

// onHeartbeatExpired removes a member whose session ran out, unless it is parked in a rebalance.
func (c *Coordinator) onHeartbeatExpired(g *Group, id string, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.is(Dead) {
		return
	}
	m := g.members[id]
	if m == nil || m.hbSeq != seq {
		return // left, replaced, or heard from since this timer was armed
	}
	m.hbTimer = nil
	if m.hasSatisfiedHeartbeat() {
		return
	}
	c.logger(g).WithField("member", id).Info("member's session expired; removing it")
	c.removeMemberAndUpdateGroupLocked(g, m, "session timeout of member "+id)
}

func isLoadInProgress(err error) bool { return errors.Is(err, ErrCoordinatorLoadInProgress) }
