package network

import (
	"encoding/binary"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxPooledOut bounds the response buffers kept for reuse: a 50 MB fetch response should not
// stay resident after it is written.
const maxPooledOut = 1 << 20

// outPool holds response buffers. A buffer is owned by one slot from encodeResponse until the
// writer has written it, then returned here; nothing else ever aliases it.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// encodeResponse frames resp: size, correlation id, the response-header tag buffer (header v1)
// when headerTags, then the body kmsg appends in place (one buffer, one write later).
func encodeResponse(corr int32, headerTags bool, resp kmsg.Response) *[]byte {
	bp := outPool.Get().(*[]byte)
	b := append((*bp)[:0], 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if headerTags {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b[:4], uint32(len(b)-4))
	*bp = b
	return bp
}

func releaseOut(bp *[]byte) {
	if bp != nil && cap(*bp) <= maxPooledOut {
		*bp = (*bp)[:0]
		outPool.Put(bp)
	}
}
