package api

import "github.com/twmb/franz-go/pkg/kerr"

// checkControllerRequest applies the two fences every controller → broker request passes, in
// Kafka's order: the broker epoch (a request addressed to an earlier registration of this
// broker — before a ZooKeeper session expiry — is STALE_BROKER_EPOCH; -1 means the version has
// no broker epoch) and the controller epoch (a request from a controller older than the newest
// one seen is STALE_CONTROLLER_EPOCH). On success the controller epoch is recorded.
// Caller holds h.stateMu.
func (h *Handler) checkControllerRequest(brokerEpoch int64, controllerEpoch int32) error {
	if brokerEpoch != -1 && h.o.BrokerEpoch != nil && brokerEpoch < h.o.BrokerEpoch() {
		return kerr.StaleBrokerEpoch
	}
	if controllerEpoch < h.controllerEpoch {
		return kerr.StaleControllerEpoch
	}
	h.controllerEpoch = controllerEpoch
	return nil
}
