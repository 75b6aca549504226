package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// listGroups lists the groups this broker coordinates (clients ask every broker), filtered by
// state from v4 (KIP-518). While a partition loads the error is COORDINATOR_LOAD_IN_PROGRESS,
// with the groups known so far.
func (h *Handler) listGroups(r *network.Request, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := kmsg.NewPtrListGroupsResponse()
	resp.SetVersion(r.Version)
	var states []string
	if r.Version >= 4 {
		states = req.StatesFilter
	}
	groups, err := h.o.Groups.ListGroups(states)
	resp.ErrorCode = ErrorCode(err)
	for _, g := range groups {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState = g.GroupID, g.ProtocolType, g.State
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
