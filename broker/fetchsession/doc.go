// Package fetchsession holds the broker's incremental fetch sessions (KIP-227, Kafka's
// FetchSessionCache). A fetcher that opens a session with a full Fetch (session epoch 0) gets a
// session id; its later Fetches (epoch 1, 2, …) name only the partitions whose fetch position
// changed, plus those to forget, and their responses carry only the partitions with something
// new to say: records, a moved high watermark or log start offset, an error, a preferred read
// replica or a diverging epoch. A consumer of many partitions so stops resending them all twice
// a second, and an idle one gets near-empty responses.
//
// It owns the session cache — each session's partitions in fetch order, their last fetch
// parameters and what the fetcher was last told of each — and the cache's bounds
// (max.incremental.fetch.session.cache.slots sessions, evicted as Kafka does; a cap on cached
// partitions, so no sequence of requests grows it without bound). It must not read logs, wait,
// or touch sockets: the Fetch handler (broker/api) asks it what to fetch (NewContext), fetches
// through broker/replica, and asks it which answers to send (Finish).
//
// # Locks
//
// Cache.mu guards every session and the cache's indexes. It is a leaf (docs/locking.md): taken
// alone, for the bookkeeping of one request, never across the fetch in between. Two requests
// racing on one session (a client that does not wait for its answers) are told apart by the
// session epoch: the one that finds the epoch moved on is answered INVALID_FETCH_SESSION_EPOCH,
// as Kafka answers a duplicate request.
package fetchsession
