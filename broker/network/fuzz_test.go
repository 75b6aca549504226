package network

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// allServed serves every key kmsg knows at every version it knows, so fuzzing reaches every
// body decoder through the gate.
func allServed(t testing.TB) versionTable {
	var served []APIRange
	for k := int16(0); k < 200; k++ {
		if r := kmsg.RequestForKey(k); r != nil {
			served = append(served, APIRange{Key: k, Min: 0, Max: r.MaxVersion()})
		}
	}
	tbl, _, err := newVersionTable(served)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// seedFrames are well-formed request frames (size prefix included) of various shapes.
func seedFrames() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	var out [][]byte
	add := func(r kmsg.Request, v int16) {
		r.SetVersion(v)
		out = append(out, f.AppendRequest(nil, r, 7))
	}
	prod := kmsg.NewPtrProduceRequest()
	tp := kmsg.NewProduceRequestTopic()
	tp.Topic = "t"
	p := kmsg.NewProduceRequestTopicPartition()
	p.Records = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}
	tp.Partitions = append(tp.Partitions, p)
	prod.Topics = append(prod.Topics, tp)
	add(prod, 7)
	add(prod, 9)
	add(kmsg.NewPtrMetadataRequest(), 1)
	add(kmsg.NewPtrMetadataRequest(), 12)
	add(kmsg.NewPtrApiVersionsRequest(), 0)
	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName, av.ClientSoftwareVersion = "x", "1"
	add(av, 3)
	add(kmsg.NewPtrFetchRequest(), 11)
	add(kmsg.NewPtrControlledShutdownRequest(), 0)
	add(kmsg.NewPtrLeaderAndISRRequest(), 5)
	add(kmsg.NewPtrUpdateMetadataRequest(), 7)
	// Header v2 with two tagged fields.
	out = append(out, []byte{0, 0, 0, 17, 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 2, 1, 1, 'a', 2, 0, 1, 0, 0})
	return out
}

func FuzzParseRequestHeader(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr[4:])
	}
	f.Add([]byte{})
	f.Add([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfe})
	f.Add([]byte{0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	tbl := allServed(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, rest, err := parseRequestHeader(frame)
		if err == nil {
			if h.Key != int16(binary.BigEndian.Uint16(frame)) || h.Version != int16(binary.BigEndian.Uint16(frame[2:])) ||
				h.CorrelationID != int32(binary.BigEndian.Uint32(frame[4:])) {
				t.Fatalf("fixed fields misread: %+v", h)
			}
			// Re-encoding the header in front of rest gives the frame back.
			re := binary.BigEndian.AppendUint16(nil, uint16(h.Key))
			re = binary.BigEndian.AppendUint16(re, uint16(h.Version))
			re = binary.BigEndian.AppendUint32(re, uint32(h.CorrelationID))
			if !(h.Key == 7 && h.Version == 0) {
				if h.ClientIDNull {
					re = append(re, 0xff, 0xff)
				} else {
					re = binary.BigEndian.AppendUint16(re, uint16(len(h.ClientID)))
					re = append(re, h.ClientID...)
				}
			}
			if !bytes.Equal(append(re, rest...), frame) {
				t.Fatalf("header round trip: % x + % x != % x", re, rest, frame)
			}
			if after, err := skipTaggedFields(rest); err == nil && (len(after) >= len(rest) || !bytes.HasSuffix(rest, after)) {
				t.Fatalf("skipTaggedFields returned % x from % x", after, rest)
			}
		}
		// The whole decode path must not panic and must agree with the header parser.
		d, derr := decodeRequest(tbl, frame)
		if err != nil && derr == nil {
			t.Fatalf("header error %v but decode succeeded", err)
		}
		if derr == nil && d.body == nil && d.hdr.Key != apiVersionsKey {
			t.Fatal("decode succeeded without a body")
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	var stream []byte
	for _, fr := range seedFrames() {
		f.Add(fr)
		stream = append(stream, fr...)
	}
	f.Add(stream)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 9, 0, 3})
	const max = 1 << 12
	tbl := allServed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var sb [4]byte
		consumed := 0
		for {
			frame, err := readFrame(r, &sb, max)
			if err != nil {
				var se *frameSizeError
				switch {
				case errors.Is(err, io.EOF):
					if consumed != len(data) {
						t.Fatalf("io.EOF after %d of %d bytes", consumed, len(data))
					}
				case errors.As(err, &se):
					if se.Size >= 0 && se.Size <= max {
						t.Fatalf("size %d rejected", se.Size)
					}
				case errors.Is(err, io.ErrUnexpectedEOF):
				default:
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(frame) > max || cap(frame) != len(frame) {
				t.Fatalf("frame len %d cap %d", len(frame), cap(frame))
			}
			if want := data[consumed+4 : consumed+4+len(frame)]; !bytes.Equal(frame, want) {
				t.Fatal("frame bytes differ from the stream")
			}
			consumed += 4 + len(frame)
			_, _ = decodeRequest(tbl, frame) // must not panic
		}
	})
}
