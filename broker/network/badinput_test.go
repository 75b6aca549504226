package network

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBadInputClosesOnlyThatConnection: each kind of bad input, on its own connection, gets the
// connection closed without a response, while a healthy connection keeps doing requests with no
// error throughout.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	const maxReq = 1 << 20
	srv := startServer(t, Options{MaxRequestBytes: maxReq}, nil)

	healthy := dial(t, srv.addr)
	stop := make(chan struct{})
	var ok atomic.Int64
	var healthyErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := healthy.roundTrip(metadataReq(), 9); err != nil {
				healthyErr.Store(err)
				return
			}
			ok.Add(1)
		}
	}()

	size := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	metaFrame := func(c *client, v int16) []byte { f, _ := c.frame(metadataReq(), v); return f }
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 256)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	randomBody := append(size(252), random[4:]...) // plausible size, so the junk is parsed

	cases := []struct {
		name    string
		input   func(c *client) []byte
		halfEnd bool   // close our write side after the input
		logged  string // a log message expected for this connection
	}{
		{"truncated frame", func(c *client) []byte { f := metaFrame(c, 1); return f[:len(f)-3] }, true, ""},
		{"truncated size", func(c *client) []byte { return []byte{0, 0} }, true, ""},
		{"negative size", func(c *client) []byte { return append(size(0xfffffff0), 0, 0, 0, 0) }, false, "invalid request size"},
		{"2 GiB size", func(c *client) []byte { return append(size(0x7fffffff), 0, 3, 0, 1) }, false, "invalid request size"},
		{"-2 GiB size", func(c *client) []byte { return size(0x80000000) }, false, "invalid request size"},
		{"size above max", func(c *client) []byte { return append(size(maxReq+1), 0, 3, 0, 1) }, false, "invalid request size"},
		{"empty frame", func(c *client) []byte { return size(0) }, false, "malformed request"},
		{"short header", func(c *client) []byte { return append(size(6), 0, 3, 0, 1, 0, 0) }, false, "malformed request"},
		{"client id overruns frame", func(c *client) []byte {
			return append(size(10), 0, 3, 0, 1, 0, 0, 0, 1, 0, 9)
		}, false, "malformed request"},
		{"unknown API key", func(c *client) []byte {
			f := metaFrame(c, 1)
			binary.BigEndian.PutUint16(f[4:6], 999)
			return f
		}, false, "unsupported request"},
		{"known key not served", func(c *client) []byte { f, _ := c.frame(kmsg.NewPtrCreateTopicsRequest(), 2); return f }, false, "unsupported request"},
		{"unsupported version", func(c *client) []byte {
			f := metaFrame(c, 1)
			binary.BigEndian.PutUint16(f[6:8], 99)
			return f
		}, false, "unsupported request"},
		{"negative version", func(c *client) []byte {
			f := metaFrame(c, 1)
			binary.BigEndian.PutUint16(f[6:8], 0xffff)
			return f
		}, false, "unsupported request"},
		{"random bytes", func(c *client) []byte { return random }, false, ""},
		{"random body", func(c *client) []byte { return randomBody }, false, ""},
		{"garbage body", func(c *client) []byte {
			// Metadata v1: topics array of 5 entries, none present.
			return append(size(18), 0, 3, 0, 1, 0, 0, 0, 7, 0, 2, 'g', 'b', 0, 0, 0, 5, 0, 1)
		}, false, "malformed request"},
		{"bad header tags", func(c *client) []byte {
			// Metadata v9: header tag count 1, tag 0 claiming 50 bytes.
			return append(size(16), 0, 3, 0, 9, 0, 0, 0, 7, 0, 2, 'g', 'b', 1, 0, 50, 0)
		}, false, "malformed request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.logs.Reset()
			c := dial(t, srv.addr)
			if err := c.write(tc.input(c)); err != nil {
				t.Fatal(err)
			}
			if tc.halfEnd {
				_ = c.conn.(interface{ CloseWrite() error }).CloseWrite()
			}
			c.expectClosed(tc.name)
			if tc.logged != "" {
				checkLogged(t, srv, c, tc.logged)
			}
			if err := healthyErr.Load(); err != nil {
				t.Fatalf("healthy connection failed: %v", err)
			}
		})
	}
	before := ok.Load()
	// The healthy connection is still being served after all of it: a few more round trips.
	if _, err := dial(t, srv.addr).roundTrip(metadataReq(), 1); err != nil {
		t.Fatalf("new connection after bad input: %v", err)
	}
	close(stop)
	wg.Wait()
	if err := healthyErr.Load(); err != nil {
		t.Fatalf("healthy connection failed: %v", err)
	}
	if ok.Load() == 0 {
		t.Fatal("healthy connection completed no round trip")
	}
	t.Logf("healthy connection: %d round trips (%d before the final check)", ok.Load(), before)
}

// checkLogged asserts a warning with msg was logged for c's connection, naming its address and,
// for gated requests, the client id, key and version.
func checkLogged(t *testing.T, srv *testServer, c *client, msg string) {
	t.Helper()
	remote := c.conn.LocalAddr().String()
	for _, e := range srv.logs.AllEntries() {
		if e.Level != logrus.WarnLevel || !strings.Contains(e.Message, msg) || e.Data["remote"] != remote {
			continue
		}
		if msg == "unsupported request" {
			if e.Data["client_id"] != "net-test" || e.Data["api_key"] == nil || e.Data["api_version"] == nil {
				t.Fatalf("log line lacks client id/key/version: %v", e.Data)
			}
		}
		return
	}
	var got []string
	for _, e := range srv.logs.AllEntries() {
		got = append(got, e.Level.String()+" "+e.Message)
	}
	t.Fatalf("no warning %q for %s; logged: %q", msg, remote, got)
}
