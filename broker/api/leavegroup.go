package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/network"
)

// leaveGroup removes members from a group. v0–v2 name one member and answer its error at the
// top level; v3+ (KIP-345) batch members, by member id or instance id, each with its own error,
// and a request-level error lists no members, as Kafka does.
func (h *Handler) leaveGroup(r *network.Request, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.SetVersion(r.Version)
	var members []group.LeaveMember
	if r.Version < 3 {
		members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			lm := group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID}
			if m.Reason != nil {
				lm.Reason = *m.Reason
			}
			members = append(members, lm)
		}
	}
	errs, err := h.o.Groups.LeaveGroup(req.Group, members)
	resp.ErrorCode = ErrorCode(err)
	if err != nil {
		return resp
	}
	if r.Version < 3 {
		resp.ErrorCode = ErrorCode(errs[0])
		return resp
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, ErrorCode(errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
