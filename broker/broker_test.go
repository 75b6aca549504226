package broker

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/zktest"
)

// TestSingleBrokerWithRealClients starts ZooKeeper and one in-process broker and drives every
// served API through franz-go (kgo + kadm) and kafka-go, as a user would.
func TestSingleBrokerWithRealClients(t *testing.T) {
	zks := zktest.Start(t)
	const chroot = "/gregor-it"
	cfg := testConfig(t, zks, 1, chroot)
	b := startBroker(t, cfg)
	addr := b.Addr("PLAINTEXT").String()
	cl := newClient(t, addr)
	adm := adminOf(cl)
	const topic = "orders"

	t.Run("CreateTopics", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		retention := "3600000"
		resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": &retention}, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("create: %v / %v", err, resp.Err)
		}
		if resp.ID == (kadm.TopicID{}) || resp.NumPartitions != 3 || resp.ReplicationFactor != 1 {
			t.Fatalf("create response %+v", resp)
		}
		// The handler waited for leaders: the very next Metadata has all three.
		md := freshMetadata(t, ctx, addr, topic)
		td := md.Topics[topic]
		if td.Err != nil || len(td.Partitions) != 3 || td.ID != resp.ID {
			t.Fatalf("metadata %+v", td)
		}
		for _, p := range td.Partitions {
			if p.Leader != 1 || p.Err != nil {
				t.Fatalf("partition %d leader %d err %v", p.Partition, p.Leader, p.Err)
			}
		}
		if md.Controller != 1 || md.Cluster != b.ClusterID() {
			t.Fatalf("controller %d cluster %q", md.Controller, md.Cluster)
		}

		// Kafka's errors for what cannot be created.
		again, _ := adm.CreateTopic(ctx, 1, 1, nil, topic)
		if !errors.Is(again.Err, kerr.TopicAlreadyExists) {
			t.Fatalf("duplicate create: %v", again.Err)
		}
		for _, tc := range []struct {
			name       string
			partitions int32
			rf         int16
			configs    map[string]*string
			want       error
		}{
			{"bad name!", 1, 1, nil, kerr.InvalidTopicException},
			{"orders_", 0, 1, nil, kerr.InvalidPartitions},
			{"too-many-replicas", 1, 3, nil, kerr.InvalidReplicationFactor},
			{"bad-config", 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, kerr.InvalidConfig},
			{"unknown-config", 1, 1, map[string]*string{"no.such.config": kadm.StringPtr("1")}, kerr.InvalidConfig},
		} {
			// kadm returns the topic's error as the call's error too.
			r, err := adm.CreateTopic(ctx, tc.partitions, tc.rf, tc.configs, tc.name)
			if !errors.Is(r.Err, tc.want) || !errors.Is(err, tc.want) {
				t.Fatalf("%s: %v / %v, want %v", tc.name, r.Err, err, tc.want)
			}
		}
		// '.' vs '_' collision with an existing topic.
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, "metrics.eu"); err != nil {
			t.Fatal(err)
		}
		r, _ := adm.CreateTopic(ctx, 1, 1, nil, "metrics_eu")
		if !errors.Is(r.Err, kerr.InvalidTopicException) {
			t.Fatalf("colliding name: %v", r.Err)
		}
		// Validate-only writes nothing.
		vo := kmsg.NewPtrCreateTopicsRequest()
		vo.ValidateOnly, vo.TimeoutMillis = true, 5000
		vt := kmsg.NewCreateTopicsRequestTopic()
		vt.Topic, vt.NumPartitions, vt.ReplicationFactor = "validate-only", 2, 1
		vo.Topics = append(vo.Topics, vt)
		vr, err := vo.RequestWith(ctx, cl)
		if err != nil || vr.Topics[0].ErrorCode != 0 || vr.Topics[0].NumPartitions != 2 {
			t.Fatalf("validate only: %v %+v", err, vr)
		}
		if ok, _, _ := zkConn(t, zks).Exists(chroot + "/brokers/topics/validate-only"); ok {
			t.Fatal("validate-only created the topic znode")
		}
	})

	const perPartition = 100
	t.Run("ProduceIdempotentAcksAll", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		p := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
		var recs []*kgo.Record
		for part := int32(0); part < 3; part++ {
			for i := 0; i < perPartition; i++ {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Key: []byte(fmt.Sprint(i)), Value: []byte(recordValue(part, i))})
			}
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		for _, r := range recs[:3] {
			if r.ProducerID < 0 {
				t.Fatalf("record not produced idempotently: producer id %d", r.ProducerID)
			}
		}
		// Offsets per partition are 0..99 in production order.
		for i, r := range recs {
			if want := int64(i % perPartition); r.Offset != want {
				t.Fatalf("record %d of partition %d at offset %d, want %d", i, r.Partition, r.Offset, want)
			}
		}
		// /latest_producer_id_block holds this broker's block (taken at startup as Kafka 2.8).
		if got := zkGet(t, zkConn(t, zks), chroot, "/latest_producer_id_block"); !strings.Contains(got, `"broker":1`) {
			t.Fatalf("/latest_producer_id_block = %s", got)
		}
	})

	t.Run("ConsumeEverything", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		offsets := map[string]map[int32]kgo.Offset{topic: {}}
		for p := int32(0); p < 3; p++ {
			offsets[topic][p] = kgo.NewOffset().AtStart()
		}
		c := newClient(t, addr, kgo.ConsumePartitions(offsets), kgo.FetchMaxWait(500*time.Millisecond))
		got := map[int32][]string{}
		for n := 0; n < 3*perPartition; {
			fs := c.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d: %v", n, 3*perPartition, err)
			}
			fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", tp, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				got[r.Partition] = append(got[r.Partition], string(r.Value))
				n++
			})
		}
		for p := int32(0); p < 3; p++ {
			if len(got[p]) != perPartition {
				t.Fatalf("partition %d: %d records", p, len(got[p]))
			}
			for i, v := range got[p] {
				if v != recordValue(p, i) {
					t.Fatalf("partition %d record %d = %q", p, i, v)
				}
			}
		}
	})

	t.Run("ListOffsets", func(t *testing.T) {
		ctx := ctxT(t, 10*time.Second)
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 3; p++ {
			e, _ := ends.Lookup(topic, p)
			s, _ := starts.Lookup(topic, p)
			if e.Err != nil || e.Offset != perPartition || s.Err != nil || s.Offset != 0 {
				t.Fatalf("partition %d: start %+v end %+v", p, s, e)
			}
		}
		after, err := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), topic)
		if err != nil {
			t.Fatal(err)
		}
		// No record that late: the broker answers -1 and kadm substitutes the end offset.
		if o, _ := after.Lookup(topic, 0); o.Err != nil || o.Offset != perPartition {
			t.Fatalf("offset after a future timestamp: %+v", o)
		}
		early, err := adm.ListOffsetsAfterMilli(ctx, 0, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := early.Lookup(topic, 1); o.Err != nil || o.Offset != 0 {
			t.Fatalf("offset after timestamp 0: %+v", o)
		}
	})

	t.Run("DescribeAndAlterConfigs", func(t *testing.T) {
		ctx := ctxT(t, 10*time.Second)
		describe := func(name string) kadm.Config {
			t.Helper()
			rcs, err := adm.DescribeTopicConfigs(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := rcs.On(topic, nil)
			if err != nil || rc.Err != nil {
				t.Fatalf("describe: %v %v", err, rc.Err)
			}
			for _, c := range rc.Configs {
				if c.Key == name {
					return c
				}
			}
			t.Fatalf("config %s not described; got %d configs", name, len(rc.Configs))
			return kadm.Config{}
		}
		c := describe("retention.ms")
		if c.Value == nil || *c.Value != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("retention.ms = %v source %v", c.Value, c.Source)
		}
		if d := describe("segment.bytes"); d.Source != kmsg.ConfigSourceStaticBrokerConfig && d.Source != kmsg.ConfigSourceDefaultConfig {
			t.Fatalf("segment.bytes source %v", d.Source)
		}

		// Incremental: set one, keep the other.
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("600000")}}, topic)
		if err != nil || resps[0].Err != nil {
			t.Fatalf("incremental alter: %v %+v", err, resps)
		}
		if c := describe("segment.ms"); c.Value == nil || *c.Value != "600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("segment.ms after incremental alter: %v %v", c.Value, c.Source)
		}
		if c := describe("retention.ms"); *c.Value != "3600000" {
			t.Fatalf("incremental alter lost retention.ms: %v", *c.Value)
		}
		// APPEND on a list config; APPEND on a non-list config is refused.
		resps, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")}}, topic)
		if resps[0].Err != nil {
			t.Fatalf("append cleanup.policy: %v", resps[0].Err)
		}
		if c := describe("cleanup.policy"); *c.Value != "delete,compact" {
			t.Fatalf("cleanup.policy after append = %s", *c.Value)
		}
		resps, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "retention.ms", Value: kadm.StringPtr("1")}}, topic)
		if resps[0].Err == nil {
			t.Fatal("append on a non-list config accepted")
		}
		// Legacy AlterConfigs replaces the whole set.
		resps, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("7200000")}}, topic)
		if err != nil || resps[0].Err != nil {
			t.Fatalf("legacy alter: %v %+v", err, resps)
		}
		if c := describe("retention.ms"); *c.Value != "7200000" {
			t.Fatalf("retention.ms after legacy alter = %s", *c.Value)
		}
		if c := describe("segment.ms"); c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatal("legacy alter kept segment.ms: it must replace the whole override set")
		}
		resps, _ = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("x")}}, topic)
		if !errors.Is(resps[0].Err, kerr.InvalidConfig) {
			t.Fatalf("invalid value: %v", resps[0].Err)
		}
		resps, _ = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("1")}}, "no-such-topic")
		if !errors.Is(resps[0].Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("unknown topic: %v", resps[0].Err)
		}
		// The change notification is in ZooKeeper, as Kafka writes it.
		conn := zkConn(t, zks)
		kids, _, err := conn.Children(chroot + "/config/changes")
		if err != nil || len(kids) == 0 {
			t.Fatalf("/config/changes children %v %v", kids, err)
		}
		sort.Strings(kids)
		if got := zkGet(t, conn, chroot, "/config/changes/"+kids[len(kids)-1]); got != `{"version":2,"entity_path":"topics/orders"}` {
			t.Fatalf("last config change = %s", got)
		}

		// Broker configs describe; altering them is refused.
		brcs, err := adm.DescribeBrokerConfigs(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		brc, err := brcs.On("1", nil)
		if err != nil || brc.Err != nil || len(brc.Configs) == 0 {
			t.Fatalf("broker configs: %v %v %d", err, brc.Err, len(brc.Configs))
		}
	})

	t.Run("CreatePartitions", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		resps, err := adm.UpdatePartitions(ctx, 5, topic)
		if err != nil {
			t.Fatal(err)
		}
		if r := resps[topic]; r.Err != nil {
			t.Fatalf("update partitions: %v", r.Err)
		}
		md := freshMetadata(t, ctx, addr, topic)
		if n := len(md.Topics[topic].Partitions); n != 5 {
			t.Fatalf("%d partitions after the increase", n)
		}
		for _, p := range md.Topics[topic].Partitions {
			if p.Leader != 1 {
				t.Fatalf("partition %d leader %d", p.Partition, p.Leader)
			}
		}
		if r, _ := adm.UpdatePartitions(ctx, 4, topic); !errors.Is(r[topic].Err, kerr.InvalidPartitions) {
			t.Fatalf("decrease: %v", r[topic].Err)
		}
		p := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 4, Value: []byte("new partition")}).FirstErr(); err != nil {
			t.Fatalf("produce to new partition: %v", err)
		}
	})

	t.Run("DeleteRecords", func(t *testing.T) {
		ctx := ctxT(t, 10*time.Second)
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 40})
		resps, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			t.Fatal(err)
		}
		r := resps[topic][0]
		if r.Err != nil || r.LowWatermark != 40 {
			t.Fatalf("delete records: %+v", r)
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := starts.Lookup(topic, 0); s.Offset != 40 {
			t.Fatalf("start offset after DeleteRecords = %d", s.Offset)
		}
	})

	t.Run("AutoCreateThroughMetadata", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		req := kmsg.NewPtrMetadataRequest()
		name := "auto-created"
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
		req.AllowAutoTopicCreation = true
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].ErrorCode; code != kerr.LeaderNotAvailable.Code {
			t.Fatalf("first Metadata for a new topic: code %d, want LEADER_NOT_AVAILABLE", code)
		}
		// Without the flag (v4+) an unknown topic stays unknown.
		off := kmsg.NewPtrMetadataRequest()
		other := "not-auto-created"
		off.Topics = []kmsg.MetadataRequestTopic{{Topic: &other}}
		off.AllowAutoTopicCreation = false
		resp, err = off.RequestWith(ctx, cl)
		if err != nil || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("no auto-create: %v %+v", err, resp)
		}
		// A producer allowed to auto-create writes to a topic nobody created.
		p := newClient(t, addr, kgo.AllowAutoTopicCreation())
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: "auto-by-producer", Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("produce with auto-create: %v", err)
		}
		md := freshMetadata(t, ctx, addr, name, "auto-by-producer")
		for _, n := range []string{name, "auto-by-producer"} {
			if td := md.Topics[n]; td.Err != nil || len(td.Partitions) != int(cfg.NumPartitions) {
				t.Fatalf("auto-created %s: %+v", n, td)
			}
		}
	})

	t.Run("KafkaGoRoundTrip", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		const kgTopic = "kafka-go-topic"
		if r, err := adm.CreateTopic(ctx, 1, 1, nil, kgTopic); err != nil || r.Err != nil {
			t.Fatalf("create: %v %v", err, r.Err)
		}
		w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: kgTopic, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
		defer w.Close()
		var msgs []kafka.Message
		for i := 0; i < 50; i++ {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("kafka-go %d", i)),
				Headers: []kafka.Header{{Key: "i", Value: []byte(fmt.Sprint(i))}}})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("kafka-go write: %v", err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: kgTopic, Partition: 0,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond})
		defer r.Close()
		for i := 0; i < 50; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("kafka-go read %d: %v", i, err)
			}
			if m.Offset != int64(i) || string(m.Value) != fmt.Sprintf("kafka-go %d", i) || len(m.Headers) != 1 || string(m.Headers[0].Value) != fmt.Sprint(i) {
				t.Fatalf("kafka-go message %d: offset %d value %q headers %v", i, m.Offset, m.Value, m.Headers)
			}
		}
	})

	t.Run("DeleteTopics", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		resps, err := adm.DeleteTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if r := resps[topic]; r.Err != nil {
			t.Fatalf("delete: %v", r.Err)
		}
		// A direct request: kadm.Metadata may answer from kgo's metadata cache.
		mreq := kmsg.NewPtrMetadataRequest()
		mreq.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
		mresp, err := mreq.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if code := mresp.Topics[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("after delete, metadata error code %d", code)
		}
		resps, _ = adm.DeleteTopics(ctx, "never-existed")
		if !errors.Is(resps["never-existed"].Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("delete unknown: %v", resps["never-existed"].Err)
		}
		// DeleteTopics returns once brokers dropped the topic from their metadata (as Kafka's);
		// the controller then finishes: replicas stopped and deleted, znodes removed.
		conn := zkConn(t, zks)
		waitZNodeGone(t, conn, chroot+"/brokers/topics/"+topic, 20*time.Second)
		waitZNodeGone(t, conn, chroot+"/config/topics/"+topic, 20*time.Second)
		waitZNodeGone(t, conn, chroot+"/admin/delete_topics/"+topic, 20*time.Second)
	})

	t.Run("DescribeCluster", func(t *testing.T) {
		ctx := ctxT(t, 10*time.Second)
		req := kmsg.NewPtrDescribeClusterRequest()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		port := b.Addr("PLAINTEXT").(*net.TCPAddr).Port
		if resp.ClusterID != b.ClusterID() || resp.ControllerID != 1 || len(resp.Brokers) != 1 ||
			resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Host != "127.0.0.1" || int(resp.Brokers[0].Port) != port {
			t.Fatalf("describe cluster %+v", resp)
		}
	})
}

// TestStartupRefusals: a second broker with a live broker's id, and log dirs that belong to
// another cluster, fail Start with errors that say so.
func TestStartupRefusals(t *testing.T) {
	zks := zktest.Start(t)
	first := testConfig(t, zks, 7, "/refusals-a")
	running := startBroker(t, first)

	dup := testConfig(t, zks, 7, "/refusals-a")
	b, err := New(dup, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Start(ctxT(t, 30*time.Second))
	mustContain(t, err, "broker id 7 is already registered by a live broker")
	if werr := b.Wait(); werr != nil {
		t.Fatalf("Wait after a failed Start: %v", werr)
	}

	// The first broker's log dir, offered to a broker of another cluster (another chroot).
	if err := running.Shutdown(); err != nil {
		t.Fatal(err)
	}
	other := testConfig(t, zks, 7, "/refusals-b")
	other.LogDirs = first.LogDirs
	b2, err := New(other, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b2.Start(ctxT(t, 30*time.Second))
	mustContain(t, err, first.LogDirs[0], "cluster")
}
