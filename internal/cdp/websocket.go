package cdp

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// MaxMessageBytes bounds one message from the browser (a full-page screenshot is a few MiB of
// base64); a larger one is an error, never an allocation.
const MaxMessageBytes = 64 << 20

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// wsConn is the client side of a WebSocket: text messages out (masked, as RFC 6455 requires of
// clients), whole messages in.
type wsConn struct {
	nc net.Conn
	br *bufio.Reader
}

// dialWebSocket opens ws://host/path and completes the opening handshake.
func dialWebSocket(rawURL string) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("websocket %s: only ws:// is supported", rawURL)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		nc.Close()
		return nil, err
	}
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), acceptKey(key); got != want {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake: accept key %q, want %q", got, want)
	}
	return &wsConn{nc: nc, br: br}, nil
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeText sends one masked text frame.
func (c *wsConn) writeText(payload []byte) error {
	_, err := c.nc.Write(appendFrame(nil, opText, payload))
	return err
}

// appendFrame appends a final, masked client frame.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	dst = append(dst, mask[:]...)
	for i, b := range payload {
		dst = append(dst, b^mask[i%4])
	}
	return dst
}

var errClosed = errors.New("websocket closed by the browser")

// readMessage returns the next text or binary message, reassembling fragments, answering pings
// and bounding the size.
func (c *wsConn) readMessage() ([]byte, error) {
	return readMessage(c.br, func(op byte, payload []byte) error {
		if op == opPing {
			_, err := c.nc.Write(appendFrame(nil, opPong, payload))
			return err
		}
		return nil
	})
}

// readMessage reads frames from r until a whole data message is in; control frames go to
// control (pong replies) in between.
func readMessage(r io.Reader, control func(op byte, payload []byte) error) ([]byte, error) {
	var msg []byte
	started := false
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		fin, op := hdr[0]&0x80 != 0, hdr[0]&0x0f
		if hdr[0]&0x70 != 0 {
			return nil, errors.New("websocket: reserved bits set")
		}
		masked := hdr[1]&0x80 != 0
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(r, mask[:]); err != nil {
				return nil, err
			}
		}
		if op >= opClose { // control frames: short, never fragmented
			if n > 125 || !fin {
				return nil, errors.New("websocket: bad control frame")
			}
		} else if n > MaxMessageBytes || uint64(len(msg))+n > MaxMessageBytes {
			return nil, fmt.Errorf("websocket: message over %d bytes", MaxMessageBytes)
		}
		// Read as the bytes arrive: a frame that only claims a large size allocates nothing.
		payload, err := io.ReadAll(io.LimitReader(r, int64(n)))
		if err != nil {
			return nil, err
		}
		if uint64(len(payload)) != n {
			return nil, io.ErrUnexpectedEOF
		}
		if masked {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		switch op {
		case opClose:
			return nil, errClosed
		case opPing, opPong:
			if err := control(op, payload); err != nil {
				return nil, err
			}
			continue
		case opText, opBinary:
			if started {
				return nil, errors.New("websocket: new message inside a fragmented one")
			}
			started = true
		case opContinuation:
			if !started {
				return nil, errors.New("websocket: continuation without a message")
			}
		default:
			return nil, fmt.Errorf("websocket: unknown opcode %d", op)
		}
		msg = append(msg, payload...)
		if fin {
			return msg, nil
		}
	}
}

func (c *wsConn) close() error {
	_, _ = c.nc.Write(appendFrame(nil, opClose, nil))
	return c.nc.Close()
}
