// Package broker assembles one Gregor broker process: the ZooKeeper session (zkmeta), the
// cluster id and meta.properties check, the log manager (broker/log), the replica manager
// (broker/replica), the metadata cache (broker/metadata), the request handlers (broker/api)
// behind the network server (broker/network), the broker registration in /brokers/ids, the
// controller module, the /config/changes listener and the Prometheus endpoint.
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
//   - configLoop: watches /config/changes and re-resolves the config of changed topics' logs.
//   - the metrics HTTP server, if configured.
//
// All three stop when Shutdown closes Broker.stop (the HTTP server by Shutdown's Close);
// Broker.wg counts the loops. The network server, controller, replica manager and log manager
// run their own goroutines and are stopped by Shutdown, in Kafka's order: network, controller,
// replicas, logs, ZooKeeper session (which removes the ephemeral registration).
package broker
