package network

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRoundTrip measures one small request/response over loopback through the server
// (header parse, gate, kmsg decode, handler goroutine, ordered write) next to a raw-socket echo
// of the same bytes: the floor any server pays for two syscalls and a loopback hop.
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

	b.Run("gregor", func(b *testing.B) {
		logger := logrus.New()
		logger.SetOutput(io.Discard)
		srv := startServer(b, Options{Logger: logger}, nil)
		run(b, srv.addr)
	})

	b.Run("echo-floor", func(b *testing.B) {
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
