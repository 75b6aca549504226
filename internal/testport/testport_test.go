package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeNeverRepeatsAndIsBindable: many ports in a row, none twice, each one bindable, all
// below the ephemeral range.
func TestFreeNeverRepeatsAndIsBindable(t *testing.T) {
	lo, hi := pool()
	seen := map[int]bool{}
	for range 200 {
		p := Free(t, "127.0.0.1")
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if p < lo || p >= hi {
			t.Fatalf("port %d outside [%d, %d)", p, lo, hi)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not bindable: %v", p, err)
		}
		l.Close()
	}
}

// TestFreeSkipsPortsAnotherProcessHolds: a handed-out port's lock is held, and a port whose lock
// file is flocked elsewhere (here by other open file descriptions, which flock treats as it
// treats another process) is never handed out.
func TestFreeSkipsPortsAnotherProcessHolds(t *testing.T) {
	p := Free(t, "127.0.0.1")
	if f, err := reserve(p); err != nil || f != nil {
		t.Fatalf("the handed-out port %d is not locked: reserve gave %v, %v", p, f, err)
	}
	// Another process holds every fifth port of the pool: 200 ports handed out here would
	// include about 40 of them if the locks were ignored.
	lo, hi := pool()
	held := map[int]bool{}
	for q := lo; q < hi; q += 5 {
		f, err := reserve(q)
		if err != nil {
			t.Fatal(err)
		}
		if f != nil {
			held[q] = true
			defer f.Close()
		}
	}
	for range 200 {
		if q := Free(t, "127.0.0.1"); held[q] {
			t.Fatalf("port %d handed out while another process holds it", q)
		}
	}
}
