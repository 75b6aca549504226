package api

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/network"
)

// joinGroup hands a JoinGroup to the coordinator and waits for its answer, which for a
// rebalancing group comes when the rebalance completes. v0 has no rebalance timeout (the
// session timeout is used, as Kafka does); v4+ dynamic members first get MEMBER_ID_REQUIRED;
// v5+ carry the static group.instance.id; v7+ answer the protocol type and a nullable protocol
// name; v9 lets a static leader that rejoins a stable group skip the assignment (KIP-814). The client host is reported as Kafka's InetAddress.toString: "/<ip>".
func (h *Handler) joinGroup(ctx context.Context, r *network.Request, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.SetVersion(r.Version)
	rebalance := req.RebalanceTimeoutMillis
	if r.Version == 0 {
		rebalance = req.SessionTimeoutMillis
	}
	protocols := make([]group.Protocol, len(req.Protocols))
	for i, p := range req.Protocols {
		protocols[i] = group.Protocol{Name: p.Name, Metadata: p.Metadata}
	}
	jr := group.JoinRequest{GroupID: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID,
		RequireKnownMemberID: r.Version >= 4 && req.InstanceID == nil,
		ClientID:             r.ClientID, ClientHost: clientHost(r.RemoteAddr),
		RebalanceTimeoutMs: rebalance, SessionTimeoutMs: req.SessionTimeoutMillis,
		ProtocolType: req.ProtocolType, Protocols: protocols, SupportsSkipAssignment: r.Version >= 9}
	if req.Reason != nil {
		jr.Reason = *req.Reason
	}
	res := h.o.Groups.JoinGroup(ctx, jr)
	resp.ErrorCode = ErrorCode(res.Err)
	resp.Generation = res.GenerationID
	resp.ProtocolType = res.ProtocolType
	resp.Protocol = res.ProtocolName
	resp.LeaderID = res.LeaderID
	resp.MemberID = res.MemberID
	resp.SkipAssignment = res.SkipAssignment
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

// clientHost is how Kafka prints a client's address in group descriptions.
func clientHost(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return "/" + ta.IP.String()
	}
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return "/" + a.String()
	}
	return "/" + host
}
