package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// alterISR passes a partition leader's ISR change (AlterIsr, key 56, v0 as Kafka 2.8 brokers
// send it) to the controller module, which validates and writes it; a broker that is not the
// active controller answers NOT_CONTROLLER and the leader looks for the controller again.
func (h *Handler) alterISR(ctx context.Context, r *network.Request, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	if !h.o.Controller.IsActive() {
		resp := kmsg.NewPtrAlterPartitionResponse()
		resp.SetVersion(r.Version)
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	resp := h.o.Controller.AlterISR(ctx, req)
	resp.SetVersion(r.Version)
	return resp
}
