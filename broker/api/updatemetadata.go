package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// updateMetadata applies the controller's cluster view to the metadata cache (which wakes the
// admin requests waiting on it), after the broker- and controller-epoch fences.
func (h *Handler) updateMetadata(r *network.Request, req *kmsg.UpdateMetadataRequest) *kmsg.UpdateMetadataResponse {
	resp := kmsg.NewPtrUpdateMetadataResponse()
	resp.SetVersion(r.Version)
	h.stateMu.Lock()
	defer h.stateMu.Unlock()
	if err := h.checkControllerRequest(req.BrokerEpoch, req.ControllerEpoch); err != nil {
		h.reqLog(r).WithError(err).Warnf("rejecting UpdateMetadata from controller %d epoch %d", req.ControllerID, req.ControllerEpoch)
		resp.ErrorCode = ErrorCode(err)
		return resp
	}
	deleted := h.o.Cache.Update(req)
	if len(deleted) > 0 {
		h.log.Debugf("metadata: %d partition(s) removed (topic deletion)", len(deleted))
	}
	return resp
}
