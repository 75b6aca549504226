package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
)

// offsetsRecord renders a __consumer_offsets record as kafka-dump-log.sh --offsets-decoder does
// (Kafka's GroupMetadataManager.formatRecordKeyAndValue):
//
//	key: offset_commit::group=<g>,partition=<topic>-<p> payload: offset=<n>[,metadata=<m>]
//	key: group_metadata::group=<g> payload: {"protocolType":...,"protocol":...,"generationId":...,"assignment":"{<member>=[t-0, t-1],...}"}
//
// and "<DELETE>" for a tombstone. A record that does not decode says why in place of the key.
func offsetsRecord(key, value []byte) (string, string) {
	if key == nil {
		return "<undecodable: missing key>", string(value)
	}
	rec, err := group.DecodeRecord(key, value)
	if err != nil {
		return fmt.Sprintf("<undecodable: %v>", err), ""
	}
	if k := rec.OffsetKey; k != nil {
		ks := fmt.Sprintf("offset_commit::group=%s,partition=%s-%d", k.Group, k.Topic, k.Partition)
		switch {
		case rec.Offset == nil:
			return ks, "<DELETE>"
		case rec.Offset.Metadata == "":
			return ks, fmt.Sprintf("offset=%d", rec.Offset.Offset)
		default:
			return ks, fmt.Sprintf("offset=%d,metadata=%s", rec.Offset.Offset, rec.Offset.Metadata)
		}
	}
	ks := "group_metadata::group=" + rec.GroupKey.Group
	if rec.Group == nil {
		return ks, "<DELETE>"
	}
	g := rec.Group
	var members []string
	for _, m := range g.Members {
		if g.ProtocolType == "consumer" {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.Assignment); err != nil {
				members = append(members, fmt.Sprintf("%s=<undecodable assignment: %v>", m.MemberID, err))
				continue
			}
			var tps []string
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					tps = append(tps, fmt.Sprintf("%s-%d", t.Topic, p))
				}
			}
			s := m.MemberID + "=[" + strings.Join(tps, ", ") + "]"
			if len(a.UserData) > 0 {
				s += ":" + javaHex(a.UserData)
			}
			members = append(members, s)
		} else {
			members = append(members, m.MemberID+"="+javaHex(m.Assignment))
		}
	}
	// Jackson writes the map in insertion order and does not escape HTML characters.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	str := func(s string) string {
		buf.Reset()
		_ = enc.Encode(s)
		return strings.TrimSuffix(buf.String(), "\n")
	}
	protocol := "null"
	if g.Protocol != nil {
		protocol = str(*g.Protocol)
	}
	return ks, fmt.Sprintf(`{"protocolType":%s,"protocol":%s,"generationId":%d,"assignment":%s}`,
		str(g.ProtocolType), protocol, g.Generation, str("{"+strings.Join(members, ",")+"}"))
}

// javaHex is Scala's "%X".format(BigInt(1, bytes)): upper-case hex without leading zeros, ""
// for no bytes.
func javaHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := strings.TrimLeft(strings.ToUpper(hex.EncodeToString(b)), "0")
	if h == "" {
		return "0"
	}
	return h
}
