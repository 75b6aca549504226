package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// describeCluster (v0) lists the live brokers reachable on the request's listener, the
// controller and the cluster id, like Metadata's header.
func (h *Handler) describeCluster(ctx context.Context, r *network.Request, req *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.SetVersion(r.Version)
	snap := h.snapshot(ctx)
	resp.ClusterID = h.o.ClusterID
	resp.ControllerID = snap.ControllerID
	for _, b := range snap.Brokers() {
		ep, ok := b.Endpoint(r.Listener)
		if !ok {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, ep.Host, ep.Port, b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAuthorizedOps
	}
	return resp
}
