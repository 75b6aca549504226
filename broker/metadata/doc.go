// Package metadata is the broker's metadata cache: the cluster view the controller pushes with
// UpdateMetadata (live brokers and their endpoints per listener, the controller id, every
// partition's leader / leader epoch / ISR / replicas / offline replicas, topic ids).
//
// It owns only that in-memory view. It must not touch ZooKeeper, storage or sockets: the request
// handlers (broker/api) feed it and read it; ZooKeeper stays the source of truth, written by the
// controller and the admin handlers.
//
// # Concurrency
//
// Cache.mu (a sync.RWMutex) guards Cache.snap and Cache.changed. A Snapshot is immutable once
// published: Update builds a new one (copy-on-write: unchanged topics are shared, changed ones
// are copied) and swaps the pointer under the write lock, so a reader holds the read lock only
// for the pointer load and then reads one consistent view without locks, however long a
// Metadata response takes to build.
//
// Changed returns a channel that is closed (and replaced) by the next Update. A waiter such as
// CreateTopics takes the channel first, then checks its condition on a fresh Snapshot, then
// waits on the channel: an Update between the check and the wait has already closed the
// channel, so no change is missed and nobody sleeps in a loop.
//
// No goroutines are started by this package.
package metadata
