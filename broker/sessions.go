package broker

import (
	"time"

	"github.com/gregor-broker/gregor/zkmeta"
)

// sessionLoop reacts to ZooKeeper session changes (DESIGN.md decision 6): when the session
// expires the controller resigns (its fencing would fail anyway); when a new session is
// established the broker re-registers — its ephemeral znode died with the old session, and the
// new czxid is its new broker epoch — re-arms the config-change watch and lets the controller
// watch and elect again. Stopped by Broker.stop.
func (b *Broker) sessionLoop() {
	defer b.wg.Done()
	events := b.zk.Sessions()
	for {
		select {
		case <-b.stop:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev {
			case zkmeta.SessionExpired:
				b.log.Warn("ZooKeeper session expired; resigning controllership until a new session is established")
				b.ctrl.OnSessionExpired()
			case zkmeta.SessionEstablished:
				b.log.Info("new ZooKeeper session; registering again")
				if !b.reregister() {
					return
				}
				select {
				case b.rearmWatch <- struct{}{}:
				default: // a re-arm is already pending
				}
				b.ctrl.OnSessionEstablished()
			}
		}
	}
}

// reregister retries the registration until it succeeds (true) or the broker stops (false).
func (b *Broker) reregister() bool {
	backoff := 100 * time.Millisecond
	for {
		err := b.register()
		if err == nil {
			return true
		}
		b.log.WithError(err).Warnf("re-registration failed; retrying in %v", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-b.stop:
			t.Stop()
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
