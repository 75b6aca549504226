package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/network"
)

// syncGroup hands a SyncGroup to the coordinator and waits for the member's assignment, which
// for followers comes once the leader's assignment is stored. v3+ carry the instance id, v5+
// the protocol type and name, which must match the group's.
func (h *Handler) syncGroup(ctx context.Context, r *network.Request, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.SetVersion(r.Version)
	assignments := make(map[string][]byte, len(req.GroupAssignment))
	for _, a := range req.GroupAssignment {
		assignments[a.MemberID] = a.MemberAssignment
	}
	res := h.o.Groups.SyncGroup(ctx, group.SyncRequest{GroupID: req.Group, MemberID: req.MemberID,
		InstanceID: req.InstanceID, GenerationID: req.Generation, ProtocolType: req.ProtocolType,
		ProtocolName: req.Protocol, Assignments: assignments})
	resp.ErrorCode = ErrorCode(res.Err)
	resp.ProtocolType, resp.Protocol = res.ProtocolType, res.ProtocolName
	resp.MemberAssignment = res.Assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}
