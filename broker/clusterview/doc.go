// Package clusterview is the cluster page each broker serves on its HTTP (metrics) port: the
// brokers (up or down, the controller, racks), every topic's partitions with leader, replicas
// and ISR (under-replicated and offline ones marked), the consumer groups with their members
// and lag, and this broker's messages and bytes in and out per second. The page (page.html,
// embedded) renders from JSON and refreshes itself every two seconds from /api/cluster.
//
// Brokers, topics and partitions come from this broker's metadata cache, as the controller
// last announced them; a broker is shown down when it has left the live set but is still a
// replica somewhere or was seen live before. Groups are cluster-wide, so they are read as any
// Kafka admin tool reads them: a franz-go admin client (kadm) on this broker's own
// inter-broker listener lists and describes every group and computes its lag from the
// committed and end offsets. The same client gives the broker's consumer-group lag metrics
// (Lag).
//
// It must not reach into the broker's subsystems: it reads the metadata cache through a
// snapshot function, the traffic counters of topicstats, and the cluster through the Kafka
// protocol.
//
// Concurrency: View.mu guards the lazily created client, the brokers seen and the previous
// traffic sample; it is never held across the client's network I/O (the client is used after
// mu is released and is safe for concurrent use). No goroutine of its own beyond the client's,
// which Close stops.
package clusterview
