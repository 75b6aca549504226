// Package broker assembles one Gregor broker process: the ZooKeeper session (zkmeta), the
// cluster id and meta.properties check, the log manager (broker/log), the replica manager
// (broker/replica), the group coordinator (broker/group), the metadata cache (broker/metadata),
// the request handlers (broker/api) behind the network server (broker/network), the broker
// registration in /brokers/ids, the controller module, the /config/changes listener and the
// Prometheus endpoint.
//
// It owns startup order, shutdown order and the reactions to ZooKeeper session loss. It must
// not implement any of the parts it wires: protocol handling lives in broker/api, storage in
// broker/log, partition state in broker/replica, znode formats in zkmeta, leadership in
// controller.
//
// # Goroutines and who stops them
//
//   - sessionLoop: consumes zkmeta's session events (expiry → controller resigns; new session →
//     re-register with a new broker epoch, re-arm the config-change watch, controller re-elects).
//   - configLoop: watches /config/changes and re-resolves the config of changed topics' logs
//     (and their throttled replicas), and applies the dynamic broker configs of this broker and
//     of <default> (the replication throttle rates).
//   - logDirFailureLoop: takes a log dir whose disk failed offline (replica manager, then log
//     manager) and writes /log_dir_event_notification, or shuts the broker down cleanly when no
//     dir is left online (logdirs.go: Kafka halts there).
//   - the metrics HTTP server, if configured (with the /faults test seam when
//     gregor.test.fault.injection is on, faults.go).
//
// All of them stop when Shutdown closes Broker.stop (the HTTP server by Shutdown's Close);
// Broker.wg counts the loops. The network server, controller, replica manager and log manager
// run their own goroutines and are stopped by Shutdown, in Kafka's order: network, controller,
// group coordinator, replicas, logs, ZooKeeper session (which removes the ephemeral
// registration).
//
// # Lock order
//
// The whole broker's lock order is written in one place, docs/locking.md; every package that
// adds a lock adds its line there.
package broker
