package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// deleteGroups deletes empty groups and their offsets (tombstones in __consumer_offsets);
// groups with members answer NON_EMPTY_GROUP, unknown ones GROUP_ID_NOT_FOUND.
func (h *Handler) deleteGroups(ctx context.Context, r *network.Request, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.SetVersion(r.Version)
	for i, err := range h.o.Groups.DeleteGroups(ctx, req.Groups) {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = req.Groups[i], ErrorCode(err)
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
