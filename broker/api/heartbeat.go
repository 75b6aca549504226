package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/network"
)

// heartbeat renews a member's session with the coordinator; REBALANCE_IN_PROGRESS tells it to
// rejoin. v3+ carry the instance id.
func (h *Handler) heartbeat(r *network.Request, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.SetVersion(r.Version)
	resp.ErrorCode = ErrorCode(h.o.Groups.Heartbeat(group.HeartbeatRequest{GroupID: req.Group,
		MemberID: req.MemberID, InstanceID: req.InstanceID, GenerationID: req.Generation}))
	return resp
}
