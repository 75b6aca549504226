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
}

// Handler answers every request except ApiVersions, which the network answers itself.
type Handler interface {
	// Handle may block (acks=all, long poll). nil response = send nothing (acks=0 produce).
	// A non-nil error closes the connection (after earlier responses are written).
	Handle(ctx context.Context, r *Request) (kmsg.Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, r *Request) (kmsg.Response, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, r *Request) (kmsg.Response, error) {
	return f(ctx, r)
}
