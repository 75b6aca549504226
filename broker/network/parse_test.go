package network

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseRequestHeader(t *testing.T) {
	for _, tc := range []struct {
		name     string
		frame    []byte
		wantErr  bool
		clientID string
		null     bool
		rest     []byte
	}{
		{"v1 header", []byte{0, 3, 0, 1, 0, 0, 0, 9, 0, 2, 'i', 'd', 0xaa}, false, "id", false, []byte{0xaa}},
		{"null client id", []byte{0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xff, 0xbb}, false, "", true, []byte{0xbb}},
		{"empty client id", []byte{0, 3, 0, 1, 0, 0, 0, 9, 0, 0}, false, "", false, []byte{}},
		{"controlled shutdown v0 has no client id", []byte{0, 7, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1}, false, "", true, []byte{0, 0, 0, 1}},
		{"controlled shutdown v1 has one", []byte{0, 7, 0, 1, 0, 0, 0, 9, 0, 1, 'x'}, false, "x", false, []byte{}},
		{"7 bytes", []byte{0, 3, 0, 1, 0, 0, 0}, true, "", false, nil},
		{"no client id length", []byte{0, 3, 0, 1, 0, 0, 0, 9, 0}, true, "", false, nil},
		{"client id length -2", []byte{0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xfe}, true, "", false, nil},
		{"client id overruns", []byte{0, 3, 0, 1, 0, 0, 0, 9, 0, 3, 'a'}, true, "", false, nil},
	} {
		h, rest, err := parseRequestHeader(tc.frame)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%s: err %v", tc.name, err)
		}
		if err != nil {
			continue
		}
		if h.CorrelationID != 9 || string(h.ClientID) != tc.clientID || h.ClientIDNull != tc.null || !bytes.Equal(rest, tc.rest) {
			t.Fatalf("%s: %+v rest % x", tc.name, h, rest)
		}
	}
}

func TestSkipTaggedFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		rest []byte
		ok   bool
	}{
		{"none", []byte{0, 1, 2}, []byte{1, 2}, true},
		{"two", []byte{2, 0, 1, 9, 0x80, 0x01, 2, 7, 7, 5}, []byte{5}, true},
		{"size overruns", []byte{1, 0, 5, 1}, nil, false},
		{"truncated count", []byte{0x80}, nil, false},
		{"empty", nil, nil, false},
		{"count overflow", []byte{0xff, 0xff, 0xff, 0xff, 0x7f}, nil, false},
		{"huge count, no fields", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, nil, false},
	} {
		rest, err := skipTaggedFields(tc.in)
		if (err == nil) != tc.ok || tc.ok && !bytes.Equal(rest, tc.rest) {
			t.Fatalf("%s: rest % x err %v", tc.name, rest, err)
		}
	}
}

func TestReadFrame(t *testing.T) {
	frame := func(n int) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(n))
		for i := 0; i < n; i++ {
			b = append(b, byte(i))
		}
		return b
	}
	var sb [4]byte
	// Two frames back to back, one byte per read, then a clean EOF.
	stream := append(frame(3), frame(0)...)
	r := iotest.OneByteReader(bytes.NewReader(stream))
	for _, want := range []int{3, 0} {
		f, err := readFrame(r, &sb, 10)
		if err != nil || len(f) != want || cap(f) != want {
			t.Fatalf("frame of %d: len %d cap %d, %v", want, len(f), cap(f), err)
		}
	}
	if _, err := readFrame(r, &sb, 10); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
	// Truncated body and truncated size prefix are unexpected EOFs.
	for _, in := range [][]byte{frame(5)[:7], {0, 0}} {
		if _, err := readFrame(bytes.NewReader(in), &sb, 10); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated % x: %v", in, err)
		}
	}
	// Sizes outside 0..max.
	for _, size := range []uint32{11, 0x7fffffff, 0x80000000, 0xffffffff} {
		var se *frameSizeError
		if _, err := readFrame(bytes.NewReader(binary.BigEndian.AppendUint32(nil, size)), &sb, 10); !errors.As(err, &se) {
			t.Fatalf("size %#x: %v", size, err)
		}
	}
	// A frame above eagerFrameBytes grows while it arrives and ends with exactly its size.
	big := frame(3*eagerFrameBytes + 17)
	f, err := readFrame(iotest.HalfReader(bytes.NewReader(big)), &sb, 4*eagerFrameBytes)
	if err != nil || len(f) != len(big)-4 || cap(f) != len(f) || !bytes.Equal(f, big[4:]) {
		t.Fatalf("big frame: len %d cap %d, %v", len(f), cap(f), err)
	}
	// An announced big frame that never arrives is an error, not a hang or a panic.
	if _, err := readFrame(bytes.NewReader(big[:eagerFrameBytes+100]), &sb, 4*eagerFrameBytes); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut big frame: %v", err)
	}
}

// TestDecodeRequest covers the gate and decode paths without a socket.
func TestDecodeRequest(t *testing.T) {
	tbl, _, err := newVersionTable(testServed)
	if err != nil {
		t.Fatal(err)
	}
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("c"))
	enc := func(r kmsg.Request, v int16) []byte { r.SetVersion(v); return f.AppendRequest(nil, r, 5)[4:] }
	prod := kmsg.NewPtrProduceRequest()
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "t"
	part := kmsg.NewProduceRequestTopicPartition()
	part.Records = []byte("records-bytes")
	topic.Partitions = append(topic.Partitions, part)
	prod.Topics = append(prod.Topics, topic)
	frame := enc(prod, 9)
	d, err := decodeRequest(tbl, frame)
	if err != nil {
		t.Fatal(err)
	}
	recs := d.body.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
	// The records are a sub-slice of the frame: no copy on the produce path.
	if string(recs) != "records-bytes" || &recs[0] != &frame[bytes.Index(frame, []byte("records-bytes"))] {
		t.Fatal("produce records are not a sub-slice of the frame")
	}
	var unsup *unsupportedError
	if _, err := decodeRequest(tbl, enc(prod, 10)); !errors.As(err, &unsup) || !unsup.KnownKey {
		t.Fatalf("produce v10: %v", err)
	}
	if _, err := decodeRequest(tbl, enc(kmsg.NewPtrCreateTopicsRequest(), 2)); !errors.As(err, &unsup) || unsup.KnownKey {
		t.Fatalf("create topics: %v", err)
	}
	if d, err := decodeRequest(tbl, enc(kmsg.NewPtrApiVersionsRequest(), 4)); err != nil || d.body != nil {
		t.Fatalf("ApiVersions v4: body %v err %v, want nil body (v0 UNSUPPORTED_VERSION answer)", d.body, err)
	}
	if d, err := decodeRequest(tbl, enc(kmsg.NewPtrApiVersionsRequest(), 3)); err != nil || d.body == nil {
		t.Fatalf("ApiVersions v3: %v", err)
	}
	// A body cut short is an error.
	full := enc(kmsg.NewPtrMetadataRequest(), 1) // topics: null array (-1)
	if _, err := decodeRequest(tbl, full[:len(full)-1]); err == nil {
		t.Fatal("truncated body accepted")
	}
	// Trailing bytes after a complete body are tolerated, as by kmsg and Kafka's parser.
	if _, err := decodeRequest(tbl, append(full, 0)); err != nil {
		t.Fatalf("trailing byte: %v", err)
	}
}
