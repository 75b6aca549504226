// Package interbroker is the one client a broker uses to call another broker: the controller's
// LeaderAndIsr / UpdateMetadata / StopReplica, the replica fetchers' Fetch and ListOffsets, and
// the leaders' AlterIsr to the controller all go through it, over the Kafka protocol encoded
// with kmsg, on the destination's inter-broker listener.
//
// A Conn is one connection to one destination broker: it connects lazily, writes one request
// at a time with its own correlation id, bounds the reply's size (MaxResponseBytes) and the
// round trip's duration (RequestTimeout, Kafka's replica.socket.timeout.ms /
// controller.socket.timeout.ms), and drops the connection on any error so that the next round
// trip reconnects. A Queue is Kafka's ControllerChannelManager queue on top of a Conn: requests
// to one broker in order, each retried with exponential backoff until it is answered or the
// queue is stopped.
//
// It knows nothing of partitions, ZooKeeper or the controller's state; callers decide what a
// response means.
//
// Concurrency: Conn.mu serializes round trips on the connection and is held across that
// connection's network I/O — it is the connection's own lock, never taken while holding any
// other broker lock (docs/locking.md), and Close interrupts a round trip in progress by
// expiring the socket's deadline. Conn.addrMu, a leaf, guards the address alone: Addr and
// SetAddr never wait for a round trip. A Queue owns one sender goroutine, started by NewQueue and
// stopped by Stop; Queue.mu guards its pending requests.
package interbroker
