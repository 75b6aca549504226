package zkmeta

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// obj writes a JSON object with keys in the order they are added: Kafka's payloads have fixed
// (non-sorted) key orders, which encoding/json on maps would not keep.
type obj struct {
	b     bytes.Buffer
	first bool
}

func newObj() *obj { o := &obj{first: true}; o.b.WriteByte('{'); return o }

func (o *obj) key(k string) {
	if !o.first {
		o.b.WriteByte(',')
	}
	o.first = false
	writeString(&o.b, k)
	o.b.WriteByte(':')
}

func (o *obj) str(k, v string)        { o.key(k); writeString(&o.b, v) }
func (o *obj) num(k string, v int64)  { o.key(k); o.b.WriteString(strconv.FormatInt(v, 10)) }
func (o *obj) raw(k string, v []byte) { o.key(k); o.b.Write(v) }
func (o *obj) null(k string)          { o.key(k); o.b.WriteString("null") }
func (o *obj) bytes() []byte          { o.b.WriteByte('}'); return o.b.Bytes() }

// writeString writes a JSON string as Jackson does: no HTML escaping, '/' not escaped.
func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	// json.Marshal escapes <, > and & for HTML; Jackson does not.
	enc = bytes.ReplaceAll(enc, []byte(`\u003c`), []byte("<"))
	enc = bytes.ReplaceAll(enc, []byte(`\u003e`), []byte(">"))
	enc = bytes.ReplaceAll(enc, []byte(`\u0026`), []byte("&"))
	b.Write(enc)
}

func intArray(xs []int32) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	}
	b.WriteByte(']')
	return b.Bytes()
}

func strArray(xs []string) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, x)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// quoteJSON is s as a JSON string, Jackson's way.
func quoteJSON(s string) string {
	var b bytes.Buffer
	writeString(&b, s)
	return b.String()
}
