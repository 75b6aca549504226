package network

import "testing"

// TestSlotRing: request order survives wrapping around the buffer and growing it.
func TestSlotRing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		pushFirst  int // pushed, then half popped, before the rest are pushed
		pushedMore int
	}{
		{"fits", 4, 4, 0},
		{"wraps", 4, 4, 2},
		{"grows while wrapped", 4, 4, 5},
		{"grows from empty", 0, 3, 0},
	} {
		r := slotRing{buf: make([]*slot, tc.size)}
		var want []*slot
		for i := 0; i < tc.pushFirst; i++ {
			s := &slot{key: int16(len(want))}
			want = append(want, s)
			r.push(s)
		}
		var got []*slot
		for i := 0; i < tc.pushFirst/2; i++ {
			got = append(got, r.pop())
		}
		for i := 0; i < tc.pushedMore; i++ {
			s := &slot{key: int16(len(want))}
			want = append(want, s)
			r.push(s)
		}
		if r.n != len(want)-len(got) {
			t.Fatalf("%s: %d held, want %d", tc.name, r.n, len(want)-len(got))
		}
		for i := 0; i < r.n; i++ {
			if r.at(i) != want[len(got)+i] {
				t.Fatalf("%s: at(%d) is slot %d, want %d", tc.name, i, r.at(i).key, len(got)+i)
			}
		}
		for r.n > 0 {
			got = append(got, r.pop())
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: popped slot %d at %d", tc.name, got[i].key, i)
			}
		}
	}
}
