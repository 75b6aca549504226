package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A group member runs as its own process so that a test can SIGKILL it for real: the test
// binary re-runs itself with -test.run=^TestGroupMemberProcess$ and these variables set. The
// member prints one line per event on stdout:
//
//	read <partition> <offset> <value>    after a record is returned to it
//	commit <partition> <next offset>     after a commit is acknowledged
//	assigned <generation> <partitions>   after an assignment (franz-go members)
//	subscribed <partition>:<offset> ...  a generation's start offsets (kafka-go members)
//
// SIGTERM makes it close its client (which leaves the group) and exit.
const (
	memberKindEnv      = "GREGOR_GROUP_MEMBER"
	memberBootstrapEnv = "GREGOR_GROUP_BOOTSTRAP"
	memberGroupEnv     = "GREGOR_GROUP_ID"
	memberTopicEnv     = "GREGOR_GROUP_TOPIC"
	memberNameEnv      = "GREGOR_GROUP_MEMBER_NAME"
	memberInstanceEnv  = "GREGOR_GROUP_INSTANCE"
	memberSessionEnv   = "GREGOR_GROUP_SESSION_MS"
)

// TestGroupMemberProcess is not a test of its own: it is the body of a member process (see
// above) and does nothing when run normally.
func TestGroupMemberProcess(t *testing.T) {
	kind := os.Getenv(memberKindEnv)
	if kind == "" {
		t.Skip("helper process for the consumer-group tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	out := &memberOut{w: bufio.NewWriter(os.Stdout)}
	session := 3 * time.Second
	if v := os.Getenv(memberSessionEnv); v != "" {
		var ms int
		fmt.Sscan(v, &ms)
		session = time.Duration(ms) * time.Millisecond
	}
	cfg := memberConfig{bootstrap: os.Getenv(memberBootstrapEnv), group: os.Getenv(memberGroupEnv),
		topic: os.Getenv(memberTopicEnv), name: os.Getenv(memberNameEnv), instance: os.Getenv(memberInstanceEnv),
		session: session}
	var err error
	switch kind {
	case "kafka-go":
		err = runKafkaGoMember(ctx, cfg, out)
	case "franz-range":
		err = runFranzMember(ctx, cfg, out, kgo.RangeBalancer())
	case "franz-coop":
		err = runFranzMember(ctx, cfg, out, kgo.CooperativeStickyBalancer())
	default:
		err = fmt.Errorf("unknown member kind %q", kind)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "member %s: %v\n", cfg.name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

type memberConfig struct {
	bootstrap, group, topic, name, instance string
	session                                 time.Duration
}

// memberOut writes event lines, flushed one by one so the test sees them as they happen.
type memberOut struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *memberOut) line(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, format+"\n", args...)
	o.w.Flush()
}

// runKafkaGoMember is kafka-go's Reader{GroupID}: FetchMessage, then CommitMessages.
func runKafkaGoMember(ctx context.Context, cfg memberConfig, out *memberOut) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: strings.Split(cfg.bootstrap, ","), GroupID: cfg.group, Topic: cfg.topic,
		SessionTimeout: cfg.session, HeartbeatInterval: 300 * time.Millisecond, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: 200 * time.Millisecond, StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
		GroupBalancers: []kafka.GroupBalancer{kafka.RangeGroupBalancer{}},
		Dialer:         &kafka.Dialer{ClientID: cfg.name, Timeout: 10 * time.Second},
		Logger:         kafka.LoggerFunc(func(format string, args ...any) { kafkaGoLog(out, format, args...) }),
		ErrorLogger:    kafka.LoggerFunc(func(format string, args ...any) { kafkaGoLog(out, "error: "+format, args...) }),
	})
	for ctx.Err() == nil {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			continue
		}
		out.line("read %d %d %s", m.Partition, m.Offset, m.Value)
		if err := r.CommitMessages(ctx, m); err == nil {
			out.line("commit %d %d", m.Partition, m.Offset+1)
		} else {
			// Its outcome is unknown: the broker may have stored it (a lost answer), and
			// kafka-go may send it again in the next generation.
			out.line("commitfail %d %d", m.Partition, m.Offset+1)
		}
	}
	return r.Close()
}

// kafkaGoLog writes kafka-go's log lines to stderr (the test shows them when it fails) and turns
// the one that starts a generation's partition readers into a "subscribed" event: it carries the
// offsets the coordinator's OffsetFetch returned, which kafka-go offers no other way to observe.
func kafkaGoLog(out *memberOut, format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	if !strings.HasPrefix(format, "subscribed to topics and partitions") || len(args) != 1 {
		return
	}
	// The argument is a map[topicPartition]int64 of kafka-go's unexported key type.
	v := reflect.ValueOf(args[0])
	if v.Kind() != reflect.Map {
		return
	}
	var parts []string
	for _, k := range v.MapKeys() {
		if k.Kind() != reflect.Struct || !k.FieldByName("partition").IsValid() {
			return
		}
		parts = append(parts, fmt.Sprintf("%d:%d", k.FieldByName("partition").Int(), v.MapIndex(k).Int()))
	}
	sort.Strings(parts)
	out.line("subscribed %s", strings.Join(parts, " "))
}

// runFranzMember is a franz-go ConsumerGroup with the given balancer. Rebalances wait until a
// polled batch is committed (BlockRebalanceOnPoll), so a commit never covers a revoked partition.
func runFranzMember(ctx context.Context, cfg memberConfig, out *memberOut, balancer kgo.GroupBalancer) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(cfg.bootstrap, ",")...), kgo.ClientID(cfg.name),
		kgo.ConsumerGroup(cfg.group), kgo.ConsumeTopics(cfg.topic), kgo.Balancers(balancer),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(cfg.session), kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.RebalanceTimeout(10 * time.Second), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			_, gen := cl.GroupMetadata()
			out.line("assigned %d %v", gen, m[cfg.topic])
		}),
	}
	if cfg.instance != "" {
		opts = append(opts, kgo.InstanceID(cfg.instance))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			out.line("read %d %d %s", r.Partition, r.Offset, r.Value)
			recs = append(recs, r)
		})
		if len(recs) > 0 {
			if err := cl.CommitRecords(ctx, recs...); err == nil {
				next := map[int32]int64{}
				for _, r := range recs {
					next[r.Partition] = max(next[r.Partition], r.Offset+1)
				}
				for p, o := range next {
					out.line("commit %d %d", p, o)
				}
			}
		}
		cl.AllowRebalance()
	}
	cl.CloseAllowingRebalance()
	return nil
}
