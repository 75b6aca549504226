package network

import (
	"context"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one decoded request as the Handler sees it.
type Request struct {
	Key, Version  int16
	CorrelationID int32
	ClientID      string // "" for a null client id
	// Body is decoded with kmsg at Version. Its byte fields (records) are sub-slices of the
	// request's frame, which belongs to this Request (see the package comment).
	Body       kmsg.Request
	Listener   string
	RemoteAddr net.Addr
	Received   time.Time // when the whole frame had been read

	release func()  // for an Ordered key: lets the connection's next ordered request start
	frame   *[]byte // a pooled frame (Options.Recycled), returned to its pool after Handle
}

// Release, for a request of an Options.Ordered key, lets the connection's next ordered request
// start before this one is answered. A handler calls it once the part that must happen in
// arrival order is done — Produce: the appends, whose order idempotent sequences depend on —
// and then waits (acks=all replication) without holding up the connection's later requests;
// their responses still go out in request order. The network calls it when the handler returns
// in any case. Safe to call more than once; a no-op for other requests.
func (r *Request) Release() {
	if r.release != nil {
		r.release()
	}
}

// Handler answers every request except ApiVersions, which the network answers itself.
type Handler interface {
	// Handle may block (acks=all, long poll); a handler about to wait for an event rather than
	// work calls Parked(ctx) first, so the wait does not count against queued.max.requests. nil
	// response = send nothing (acks=0 produce). A non-nil error closes the connection (after
	// earlier responses are written).
	Handle(ctx context.Context, r *Request) (kmsg.Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, r *Request) (kmsg.Response, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, r *Request) (kmsg.Response, error) {
	return f(ctx, r)
}
