package interbroker

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
)

// startServer runs the broker's real network server with h on a loopback port.
func startServer(t *testing.T, h network.HandlerFunc) string {
	t.Helper()
	srv := network.NewServer(network.Options{
		Listeners: []network.ListenerSpec{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}},
		Served: []network.APIRange{
			{Key: 3, Min: 0, Max: 12},
			{Key: 56, Min: 0, Max: 0},
		},
	}, h)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.Addr("PLAINTEXT").String()
}

func metadataReq(version int16) *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = version
	return r
}

func TestRoundTripVersions(t *testing.T) {
	addr := startServer(t, func(ctx context.Context, r *network.Request) (kmsg.Response, error) {
		resp := r.Body.ResponseKind().(*kmsg.MetadataResponse)
		resp.Version = r.Version
		id := "cluster-" + r.ClientID
		resp.ClusterID = &id
		resp.ControllerID = int32(r.Version)
		return resp, nil
	})
	c := NewConn(7, addr, Options{ClientID: "t"})
	defer c.Close()
	// Non-flexible (header v1) and flexible (header v2, tagged response header) versions.
	for _, v := range []int16{2, 8, 9, 12} { // ClusterID is v2+
		resp, err := c.RoundTrip(context.Background(), metadataReq(v))
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		m := resp.(*kmsg.MetadataResponse)
		if m.ControllerID != int32(v) || m.ClusterID == nil || *m.ClusterID != "cluster-t" {
			t.Fatalf("v%d: got controller %d cluster %v", v, m.ControllerID, m.ClusterID)
		}
	}
}

// rawServer accepts connections and runs fn on each.
func rawServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer nc.Close(); fn(nc) }()
		}
	}()
	return l.Addr().String()
}

// readRequest reads one request frame and returns its correlation id.
func readRequest(nc net.Conn) (int32, error) {
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return 0, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(body[4:])), nil
}

func TestRoundTripRefusesBadReplies(t *testing.T) {
	cases := []struct {
		name  string
		reply func(corr int32) []byte
	}{
		{"announces 2 GiB", func(int32) []byte { return []byte{0x7f, 0xff, 0xff, 0xff} }},
		{"negative size", func(int32) []byte { return []byte{0xff, 0xff, 0xff, 0xf0} }},
		{"wrong correlation id", func(corr int32) []byte {
			b := binary.BigEndian.AppendUint32(nil, 4)
			return binary.BigEndian.AppendUint32(b, uint32(corr+1))
		}},
		{"truncated body", func(corr int32) []byte {
			b := binary.BigEndian.AppendUint32(nil, 6)
			b = binary.BigEndian.AppendUint32(b, uint32(corr))
			return append(b, 0, 0) // v1 metadata needs far more than 2 bytes
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, func(nc net.Conn) {
				corr, err := readRequest(nc)
				if err != nil {
					return
				}
				_, _ = nc.Write(tc.reply(corr))
				_, _ = io.Copy(io.Discard, nc)
			})
			c := NewConn(1, addr, Options{MaxResponseBytes: 1 << 20, RequestTimeout: 5 * time.Second})
			defer c.Close()
			if _, err := c.RoundTrip(context.Background(), metadataReq(1)); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

func TestCloseInterruptsRoundTrip(t *testing.T) {
	got := make(chan struct{})
	addr := rawServer(t, func(nc net.Conn) {
		if _, err := readRequest(nc); err == nil {
			close(got)
		}
		_, _ = io.Copy(io.Discard, nc) // never answers
	})
	c := NewConn(1, addr, Options{RequestTimeout: time.Hour})
	errc := make(chan error, 1)
	go func() {
		_, err := c.RoundTrip(context.Background(), metadataReq(1))
		errc <- err
	}()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("request never reached the server")
	}
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not interrupt the round trip")
	}
	if _, err := c.RoundTrip(context.Background(), metadataReq(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestContextCancelInterruptsRoundTrip(t *testing.T) {
	got := make(chan struct{})
	addr := rawServer(t, func(nc net.Conn) {
		if _, err := readRequest(nc); err == nil {
			close(got)
		}
		_, _ = io.Copy(io.Discard, nc)
	})
	c := NewConn(1, addr, Options{RequestTimeout: time.Hour})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.RoundTrip(ctx, metadataReq(1))
		errc <- err
	}()
	<-got
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not interrupt the round trip")
	}
}

func TestQueueOrderAndRetry(t *testing.T) {
	var conns atomic.Int32
	var mu sync.Mutex
	var seen []int32
	addr := startServer(t, func(ctx context.Context, r *network.Request) (kmsg.Response, error) {
		req := r.Body.(*kmsg.MetadataRequest)
		mu.Lock()
		defer mu.Unlock()
		// The first attempt of every third request is refused by closing the connection: the
		// queue must reconnect and resend it, keeping the order.
		n := int32(len(req.Topics))
		if n%3 == 0 && conns.Add(1)%2 == 1 {
			return nil, errors.New("drop")
		}
		seen = append(seen, n)
		resp := r.Body.ResponseKind().(*kmsg.MetadataResponse)
		resp.Version = r.Version
		resp.ControllerID = n
		return resp, nil
	})
	q := NewQueue(1, addr, Options{})
	defer q.Stop()
	const total = 20
	answers := make(chan int32, total)
	for i := 0; i < total; i++ {
		req := metadataReq(1)
		for j := 0; j < i; j++ {
			req.Topics = append(req.Topics, kmsg.NewMetadataRequestTopic())
		}
		q.Send(req, func(resp kmsg.Response, err error) {
			if err != nil {
				t.Errorf("request %d: %v", len(req.Topics), err)
				answers <- -1
				return
			}
			answers <- resp.(*kmsg.MetadataResponse).ControllerID
		})
	}
	for i := 0; i < total; i++ {
		select {
		case got := <-answers:
			if got != int32(i) {
				t.Fatalf("answer %d was for request %d", i, got)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d answered", i, total)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range seen {
		if n != int32(i) {
			t.Fatalf("server saw %v: out of order", seen)
		}
	}
}

func TestQueueStopReportsPending(t *testing.T) {
	addr := rawServer(t, func(nc net.Conn) { _, _ = io.Copy(io.Discard, nc) }) // never answers
	q := NewQueue(1, addr, Options{RequestTimeout: time.Hour})
	var errs atomic.Int32
	for i := 0; i < 3; i++ {
		q.Send(metadataReq(1), func(_ kmsg.Response, err error) {
			if errors.Is(err, ErrClosed) {
				errs.Add(1)
			}
		})
	}
	q.Stop()
	if got := errs.Load(); got != 3 {
		t.Fatalf("%d of 3 callbacks got ErrClosed", got)
	}
	q.Send(metadataReq(1), func(_ kmsg.Response, err error) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("send after stop: %v", err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, v := range []int16{1, 9, 12} {
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = v
		body := binary.BigEndian.AppendUint32(nil, 5)
		if v >= 9 {
			body = append(body, 0)
		}
		f.Add(v, resp.AppendTo(body))
	}
	f.Add(int16(0), []byte{0, 0, 0, 5, 1, 2})
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		if version < 0 || version > 12 {
			return
		}
		in := append([]byte(nil), body...)
		resp, err := DecodeResponse(metadataReq(version), 5, in)
		if err != nil {
			return
		}
		// Whatever decoded must encode again at the same version.
		_ = resp.AppendTo(nil)
	})
}
