package metadata

import (
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzUpdate feeds UpdateMetadata bodies from the network (decoded by kmsg, as the broker does)
// into the cache: no input may panic it or break a snapshot's invariants.
func FuzzUpdate(f *testing.F) {
	for _, v := range []int16{0, 4, 5, 7, 8} {
		r := v7(1, []kmsg.UpdateMetadataRequestLiveBroker{lb(1, 9092, strp("r"))},
			kmsg.UpdateMetadataRequestTopicState{Topic: "t", TopicID: [16]byte{1},
				PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{part("t", 0, 1, 0, 1), part("t", 1, -2, 0, 1)}})
		r.Version = v
		r.PartitionStates = []kmsg.UpdateMetadataRequestTopicPartition{part("u", 0, 1, 0, 1)}
		f.Add(v, r.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		if version < 0 || version > 8 {
			return
		}
		req := kmsg.NewPtrUpdateMetadataRequest()
		req.Version = version
		if err := req.ReadFrom(body); err != nil {
			return
		}
		c := New()
		c.Update(req)
		c.Update(req) // applying the same view twice is idempotent
		s := c.Snapshot()
		if !sort.StringsAreSorted(s.TopicNames()) || len(s.TopicNames()) != len(s.topics) {
			t.Fatalf("topic names %v vs %d topics", s.TopicNames(), len(s.topics))
		}
		for _, name := range s.TopicNames() {
			tp, ok := s.Topic(name)
			if !ok || len(tp.Partitions) == 0 {
				t.Fatalf("topic %q listed without partitions", name)
			}
			for i, p := range tp.Partitions {
				if p.Leader == LeaderDuringDelete || (i > 0 && tp.Partitions[i-1].Partition >= p.Partition) {
					t.Fatalf("topic %q partitions unsorted or deleted: %+v", name, tp.Partitions)
				}
			}
		}
	})
}
