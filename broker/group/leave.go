package group

// LeaveMember is one member of a LeaveGroup (v3+ batch members; v0–v2 one member id).
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     string
}

// LeaveGroup removes members (Kafka's handleLeaveGroup): one error per member, or a
// request-level error (and no member errors).
func (c *Coordinator) LeaveGroup(groupID string, members []LeaveMember) ([]error, error) {
	if err := c.validate(groupID, apiLeave); err != nil {
		return nil, err
	}
	errs := make([]error, len(members))
	g := c.getGroup(groupID)
	if g == nil {
		for i := range errs {
			errs[i] = ErrUnknownMemberID
		}
		return errs, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.is(Dead) {
		return nil, ErrCoordinatorNotAvailable
	}
	for i, lm := range members {
		switch {
		case lm.MemberID != "" && g.staticMemberFenced(lm.MemberID, lm.InstanceID):
			errs[i] = ErrFencedInstanceID
		case g.isPending(lm.MemberID):
			g.remove(lm.MemberID)
			if g.is(PreparingRebalance) {
				c.tryCompleteJoinLocked(g)
			}
		case !g.has(lm.MemberID) && !g.hasStaticMember(lm.InstanceID):
			errs[i] = ErrUnknownMemberID
		default:
			id := lm.MemberID
			if g.hasStaticMember(lm.InstanceID) {
				id = g.static[*lm.InstanceID]
			}
			m := g.members[id]
			c.logger(g).WithField("member", id).Info("member left the group")
			c.removeMemberAndUpdateGroupLocked(g, m, "member "+id+" left")
		}
	}
	return errs, nil
}
