package api

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
)

// fetchResponse is a Fetch response whose record batches are still in the segment files: the
// network encodes it with AppendZeroCopy and sends the batches with sendfile (network.ZeroCopy).
// The embedded response holds every other field, as kmsg would send it; a partition whose
// batches are in files has RecordBatches empty and its files in files (response order).
type fetchResponse struct {
	kmsg.FetchResponse
	files   []*klog.Records // one per partition, in response order; nil: RecordBatches is the answer
	results []replica.FetchResult
}

var _ network.ZeroCopy = (*fetchResponse)(nil)

// Release drops the segment files' references (network.ZeroCopy).
func (r *fetchResponse) Release() { replica.ReleaseFetch(r.results) }

// AppendTo is the copying encoding, for writers other than the network's: the batches are read
// into RecordBatches first. A range truncated meanwhile is sent empty, as the partition's
// records, which clients take for "no data yet" and fetch again.
func (r *fetchResponse) AppendTo(b []byte) []byte {
	i := 0
	for ti := range r.Topics {
		for pi := range r.Topics[ti].Partitions {
			if f := r.files[i]; f != nil && f.Len() > 0 {
				data, err := f.AppendTo(nil)
				if err != nil {
					data = []byte{}
				}
				r.Topics[ti].Partitions[pi].RecordBatches = data
			}
			i++
		}
	}
	return r.FetchResponse.AppendTo(b)
}

// AppendZeroCopy is kmsg's FetchResponse encoding (versions 4–12, the ones served) with each
// file-held partition's record bytes left out and their place recorded in secs. It encodes the
// fields Gregor sets; the tagged fields it writes are those kmsg writes for them (DivergingEpoch,
// CurrentLeader, SnapshotID when not default). fetchresponse_test.go holds it to kmsg's bytes.
func (r *fetchResponse) AppendZeroCopy(b []byte, secs []network.Section) ([]byte, []network.Section) {
	v := r.Version
	flex := v >= 12
	b = binary.BigEndian.AppendUint32(b, uint32(r.ThrottleMillis))
	if v >= 7 {
		b = binary.BigEndian.AppendUint16(b, uint16(r.ErrorCode))
		b = binary.BigEndian.AppendUint32(b, uint32(r.SessionID))
	}
	b = appendArrayLen(b, len(r.Topics), flex)
	i := 0
	for ti := range r.Topics {
		t := &r.Topics[ti]
		b = appendString(b, t.Topic, flex)
		b = appendArrayLen(b, len(t.Partitions), flex)
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			b = binary.BigEndian.AppendUint32(b, uint32(p.Partition))
			b = binary.BigEndian.AppendUint16(b, uint16(p.ErrorCode))
			b = binary.BigEndian.AppendUint64(b, uint64(p.HighWatermark))
			b = binary.BigEndian.AppendUint64(b, uint64(p.LastStableOffset))
			if v >= 5 {
				b = binary.BigEndian.AppendUint64(b, uint64(p.LogStartOffset))
			}
			if p.AbortedTransactions == nil {
				b = appendNullArrayLen(b, flex)
			} else {
				b = appendArrayLen(b, len(p.AbortedTransactions), flex)
				for _, a := range p.AbortedTransactions {
					b = binary.BigEndian.AppendUint64(b, uint64(a.ProducerID))
					b = binary.BigEndian.AppendUint64(b, uint64(a.FirstOffset))
					if flex {
						b = append(b, 0)
					}
				}
			}
			if v >= 11 {
				b = binary.BigEndian.AppendUint32(b, uint32(p.PreferredReadReplica))
			}
			if f := r.files[i]; f != nil && f.Len() > 0 {
				b = appendBytesLen(b, f.Len(), flex)
				for k := 0; k < f.Slices(); k++ {
					secs = append(secs, network.Section{At: len(b), Src: f.Slice(k)})
				}
			} else if p.RecordBatches == nil {
				b = appendNullArrayLen(b, flex)
			} else {
				b = appendBytesLen(b, int64(len(p.RecordBatches)), flex)
				b = append(b, p.RecordBatches...)
			}
			i++
			if flex {
				b = appendPartitionTags(b, p)
			}
		}
		if flex {
			b = append(b, 0) // topic tags
		}
	}
	if flex {
		b = append(b, 0) // response tags (Brokers, v16+, is never set here)
	}
	return b, secs
}

func appendPartitionTags(b []byte, p *kmsg.FetchResponseTopicPartition) []byte {
	div := p.DivergingEpoch.Epoch != -1 || p.DivergingEpoch.EndOffset != -1
	lead := p.CurrentLeader.LeaderID != -1 || p.CurrentLeader.LeaderEpoch != -1
	snap := p.SnapshotID.EndOffset != -1 || p.SnapshotID.Epoch != -1
	n := 0
	for _, set := range [...]bool{div, lead, snap} {
		if set {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	if div { // tag 0, 12 bytes + empty tags
		b = append(b, 0, 13)
		b = binary.BigEndian.AppendUint32(b, uint32(p.DivergingEpoch.Epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(p.DivergingEpoch.EndOffset))
		b = append(b, 0)
	}
	if lead { // tag 1, 8 bytes + empty tags
		b = append(b, 1, 9)
		b = binary.BigEndian.AppendUint32(b, uint32(p.CurrentLeader.LeaderID))
		b = binary.BigEndian.AppendUint32(b, uint32(p.CurrentLeader.LeaderEpoch))
		b = append(b, 0)
	}
	if snap { // tag 2, 12 bytes + empty tags
		b = append(b, 2, 13)
		b = binary.BigEndian.AppendUint64(b, uint64(p.SnapshotID.EndOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(p.SnapshotID.Epoch))
		b = append(b, 0)
	}
	return b
}

func appendArrayLen(b []byte, n int, flex bool) []byte {
	if flex {
		return binary.AppendUvarint(b, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func appendNullArrayLen(b []byte, flex bool) []byte {
	if flex {
		return append(b, 0)
	}
	return binary.BigEndian.AppendUint32(b, 0xffffffff)
}

func appendBytesLen(b []byte, n int64, flex bool) []byte {
	if flex {
		return binary.AppendUvarint(b, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func appendString(b []byte, s string, flex bool) []byte {
	if flex {
		b = binary.AppendUvarint(b, uint64(len(s))+1)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	}
	return append(b, s...)
}
