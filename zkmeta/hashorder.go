package zkmeta

import "sort"

// javaStringHash is Java's String.hashCode over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// scalaHashMapOrder orders keys as a Scala 2.13 mutable.HashMap iterates them — the order of
// the partition maps in /brokers/topics/<t> (zk-layout.md §0.3): improved hash h ^ (h >>> 16),
// table size 16 doubling while n >= 0.75 * size, ascending bucket, then ascending hash.
func scalaHashMapOrder(keys []string) []string {
	size := 16
	for float64(len(keys)) >= 0.75*float64(size) {
		size *= 2
	}
	type kh struct {
		k string
		g int32
	}
	ks := make([]kh, len(keys))
	for i, k := range keys {
		h := javaStringHash(k)
		ks[i] = kh{k, h ^ int32(uint32(h)>>16)}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		bi, bj := int(ks[i].g)&(size-1), int(ks[j].g)&(size-1)
		if bi != bj {
			return bi < bj
		}
		return ks[i].g < ks[j].g
	})
	out := make([]string, len(ks))
	for i, x := range ks {
		out[i] = x.k
	}
	return out
}

// propertiesOrder orders config keys as java.util.Properties (a ConcurrentHashMap on JDK 9+)
// iterates them (§0.5): bucket (h ^ (h >>> 16)) & 0x7fffffff & (size-1), size 16 doubling at 12,
// 24... keys; insertion order within a bucket (sorted insertion here, as Kafka's writers do not
// promise one).
func propertiesOrder(keys []string) []string {
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	size := 16
	for len(sorted) >= size*3/4 {
		size *= 2
	}
	bucket := func(k string) int {
		h := javaStringHash(k)
		return int((h^int32(uint32(h)>>16))&0x7fffffff) & (size - 1)
	}
	sort.SliceStable(sorted, func(i, j int) bool { return bucket(sorted[i]) < bucket(sorted[j]) })
	return sorted
}
