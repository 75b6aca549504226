package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// groupAuthorizedOps: READ, DELETE and DESCRIBE, every operation on a group, as Kafka answers
// without an authorizer.
const groupAuthorizedOps = 1<<3 | 1<<6 | 1<<8

// describeGroups describes each group: state, protocol, members (with metadata and assignment
// once Stable). A group the coordinator does not know is "Dead"; a coordinator error leaves
// everything empty, as Kafka's EmptyGroup. v3+ report authorized operations when asked, v4+
// instance ids.
func (h *Handler) describeGroups(r *network.Request, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.SetVersion(r.Version)
	for _, id := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		rg.AuthorizedOperations = authorizedOpsOmitted
		s, err := h.o.Groups.DescribeGroup(id)
		rg.ErrorCode = ErrorCode(err)
		if err == nil {
			rg.State, rg.ProtocolType, rg.Protocol = s.State, s.ProtocolType, s.Protocol
			if req.IncludeAuthorizedOperations && r.Version >= 3 {
				rg.AuthorizedOperations = groupAuthorizedOps
			}
			for _, m := range s.Members {
				rm := kmsg.NewDescribeGroupsResponseGroupMember()
				rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
				rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
				rg.Members = append(rg.Members, rm)
			}
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
