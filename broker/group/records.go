package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// Record schemas of __consumer_offsets, with the versions Kafka 2.8/3.x writes: offset commit
// key v1 and value v3 (v1 when the commit carries an expire timestamp), group metadata key v2
// and value v3. kmsg's OffsetCommitKey/Value and GroupMetadataKey/Value are the codec, so any
// Kafka tool decodes what Gregor writes and the other way round.
const (
	offsetKeyVersion         = 1
	offsetValueVersion       = 3
	offsetValueVersionExpire = 1
	groupKeyVersion          = 2
	groupValueVersion        = 3
)

// errBadRecord marks a __consumer_offsets record that does not decode.
var errBadRecord = errors.New("undecodable __consumer_offsets record")

func offsetKey(group string, tp klog.TopicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: tp.Topic, Partition: tp.Partition}
	return k.AppendTo(nil)
}

func offsetValue(o Offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if o.ExpireTimestamp >= 0 {
		v.Version = offsetValueVersionExpire
		v.ExpireTimestamp = o.ExpireTimestamp
	}
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.Offset, o.LeaderEpoch, o.Metadata, o.CommitTimestamp
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// groupValue is the group's metadata record, each member carrying its subscription for the
// selected protocol and the given assignment (Kafka's groupMetadataValue). Called with g.mu held.
func groupValue(g *Group, assignment map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	if g.protocolType != nil {
		v.ProtocolType = *g.protocolType
	}
	v.Generation = g.generation
	v.Protocol = g.protocol
	if g.leader != "" {
		v.Leader = strPtr(g.leader)
	}
	v.CurrentStateTimestamp = g.stateTimestamp
	for _, m := range g.membersInOrder() {
		mv := kmsg.NewGroupMetadataValueMember()
		mv.MemberID, mv.InstanceID, mv.ClientID, mv.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		mv.RebalanceTimeoutMillis, mv.SessionTimeoutMillis = m.rebalanceTimeoutMs, m.sessionTimeoutMs
		if g.protocol != nil {
			mv.Subscription = m.metadata(*g.protocol)
		}
		if mv.Subscription == nil {
			mv.Subscription = []byte{}
		}
		mv.Assignment = assignment[m.id]
		if mv.Assignment == nil {
			mv.Assignment = []byte{}
		}
		v.Members = append(v.Members, mv)
	}
	return v.AppendTo(nil)
}

// Record is one decoded __consumer_offsets record: an offset commit (Offset set, or a tombstone)
// or a group's metadata (Group set, or a tombstone). Exported for the dump tool and tests.
type Record struct {
	OffsetKey *kmsg.OffsetCommitKey
	GroupKey  *kmsg.GroupMetadataKey
	Offset    *kmsg.OffsetCommitValue  // nil with OffsetKey: the offset was deleted
	Group     *kmsg.GroupMetadataValue // nil with GroupKey: the group was deleted
}

// DecodeRecord decodes a record's key and value (nil value = tombstone) with kmsg's schemas,
// as Kafka's GroupMetadataManager.readMessageKey / read*MessageValue do. It is a parser of bytes
// from disk: any input returns a value or an error, never panics.
func DecodeRecord(key, value []byte) (Record, error) {
	if len(key) < 2 {
		return Record{}, fmt.Errorf("%w: key of %d bytes", errBadRecord, len(key))
	}
	var r Record
	switch version := int16(binary.BigEndian.Uint16(key)); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return Record{}, fmt.Errorf("%w: offset key: %v", errBadRecord, err)
		}
		r.OffsetKey = &k
		if value != nil {
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(value); err != nil {
				return Record{}, fmt.Errorf("%w: offset value: %v", errBadRecord, err)
			}
			if v.Version < 0 || v.Version > 4 {
				return Record{}, fmt.Errorf("%w: offset value version %d", errBadRecord, v.Version)
			}
			if v.Version < 3 {
				v.LeaderEpoch = -1
			}
			if v.Version != 1 {
				v.ExpireTimestamp = -1
			}
			r.Offset = &v
		}
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return Record{}, fmt.Errorf("%w: group key: %v", errBadRecord, err)
		}
		r.GroupKey = &k
		if value != nil {
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(value); err != nil {
				return Record{}, fmt.Errorf("%w: group value: %v", errBadRecord, err)
			}
			if v.Version < 0 || v.Version > 4 {
				return Record{}, fmt.Errorf("%w: group value version %d", errBadRecord, v.Version)
			}
			r.Group = &v
		}
	default:
		return Record{}, fmt.Errorf("%w: unknown key version %d", errBadRecord, version)
	}
	return r, nil
}

// kv is one record to write; a nil value is a tombstone.
type kv struct{ key, value []byte }

// Record-batch (magic 2) layout offsets; the CRC-32C covers everything from attributes on.
const (
	batchHeaderLen = 61
	crcOffset      = 17
	attrOffset     = 21
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// buildBatch encodes records as one uncompressed magic-2 batch with CreateTime timestamps, no
// producer id, base offset 0 (the log assigns offsets) — what Kafka's coordinator appends.
func buildBatch(timestampMs int64, recs []kv) []byte {
	var body []byte
	for i, r := range recs {
		body = appendRecord(body, int32(i), r)
	}
	b := make([]byte, 0, batchHeaderLen+len(body))
	b = binary.BigEndian.AppendUint64(b, 0)                                   // base offset
	b = binary.BigEndian.AppendUint32(b, uint32(batchHeaderLen-12+len(body))) // batch length
	b = binary.BigEndian.AppendUint32(b, 0xffffffff)                          // partition leader epoch: -1
	b = append(b, 2)                                                          // magic
	b = binary.BigEndian.AppendUint32(b, 0)                                   // crc, below
	b = binary.BigEndian.AppendUint16(b, 0)                                   // attributes: none, CreateTime
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)-1))                 // last offset delta
	b = binary.BigEndian.AppendUint64(b, uint64(timestampMs))                 // first timestamp
	b = binary.BigEndian.AppendUint64(b, uint64(timestampMs))                 // max timestamp
	b = binary.BigEndian.AppendUint64(b, 0xffffffffffffffff)                  // producer id: -1
	b = binary.BigEndian.AppendUint16(b, 0xffff)                              // producer epoch: -1
	b = binary.BigEndian.AppendUint32(b, 0xffffffff)                          // base sequence: -1
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)))                   // record count
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[crcOffset:], crc32.Checksum(b[attrOffset:], castagnoli))
	return b
}

// appendRecord encodes one record (varint framing, zero timestamp delta, no headers).
func appendRecord(dst []byte, offsetDelta int32, r kv) []byte {
	var rec []byte
	rec = append(rec, 0)              // attributes
	rec = binary.AppendVarint(rec, 0) // timestamp delta
	rec = binary.AppendVarint(rec, int64(offsetDelta))
	rec = appendVarBytes(rec, r.key)
	rec = appendVarBytes(rec, r.value)
	rec = binary.AppendVarint(rec, 0) // headers
	dst = binary.AppendVarint(dst, int64(len(rec)))
	return append(dst, rec...)
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
