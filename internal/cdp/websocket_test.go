package cdp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// serverFrame builds an unmasked server frame.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// unmask reads back a client frame as a server would.
func unmask(t *testing.T, frame []byte) (byte, []byte) {
	t.Helper()
	msg, err := readMessage(bytes.NewReader(frame), func(byte, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return frame[0] & 0x0f, msg
}

func TestFrames(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	for _, payload := range [][]byte{nil, []byte("hi"), bytes.Repeat([]byte("y"), 300), big} {
		op, got := unmask(t, appendFrame(nil, opText, payload))
		if op != opText || !bytes.Equal(got, payload) {
			t.Fatalf("round trip of %d bytes: op %d, %d bytes back", len(payload), op, len(got))
		}
		if f := appendFrame(nil, opText, payload); f[1]&0x80 == 0 {
			t.Fatal("client frame not masked")
		}
	}
	// Fragments with a ping in between reassemble into one message, and the ping is answered.
	var in []byte
	in = append(in, serverFrame(false, opText, []byte("hel"))...)
	in = append(in, serverFrame(true, opPing, []byte("p"))...)
	in = append(in, serverFrame(false, opContinuation, []byte("lo "))...)
	in = append(in, serverFrame(true, opContinuation, []byte("world"))...)
	pinged := false
	msg, err := readMessage(bytes.NewReader(in), func(op byte, p []byte) error { pinged = op == opPing && string(p) == "p"; return nil })
	if err != nil || string(msg) != "hello world" || !pinged {
		t.Fatalf("%q %v pinged=%v", msg, err, pinged)
	}
	bad := map[string][]byte{
		"close":                  serverFrame(true, opClose, nil),
		"continuation first":     serverFrame(true, opContinuation, []byte("x")),
		"reserved bits":          {0xf1, 0},
		"long control frame":     serverFrame(true, opPing, bytes.Repeat([]byte("p"), 126)),
		"unknown opcode":         serverFrame(true, 0x3, nil),
		"message over the bound": append([]byte{0x81, 127}, binary.BigEndian.AppendUint64(nil, MaxMessageBytes+1)...),
		"truncated":              serverFrame(true, opText, []byte("abc"))[:3],
		"text inside a fragment": append(serverFrame(false, opText, []byte("a")), serverFrame(true, opText, []byte("b"))...),
	}
	for name, in := range bad {
		if _, err := readMessage(bytes.NewReader(in), func(byte, []byte) error { return nil }); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzReadMessage: any bytes from the browser give a message or an error, within the bound.
func FuzzReadMessage(f *testing.F) {
	f.Add(serverFrame(true, opText, []byte(`{"id":1,"result":{}}`)))
	f.Add(append(serverFrame(false, opText, []byte("a")), serverFrame(true, opContinuation, []byte("b"))...))
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := readMessage(bytes.NewReader(in), func(byte, []byte) error { return nil })
		if err == nil && len(msg) > len(in) {
			t.Fatalf("%d-byte message from %d bytes", len(msg), len(in))
		}
	})
}
