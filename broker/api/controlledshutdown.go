package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// controlledShutdown passes a broker's ControlledShutdown (key 7; v1–v3 — v0's request header
// has no client id, which only pre-0.9 brokers sent) to the controller module; a broker that is
// not the active controller answers NOT_CONTROLLER and the shutting-down broker asks again.
func (h *Handler) controlledShutdown(ctx context.Context, r *network.Request, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse {
	resp := kmsg.NewPtrControlledShutdownResponse()
	resp.SetVersion(r.Version)
	if !h.o.Controller.IsActive() {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	epoch := int64(-1)
	if r.Version >= 2 {
		epoch = req.BrokerEpoch
	}
	resp.PartitionsRemaining, resp.ErrorCode = h.o.Controller.ControlledShutdown(ctx, req.BrokerID, epoch)
	return resp
}
