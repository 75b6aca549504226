// Package zkmeta is Kafka's ZooKeeper data model: the paths (under a chroot), the JSON payloads
// byte-for-byte as Apache Kafka 2.8 (Scala 2.13, JDK 11+) writes them — key orders included, so
// zkCli.sh shows what a Kafka tutorial shows — and typed operations on them: broker registration,
// cluster id, topic assignments, partition state with zkVersion checks, topic and dynamic broker
// configs and their change notifications, controller election and epoch fencing, deletion
// markers, producer-id blocks.
//
// It holds no broker or controller logic: it never decides anything, it reads and writes znodes.
// It imports nothing else of the project. The connections' goroutines are go-zookeeper's; the
// session watcher goroutine started by Connect is stopped by Close, which also closes the
// reader sessions (WithReaderSessions) that bulk reads such as GetPartitionStates spread over.
package zkmeta
