package network

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRoundTrip measures one small request/response over loopback through the server
// (header parse, gate, kmsg decode, handler goroutine, ordered write) next to a raw-socket echo
// of the same bytes (impl=floor): the floor any server pays for two syscalls and a loopback hop.
func BenchmarkRoundTrip(b *testing.B) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)

	run := func(b *testing.B, addr string) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		var size [4]byte
		buf := make([]byte, 0, 256)
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := nc.Write(frame); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(br, size[:]); err != nil {
				b.Fatal(err)
			}
			n := int(binary.BigEndian.Uint32(size[:]))
			if cap(buf) < n {
				buf = make([]byte, n)
			}
			if _, err := io.ReadFull(br, buf[:n]); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.Run("impl=gregor", func(b *testing.B) {
		logger := logrus.New()
		logger.SetOutput(io.Discard)
		srv := startServer(b, Options{Logger: logger}, nil)
		run(b, srv.addr)
	})

	b.Run("impl=floor", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			var size [4]byte
			for {
				if _, err := io.ReadFull(br, size[:]); err != nil {
					return
				}
				body := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
				copy(body, size[:])
				if _, err := io.ReadFull(br, body[4:]); err != nil {
					return
				}
				if _, err := nc.Write(body); err != nil {
					return
				}
			}
		}()
		run(b, ln.Addr().String())
		ln.Close()
		<-done
	})
}

// BenchmarkIdleClose measures how long after IdleTimeout a quiet connection is closed
// (reported as ns-past-idle/op): the figure TestIdleTimeoutClosesIdleConnection must not assert.
// A negative value would be a close before the timeout.
func BenchmarkIdleClose(b *testing.B) {
	const idle = 20 * time.Millisecond
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	srv := startServer(b, Options{Logger: logger, IdleTimeout: idle}, nil)
	var past time.Duration
	for i := 0; i < b.N; i++ {
		nc, err := net.Dial("tcp", srv.addr)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		_ = nc.SetReadDeadline(start.Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, nc); err != nil && !isClosedErr(err) {
			b.Fatalf("not closed: %v", err)
		}
		past += time.Since(start) - idle
		nc.Close()
	}
	b.ReportMetric(float64(past.Nanoseconds())/float64(b.N), "ns-past-idle/op")
}
