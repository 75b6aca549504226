// Package network is the broker's Kafka-protocol socket server: listeners, size-prefixed framing,
// request-header parsing, the API version gate, ApiVersions, pipelined dispatch to a Handler, and
// in-order response writing.
//
// It owns sockets and bytes on the wire only. It must not touch storage, ZooKeeper or metadata,
// and it imports no other Gregor package: everything past the request header is the Handler's.
//
// # Frames and their ownership
//
// Every request frame is a fresh []byte of exactly the frame's size (frames above 1 MiB grow in
// steps while their bytes arrive, so a client that only announces a huge size does not get that
// memory up front) — except the frames of Options.Recycled keys (the broker: Produce), which come
// from size-class pools (up to 8 MiB) and go back once their handler has returned. The 4-byte size
// prefix and the connection's bufio buffer are the other buffers reused between requests. A
// decoded request's byte fields (produce records, group member metadata) are sub-slices of its
// frame, so the frame belongs to the Request: the network writes nothing into it after decoding,
// and the Handler may modify it in place (stamping base offsets); it may keep sub-slices after
// its response is written, except for a recycled key, for which nothing of the request may
// outlive Handle. Strings are decoded with copies (kmsg's safe ReadFrom) so that a topic name
// kept in a map does not pin a whole produce frame.
//
// # Zero-copy responses
//
// A response implementing ZeroCopy (Fetch) carries file ranges: its fixed bytes are encoded into
// a small pooled buffer and the ranges are sent by the writer with sendfile(2), in the
// connection's response order, between those bytes (zerocopy.go). The writer releases the
// response once written; if the connection closes first, whichever of the close and the
// response's filler comes second releases it (slot.release, conn.wclosed). A range that is no
// longer Intact after its send closes the connection before the frame's last byte.
//
// # Goroutines and who stops them
//
//   - one accept loop per listener: started by Start, stopped by Close (listener closed).
//   - one reader per connection (conn.serve): started by the accept loop, stops on a read error,
//     bad input, idle timeout, or when the connection is closed (by Close, by the writer, or by
//     itself).
//   - no writer goroutine: the goroutine that fills a slot (a handler's job, or the reader for
//     ApiVersions) writes the responses ready at the head of the order if no one else is
//     writing (writer.go).
//   - one job per dispatched request (conn.handle): runs Handler.Handle on a handler worker
//     (workers.go), a goroutine that takes the next job when its handler returns, so its grown
//     stack is reused; it stops when more than maxIdleWorkers are idle or Close cancels the
//     server. Handlers are given the connection's context, cancelled when the connection closes
//     or Close is called, and must return soon after it is cancelled. A request that
//     Options.Inline names (the broker: Produce) is handled on the reader itself, which reads
//     nothing more until it is answered; if it parks, a new reader (conn.readOn, counted in
//     Server.wg like the first) takes the connection over and the old one ends with it.
//
// Server.wg counts all of them; Close waits for it. Every connection is closed through
// conn.close, which cancels the connection context first and then closes the socket, so every
// goroutine blocked on it wakes up.
//
// # Locks
//
// Server.mu (listeners, connection set, connection quotas, started/closed), memoryPool.mu (the
// request memory pool's bookkeeping) and conn.wmu (a connection's unwritten slots and who is
// writing them) are the only mutexes; all are leaves, never held across socket I/O, a handler
// call or each other. Other per-connection state is owned by the reader, by the writer of the
// moment (the goroutine that set conn.writing), or handed over through the slot's atomic done
// flag.
//
// # Ordering and back-pressure
//
// The reader appends a slot per request to the connection's pending slots, in request order; a
// handler fills its slot when it returns and, unless another goroutine is writing, writes the
// filled slots at the head of the order, coalescing consecutive ready responses into one
// writev. At most MaxInFlightPerConn requests (slots not yet written) exist per connection; at
// the bound the reader stops reading that socket until a written slot frees its token, which
// pushes back on the client through TCP.
//
// # Limits (Kafka's names)
//
// Every limit stops a reader or closes a connection — never allocates past itself — and every
// hit is counted in the metrics (metrics.go):
//   - max.connections, max.connections.per.ip (+ overrides): a connection over a limit is
//     accepted and closed at once, as Kafka does (quotas.go);
//   - socket.request.max.bytes: a larger size prefix closes the connection;
//   - queued.max.request.bytes: a frame's size is reserved in a memory pool before its bytes are
//     allocated; a frame that does not fit waits, and its socket is not read (pool.go);
//   - queued.max.requests: requests being handled (not parked, see Parked) broker-wide; at the
//     bound readers wait before dispatching (pool.go);
//   - in-flight requests per connection (MaxInFlightPerConn), above;
//   - connections.max.idle.ms: idleReader below.
package network
