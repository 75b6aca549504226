package log

import (
	"fmt"
	"testing"
)

// TestOffsetMap: the cleaner's key map against a Go map: latest offset per key, absent keys, the
// load-factor limit and latestOffset, across reuse at different sizes.
func TestOffsetMap(t *testing.T) {
	m := newOffsetMap()
	for _, tc := range []struct {
		slots, keys, puts int
		load              float64
	}{
		{2, 1, 5, 0.9}, {10, 5, 100, 0.9}, {1000, 700, 5000, 0.75}, {64, 64, 64, 0.5},
	} {
		t.Run(fmt.Sprintf("%d-slots-%d-keys", tc.slots, tc.keys), func(t *testing.T) {
			m.reset(tc.slots, tc.load)
			want := map[string]int64{}
			var latest int64 = -1
			for off := int64(0); off < int64(tc.puts); off++ {
				k := fmt.Sprintf("k%d", (off*7919)%int64(tc.keys))
				if m.full() { // the cleaner stops mapping here, as Kafka's does
					if len(want) != m.maxSize {
						t.Fatalf("full at %d keys, max %d", len(want), m.maxSize)
					}
					break
				}
				m.put([]byte(k), off)
				want[k], latest = off, off
			}
			if m.size != len(want) {
				t.Fatalf("size %d, want %d", m.size, len(want))
			}
			if m.size > m.maxSize || m.maxSize >= tc.slots {
				t.Fatalf("size %d, max %d, slots %d", m.size, m.maxSize, tc.slots)
			}
			for k, off := range want {
				if got := m.get([]byte(k)); got != off {
					t.Fatalf("get(%s) = %d, want %d", k, got, off)
				}
			}
			if got := m.get([]byte("absent")); got != -1 {
				t.Fatalf("absent key: %d", got)
			}
			if m.latestOffset != latest {
				t.Fatalf("latestOffset %d, want %d", m.latestOffset, latest)
			}
			m.advanceTo(latest - 1)
			m.advanceTo(latest + 10)
			if m.latestOffset != latest+10 {
				t.Fatalf("advanceTo: %d", m.latestOffset)
			}
		})
	}
}
