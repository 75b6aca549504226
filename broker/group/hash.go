package group

import "unicode/utf16"

// OffsetsTopic is the internal topic that stores groups and their offsets.
const OffsetsTopic = "__consumer_offsets"

// javaStringHashCode is Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1] over the UTF-16
// code units, in 32-bit wrapping arithmetic. Kafka's group id arrives as UTF-8 and Java decodes
// invalid bytes as U+FFFD, as Go's []rune conversion does.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// PartitionFor is the __consumer_offsets partition that stores group: Kafka's
// Utils.abs(groupId.hashCode) % partitions, where Utils.abs maps MinInt32 to 0. Any Kafka tool
// computes the same, so all agree on where a group lives.
func PartitionFor(group string, partitions int32) int32 {
	if partitions <= 0 {
		return 0
	}
	h := javaStringHashCode(group)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}
