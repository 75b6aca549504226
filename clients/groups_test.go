package clients

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDecodeAssignment(t *testing.T) {
	a := kmsg.ConsumerMemberAssignment{Version: 1, Topics: []kmsg.ConsumerMemberAssignmentTopic{
		{Topic: "orders", Partitions: []int32{2, 0}}, {Topic: "pay", Partitions: []int32{5}}}, UserData: []byte{1, 2}}
	got := decodeAssignment(a.AppendTo(nil))
	want := []TopicPartition{{"orders", 2}, {"orders", 0}, {"pay", 5}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {0, 0, 0, 0, 0, 1, 0, 9}, {0, 0, 0, 0, 0, 1, 0, 1, 'a', 0x7f, 0, 0, 0}} {
		if got := decodeAssignment(bad); len(got) != 0 {
			t.Fatalf("decodeAssignment(%v) = %v", bad, got)
		}
	}
}

// FuzzDecodeAssignment: an assignment from the network (DescribeGroups) never panics the
// decoder, and cannot make it allocate beyond what the bytes describe.
func FuzzDecodeAssignment(f *testing.F) {
	a := kmsg.ConsumerMemberAssignment{Topics: []kmsg.ConsumerMemberAssignmentTopic{{Topic: "t", Partitions: []int32{0, 1}}}}
	f.Add(a.AppendTo(nil))
	f.Add([]byte{0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got := decodeAssignment(b); len(got) > len(b)/4 {
			t.Fatalf("%d partitions from %d bytes", len(got), len(b))
		}
	})
}
