package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
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
		// Validate-only writes nothing: no assignment, no config znode, no log.
		vo := kmsg.NewPtrCreateTopicsRequest()
		vo.ValidateOnly, vo.TimeoutMillis = true, 5000
		vt := kmsg.NewCreateTopicsRequestTopic()
		vt.Topic, vt.NumPartitions, vt.ReplicationFactor = "validate-only", 2, 1
		vc := kmsg.NewCreateTopicsRequestTopicConfig()
		vc.Name, vc.Value = "retention.ms", kadm.StringPtr("60000")
		vt.Configs = append(vt.Configs, vc)
		vo.Topics = append(vo.Topics, vt)
		vr, err := vo.RequestWith(ctx, cl)
		if err != nil || vr.Topics[0].ErrorCode != 0 || vr.Topics[0].NumPartitions != 2 {
			t.Fatalf("validate only: %v %+v", err, vr)
		}
		conn := zkConn(t, zks)
		for _, p := range []string{"/brokers/topics/", "/config/topics/"} {
			// The same check sees a topic that was created, so its "absent" means absent.
			if !zkExists(t, conn, chroot+p+topic) {
				t.Fatalf("%s%s missing: the absence check below would prove nothing", p, topic)
			}
			if zkExists(t, conn, chroot+p+"validate-only") {
				t.Fatalf("validate-only created %s", p+"validate-only")
			}
		}
		logDirs := cfg.LogDirs[0]
		if _, err := os.Stat(filepath.Join(logDirs, topic+"-0")); err != nil {
			t.Fatalf("created topic's log dir: %v (the absence check below would prove nothing)", err)
		}
		if _, err := os.Stat(filepath.Join(logDirs, "validate-only-0")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("validate-only log dir: %v, want it absent", err)
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

		// Broker configs describe.
		brcs, err := adm.DescribeBrokerConfigs(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		brc, err := brcs.On("1", nil)
		if err != nil || brc.Err != nil || len(brc.Configs) == 0 {
			t.Fatalf("broker configs: %v %v %d", err, brc.Err, len(brc.Configs))
		}
	})

	t.Run("DynamicBrokerConfigs", func(t *testing.T) {
		ctx := ctxT(t, 20*time.Second)
		conn := zkConn(t, zks)
		rates := func(leader, follower int64) {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); ; {
				l, f := b.replicas.ThrottleRates()
				if l == leader && f == follower {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("throttle rates %d/%d, want %d/%d", l, f, leader, follower)
				}
				time.Sleep(10 * time.Millisecond) // polling the config listener's effect, with a deadline
			}
		}
		describe := func(names ...int32) map[string]kadm.Config {
			t.Helper()
			rcs, err := adm.DescribeBrokerConfigs(ctx, names...)
			if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
				t.Fatalf("describe broker configs: %v %+v", err, rcs)
			}
			out := map[string]kadm.Config{}
			for _, c := range rcs[0].Configs {
				out[c.Key] = c
			}
			return out
		}
		const unlimited = 1<<63 - 1
		// A per-broker rate (IncrementalAlterConfigs SET) and a cluster-wide default (legacy
		// AlterConfigs on ""), each in Kafka's znode with its notification, applied at runtime.
		resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "leader.replication.throttled.rate", Value: kadm.StringPtr("1000")}}, 1)
		if err != nil || resps[0].Err != nil {
			t.Fatalf("alter broker 1: %v %+v", err, resps)
		}
		if got := zkGet(t, conn, chroot, "/config/brokers/1"); got != `{"version":1,"config":{"leader.replication.throttled.rate":"1000"}}` {
			t.Fatalf("/config/brokers/1 = %s", got)
		}
		kids, _, _ := conn.Children(chroot + "/config/changes")
		sort.Strings(kids)
		if got := zkGet(t, conn, chroot, "/config/changes/"+kids[len(kids)-1]); got != `{"version":2,"entity_path":"brokers/1"}` {
			t.Fatalf("last config change = %s", got)
		}
		rates(1000, unlimited)
		resps, err = adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: "follower.replication.throttled.rate", Value: kadm.StringPtr("2000")},
			{Name: "leader.replication.throttled.rate", Value: kadm.StringPtr("3000")}})
		if err != nil || resps[0].Err != nil {
			t.Fatalf("alter the default: %v %+v", err, resps)
		}
		if got := zkGet(t, conn, chroot, "/config/brokers/<default>"); got != `{"version":1,"config":{"leader.replication.throttled.rate":"3000","follower.replication.throttled.rate":"2000"}}` {
			t.Fatalf("/config/brokers/<default> = %s", got)
		}
		rates(1000, 2000) // the broker's own leader rate wins over the default
		d := describe(1)
		if c := d["leader.replication.throttled.rate"]; c.Value == nil || *c.Value != "1000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
			t.Fatalf("described leader rate: %+v", c)
		}
		if c := d["follower.replication.throttled.rate"]; c.Value == nil || *c.Value != "2000" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
			t.Fatalf("described follower rate: %+v", c)
		}
		if c, ok := d["log.dirs"]; !ok || c.Value == nil {
			t.Fatalf("static configs no longer described: %+v", c)
		}
		if d := describe(); len(d) != 2 || d["leader.replication.throttled.rate"].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
			t.Fatalf("cluster default described: %+v", d)
		}
		// Kafka's refusals: a static key, a bad value, another broker's id, APPEND on a LONG.
		for _, tc := range []struct {
			name    string
			configs []kadm.AlterConfig
			broker  []int32
			msg     string
		}{
			{"static key", []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.dirs", Value: kadm.StringPtr("/x")}}, []int32{1},
				"Invalid config value for resource ConfigResource(type=BROKER, name='1'): Cannot update these configs dynamically: Set(log.dirs)"},
			{"bad value", []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "follower.replication.throttled.rate", Value: kadm.StringPtr("-5")}}, nil,
				"Invalid config value for resource ConfigResource(type=BROKER, name=''): Invalid value -5 for configuration follower.replication.throttled.rate: Value must be at least 0"},
			{"append", []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "leader.replication.throttled.rate", Value: kadm.StringPtr("5")}}, []int32{1},
				"Config value append is not allowed for config key: leader.replication.throttled.rate"},
		} {
			resps, err := adm.AlterBrokerConfigs(ctx, tc.configs, tc.broker...)
			if err != nil || !errors.Is(resps[0].Err, kerr.InvalidRequest) || resps[0].ErrMessage != tc.msg {
				t.Errorf("%s: %v %+v, want INVALID_REQUEST %q", tc.name, err, resps, tc.msg)
			}
		}
		// DELETE falls back to the default; clearing both removes the throttles.
		resps, _ = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "leader.replication.throttled.rate"}}, 1)
		if resps[0].Err != nil {
			t.Fatal(resps[0].Err)
		}
		rates(3000, 2000)
		resps, _ = adm.AlterBrokerConfigsState(ctx, nil)
		if resps[0].Err != nil {
			t.Fatal(resps[0].Err)
		}
		rates(unlimited, unlimited)
		if got := zkGet(t, conn, chroot, "/config/brokers/1"); got != `{"version":1,"config":{}}` {
			t.Fatalf("/config/brokers/1 after DELETE = %s", got)
		}
		// The topic-level lists are validated with Kafka's message.
		tr, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "leader.replication.throttled.replicas", Value: kadm.StringPtr("0-1")}}, topic)
		if tr[0].Err == nil || !strings.Contains(tr[0].ErrMessage, "must be the literal '*' or a list of replicas") {
			t.Fatalf("bad throttled replicas: %+v", tr)
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
