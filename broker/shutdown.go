package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/interbroker"
)

// controlledShutdownVersion is the ControlledShutdown version Kafka 2.8 brokers send.
const controlledShutdownVersion = 3

// controlledShutdown asks the controller to move leadership off this broker before it stops
// serving (controlled.shutdown.enable), Kafka's KafkaServer.controlledShutdown: up to
// controlled.shutdown.max.retries attempts, controlled.shutdown.retry.backoff.ms apart, until
// the controller answers that no replicated partition is left here. Clients meanwhile get
// NOT_LEADER_OR_FOLLOWER and find the new leaders; nothing acknowledged waits on this broker.
// The network is still open, so the controller's requests (and this broker's own controller,
// if it is the one) reach it. It returns whether the shutdown was clean.
func (b *Broker) controlledShutdown() bool {
	if !b.cfg.ControlledShutdownEnable || b.cache == nil || b.server == nil {
		return false
	}
	log := b.log.WithField("phase", "controlled shutdown")
	backoff := msDuration(b.cfg.ControlledShutdownRetryBackoffMs)
	attempts := int(b.cfg.ControlledShutdownMaxRetries)
	for attempt := 1; ; attempt++ {
		remaining, err := b.askControlledShutdown()
		switch {
		case err == nil && remaining == 0:
			log.WithField("attempt", attempt).Info("controlled shutdown succeeded: no partition left to lead")
			return true
		case err == nil:
			err = fmt.Errorf("the controller could not move %d partition(s) yet", remaining)
		}
		if attempt > attempts {
			log.WithError(err).Warn("controlled shutdown did not complete; shutting down anyway")
			return false
		}
		log.WithError(err).WithField("attempt", attempt).Info("retrying controlled shutdown")
		t := time.NewTimer(backoff)
		<-t.C
	}
}

// askControlledShutdown sends one ControlledShutdown to the current controller and returns how
// many replicated partitions this broker still leads.
func (b *Broker) askControlledShutdown() (int, error) {
	id, addr, ok := b.controllerEndpoint()
	if !ok {
		return 0, fmt.Errorf("no controller known")
	}
	timeout := msDuration(int64(b.cfg.ControllerSocketTimeoutMs))
	conn := interbroker.NewConn(id, addr, interbroker.Options{
		ClientID: fmt.Sprintf("broker-%d-controlled-shutdown", b.cfg.BrokerID), RequestTimeout: timeout, Logger: b.log})
	defer conn.Close()
	req := kmsg.NewPtrControlledShutdownRequest()
	req.Version = controlledShutdownVersion
	req.BrokerID, req.BrokerEpoch = b.cfg.BrokerID, b.epoch.Load()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := conn.RoundTrip(ctx, req)
	if err != nil {
		return 0, err
	}
	r := resp.(*kmsg.ControlledShutdownResponse)
	if r.ErrorCode != 0 {
		return 0, fmt.Errorf("controller %d: %w", id, kerr.ErrorForCode(r.ErrorCode))
	}
	return len(r.PartitionsRemaining), nil
}
