package order

import (
	"errors"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

func TestSerializerRoundTrip(t *testing.T) {
	e := Event{OrderID: "o-1", CustomerID: "c-9", Status: "paid", AmountCent: 1299, At: time.Unix(1700000000, 0).UTC()}
	b, err := Marshal(e)
	if err != nil || b[0] != SchemaV1 {
		t.Fatalf("marshal: %v %v", b, err)
	}
	back, err := Unmarshal(b)
	if err != nil || back != e {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if _, err := Unmarshal(append([]byte{7}, b[1:]...)); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("unknown schema: %v", err)
	}
	if _, err := Unmarshal(nil); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("empty: %v", err)
	}
}

func TestPartitioner(t *testing.T) {
	parts := []int{0, 1, 2, 3}
	var p Partitioner
	seen := map[int]bool{}
	for _, c := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		m, _ := Message(Event{CustomerID: c})
		first := p.Balance(m, parts...)
		if first == 3 {
			t.Fatalf("regular order of %s sent to the priority partition", c)
		}
		if again := p.Balance(m, parts...); again != first {
			t.Fatalf("customer %s moved from %d to %d", c, first, again)
		}
		seen[first] = true
	}
	if len(seen) < 2 {
		t.Fatalf("customers all in %v", seen)
	}
	m, _ := Message(Event{CustomerID: "alice", Priority: true})
	if got := p.Balance(m, parts...); got != 3 {
		t.Fatalf("priority order in partition %d", got)
	}
	if got := p.Balance(kafka.Message{Key: []byte("x")}, 5); got != 5 {
		t.Fatalf("single partition: %d", got)
	}
}
