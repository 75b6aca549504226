package zkmeta

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// reservedUUID is Kafka's METADATA_TOPIC_ID (…AQ), never handed out.
var reservedUUID = [16]byte{15: 1}

// NewUUID draws a topic or cluster id by Kafka's rules: random, never all-zero nor the reserved
// id, and (Kafka 3.2+) never one whose text starts with '-', which tools would take for a flag.
func NewUUID() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:])
		if id == ([16]byte{}) || id == reservedUUID || UUIDString(id)[0] == '-' {
			continue
		}
		return id
	}
}

// UUIDString is Kafka's text form: URL-safe base64 without padding (22 characters).
func UUIDString(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseUUID reads UUIDString's form.
func ParseUUID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("bad uuid %q", s)
	}
	copy(id[:], b)
	return id, nil
}
