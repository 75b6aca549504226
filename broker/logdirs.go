package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Log-dir failures, Kafka's LogDirFailureHandler (KIP-112): the log manager reports each log
// directory whose disk failed once on DirFailures; logDirFailureLoop takes its partitions
// offline in the replica manager (they answer KAFKA_STORAGE_ERROR), closes its logs, and either
// tells the controller through /log_dir_event_notification — which moves the leaderships and
// shrinks the ISRs of the replicas that answer KAFKA_STORAGE_ERROR — or, with no directory
// left online, shuts the broker down.
//
// With every log dir offline Kafka halts the JVM (exit status 1, no controlled shutdown: the
// controller notices when the ZooKeeper session times out). Gregor shuts down cleanly instead
// and exits 0: a controlled shutdown moves the leaderships at once, the registration goes with
// the session, the offline dirs get no clean-shutdown marker (the next start recovers them),
// and an error in the log says why the broker stopped.

// logDirFailureLoop runs from Start until Shutdown (b.wg).
func (b *Broker) logDirFailureLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case dir := <-b.logs.DirFailures():
			if !b.handleLogDirFailure(dir) {
				return
			}
		}
	}
}

// handleLogDirFailure stops serving dir and reports it; false when no dir is left and the
// broker is shutting down.
func (b *Broker) handleLogDirFailure(dir string) bool {
	log := b.log.WithField("dir", dir)
	parts := b.replicas.HandleLogDirFailure(dir)
	_, online := b.logs.TakeDirOffline(dir)
	log.WithFields(map[string]any{"partitions": len(parts), "online_dirs": online}).
		Error("log directory offline: its partitions answer KAFKA_STORAGE_ERROR until a restart")
	if online == 0 {
		log.Error("every log directory is offline: shutting the broker down cleanly")
		go b.shutdownOnce() // not from this goroutine: the shutdown waits for it to end
		return false
	}
	b.notifyLogDirFailure()
	return true
}

// notifyLogDirFailure writes this broker's /log_dir_event_notification znode, retrying until it
// is written or the broker stops.
func (b *Broker) notifyLogDirFailure() {
	backoff := 100 * time.Millisecond
	for {
		name, err := b.zk.CreateLogDirEvent(b.cfg.BrokerID)
		if err == nil {
			b.log.WithField("znode", "/log_dir_event_notification/"+name).Info("log dir failure reported to the controller")
			return
		}
		b.log.WithError(err).Warn("writing the log dir failure notification; retrying")
		t := time.NewTimer(backoff)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// registerLogDirMetrics exports each log dir's health (Kafka's LogDirectoryOffline and
// OfflineLogDirectoryCount).
func (b *Broker) registerLogDirMetrics() {
	offline := func() map[string]bool {
		out := map[string]bool{}
		for _, d := range b.logs.OfflineDirs() {
			out[d] = true
		}
		return out
	}
	_ = b.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gregor_log_offline_dirs",
		Help: "Log directories offline after an I/O error (Kafka's OfflineLogDirectoryCount)."},
		func() float64 { return float64(len(b.logs.OfflineDirs())) }))
	for _, dir := range b.logs.Dirs() {
		dir := dir
		_ = b.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gregor_log_dir_offline",
			Help:        "1 if the log directory is offline after an I/O error, else 0 (Kafka's LogDirectoryOffline).",
			ConstLabels: prometheus.Labels{"log_dir": dir}},
			func() float64 {
				if offline()[dir] {
					return 1
				}
				return 0
			}))
	}
}
