package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// FuzzDecodeRecord: any key and value read from a __consumer_offsets segment decode or fail
// with an error; a record that decodes re-encodes to one that decodes the same.
func FuzzDecodeRecord(f *testing.F) {
	g := newGroup("g", 0, Stable, 5)
	g.generation, g.protocolType, g.protocol, g.leader = 3, strPtr("consumer"), strPtr("range"), "m"
	g.add(&member{id: "m", clientID: "c", clientHost: "/1.2.3.4", protocols: []Protocol{{Name: "range", Metadata: subscription("t")}}})
	f.Add(offsetKey("g", klog.TopicPartition{Topic: "t", Partition: 3}), offsetValue(Offset{Offset: 7, LeaderEpoch: 2, Metadata: "md", CommitTimestamp: 9, ExpireTimestamp: -1}))
	f.Add(offsetKey("g", klog.TopicPartition{Topic: "t", Partition: 3}), offsetValue(Offset{Offset: 7, LeaderEpoch: -1, ExpireTimestamp: 100}))
	f.Add(offsetKey("g", klog.TopicPartition{Topic: "t", Partition: 3}), []byte(nil))
	f.Add(groupKey("g"), groupValue(g, map[string][]byte{"m": {1, 2}}))
	f.Add(groupKey("g"), []byte(nil))
	f.Add([]byte{0, 9, 0, 0}, []byte{0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		rec, err := DecodeRecord(key, value)
		if err != nil {
			return
		}
		switch {
		case rec.OffsetKey != nil && rec.Offset != nil:
			k2, v2 := rec.OffsetKey.AppendTo(nil), rec.Offset.AppendTo(nil)
			again, err := DecodeRecord(k2, v2)
			if err != nil || again.Offset.Offset != rec.Offset.Offset || again.OffsetKey.Group != rec.OffsetKey.Group {
				t.Fatalf("re-encoded offset record: %+v %v", again, err)
			}
		case rec.GroupKey != nil && rec.Group != nil:
			v2 := rec.Group.AppendTo(nil)
			var again kmsg.GroupMetadataValue
			if err := again.ReadFrom(v2); err != nil || len(again.Members) != len(rec.Group.Members) || again.Generation != rec.Group.Generation {
				t.Fatalf("re-encoded group record: %+v %v", again, err)
			}
			groupFromRecord(rec.GroupKey.Group, 0, rec.Group) // must not panic on any decoded value
		}
	})
}

// FuzzSubscriptionTopics: member metadata from the network never panics the subscription
// reader, and what it reads is bounded by the input.
func FuzzSubscriptionTopics(f *testing.F) {
	f.Add(subscription("orders", "payments"))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 1, 'a'})
	f.Add([]byte{0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		topics, ok := subscriptionTopics(b)
		if ok && len(topics) > len(b)/2 {
			t.Fatalf("%d topics from %d bytes", len(topics), len(b))
		}
	})
}

func TestRecordsRoundTrip(t *testing.T) {
	tp := klog.TopicPartition{Topic: "orders", Partition: 4}
	for _, o := range []Offset{
		{Offset: 10, LeaderEpoch: 3, Metadata: "x", CommitTimestamp: 77, ExpireTimestamp: -1},
		{Offset: 11, LeaderEpoch: -1, Metadata: "", CommitTimestamp: 78, ExpireTimestamp: 1000},
	} {
		rec, err := DecodeRecord(offsetKey("g", tp), offsetValue(o))
		if err != nil {
			t.Fatal(err)
		}
		wantVersion := int16(3)
		if o.ExpireTimestamp >= 0 {
			wantVersion = 1
		}
		v := rec.Offset
		if rec.OffsetKey.Version != 1 || rec.OffsetKey.Topic != "orders" || rec.OffsetKey.Partition != 4 || v.Version != wantVersion ||
			v.Offset != o.Offset || v.LeaderEpoch != o.LeaderEpoch || v.Metadata != o.Metadata || v.CommitTimestamp != o.CommitTimestamp || v.ExpireTimestamp != o.ExpireTimestamp {
			t.Fatalf("round trip of %+v: key %+v value %+v", o, rec.OffsetKey, v)
		}
	}
	instance := "i-1"
	g := newGroup("g", 0, Stable, 55)
	g.add(&member{id: "m-1", instanceID: &instance, clientID: "c", clientHost: "/h", rebalanceTimeoutMs: 300, sessionTimeoutMs: 100,
		protocolType: "consumer", protocols: []Protocol{{Name: "sticky", Metadata: []byte{9}}, {Name: "range", Metadata: []byte{8}}}})
	g.generation, g.protocol = 6, strPtr("range")
	rec, err := DecodeRecord(groupKey("g"), groupValue(g, map[string][]byte{"m-1": {7}}))
	if err != nil {
		t.Fatal(err)
	}
	loaded := groupFromRecord("g", 0, rec.Group)
	m := loaded.members["m-1"]
	if rec.GroupKey.Version != 2 || rec.Group.Version != 3 || loaded.generation != 6 || *loaded.protocol != "range" ||
		loaded.leader != "m-1" || loaded.stateTimestamp != 55 || m == nil || *m.instanceID != "i-1" || m.sessionTimeoutMs != 100 ||
		m.rebalanceTimeoutMs != 300 || string(m.metadata("range")) != "\x08" || string(m.assignment) != "\x07" || loaded.static["i-1"] != "m-1" {
		t.Fatalf("group round trip: %+v / %+v", rec.Group, loaded)
	}
	// A batch built for the log is one the log accepts and decodes back.
	batch := buildBatch(1234, []kv{{offsetKey("g", tp), offsetValue(Offset{Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1})}, {groupKey("g"), nil}})
	h, recs, err := klog.DecodeRecords(batch)
	if err != nil || h.NumRecords != 2 || len(recs) != 2 || recs[1].Value != nil || recs[0].Timestamp != 1234 || h.ProducerID != -1 {
		t.Fatalf("batch: %+v %+v %v", h, recs, err)
	}
}
