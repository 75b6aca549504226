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
// memory up front). The 4-byte size prefix and the connection's bufio buffer are the only buffers
// reused between requests. A decoded request's byte fields (produce records, group member
// metadata) are sub-slices of its frame, so the frame belongs to the Request: the network writes
// nothing into it after decoding and never recycles it, and the Handler may modify it in place
// (stamping base offsets) or keep sub-slices after its response is written; the garbage
// collector frees it. Strings are decoded with copies (kmsg's safe ReadFrom) so that a topic name
// kept in a map does not pin a whole produce frame.
//
// # Goroutines and who stops them
//
//   - one accept loop per listener: started by Start, stopped by Close (listener closed).
//   - one reader per connection (conn.serve): started by the accept loop, stops on a read error,
//     bad input, idle timeout, or when the connection is closed (by Close, by the writer, or by
//     itself).
//   - one writer per connection (conn.writeLoop): started by the reader, stops when the
//     connection's context is cancelled or a write fails.
//   - one goroutine per dispatched request (conn.handle): runs Handler.Handle; stops when the
//     handler returns. Handlers are given the connection's context, cancelled when the connection
//     closes or Close is called, and must return soon after it is cancelled.
//
// Server.wg counts all of them; Close waits for it. Every connection is closed through
// conn.close, which cancels the connection context first and then closes the socket, so every
// goroutine blocked on it wakes up.
//
// # Locks
//
// Server.mu (listeners, connection set, started/closed) is the only mutex; it is never
// held across socket I/O or a handler call. Per-connection state needs none: it is owned by the
// reader or handed over through channels and the slot's atomic done flag.
//
// # Ordering and back-pressure
//
// The reader appends a slot per request to the connection's queue, in request order; a handler
// fills its slot when it returns; the writer takes slots in queue order and writes each once it
// is filled, coalescing consecutive ready responses into one writev. At most MaxInFlightPerConn
// requests (slots not yet written) exist per connection; at the bound the reader stops reading
// that socket until the writer frees a slot, which pushes back on the client through TCP.
package network
