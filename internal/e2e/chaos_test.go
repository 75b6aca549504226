package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// faultKinds are the fault rounds of the replication issue, in the order the test cycles
// through them.
var faultKinds = []string{"kill-leader", "kill-controller", "pause-past-session", "restart", "isolate"}

// TestFaultRounds: while an idempotent acks=all producer writes continuously and a consumer
// reads, each round SIGKILLs a partition leader, SIGKILLs the controller, SIGSTOPs a broker past
// its ZooKeeper session timeout then SIGCONTs it, restarts a broker with SIGTERM, or cuts one
// off the network (its own network namespace) and heals it. After each round the cluster
// converges (every partition led, ISR back to 3) and the shared checker confirms that every
// acknowledged record is present exactly once, in order, at its offset, and that the replicas
// are identical below the high watermark. The number of rounds is GREGOR_CHAOS_ROUNDS (default
// one of each kind); scripts/chaos.sh runs many.
func TestFaultRounds(t *testing.T) {
	rounds := len(faultKinds)
	if v := os.Getenv("GREGOR_CHAOS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("GREGOR_CHAOS_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	const topic, parts = "chaos", 6
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Netns: true, Config: map[string]string{
		"replica.lag.time.max.ms":      "3000",
		"zookeeper.session.timeout.ms": "6000",
		"replica.fetch.backoff.ms":     "200",
	}})
	adm := newAdmin(t, c.Bootstrap())
	createReplicated(t, adm, topic, parts, 3, map[string]string{"min.insync.replicas": "2"})
	conn := c.ZKConn()
	waitConverged(t, conn, topic, parts, 3, 60*time.Second)
	waitMetadata(t, c, []int32{1, 2, 3}, topic, parts, 3)

	h := checker.New(checker.Options{Idempotent: true})
	p := startChaosProducer(t, c.Bootstrap(), topic, h)
	cons := startChaosConsumer(t, c.Bootstrap(), topic)

	for round := 0; round < rounds; round++ {
		kind := faultKinds[round%len(faultKinds)]
		victim := chaosVictim(t, conn, kind, topic, round%parts)
		t.Logf("round %d: %s broker %d", round+1, kind, victim)
		switch kind {
		case "kill-leader", "kill-controller":
			c.Kill(victim)
			c.StartBroker(victim)
			c.WaitRegistered(victim, 60*time.Second)
		case "pause-past-session":
			c.Pause(victim)
			c.WaitDeregistered(victim, 60*time.Second)
			c.Resume(victim)
			c.WaitRegistered(victim, 60*time.Second)
		case "restart":
			c.Stop(victim)
			c.StartBroker(victim)
			c.WaitRegistered(victim, 60*time.Second)
		case "isolate":
			c.Isolate(victim)
			c.WaitDeregistered(victim, 60*time.Second)
			c.Heal(victim)
			c.WaitRegistered(victim, 60*time.Second)
		}
		waitConverged(t, conn, topic, parts, 3, 120*time.Second)

		// Quiesce the producer so that everything it sent has an outcome, then check.
		p.pause(t)
		acked := checkTopic(t, c, adm, topic, parts, h)
		p.resume()
		t.Logf("round %d (%s) survived: %d records acknowledged so far, all present once, replicas identical",
			round+1, kind, acked)
	}
	p.pause(t)
	acked := checkTopic(t, c, adm, topic, parts, h)
	read := cons.stop(t)
	// What the live consumer saw during the faults was committed data: the log must still hold
	// exactly it at those offsets.
	back, err := checker.ReadBack(context.Background(), c.Bootstrap(), h, topic)
	if err != nil {
		t.Fatal(err)
	}
	final := map[[2]int64]string{}
	for _, r := range back {
		final[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
	}
	for k, v := range read {
		if final[k] != v {
			t.Fatalf("partition %d offset %d: the live consumer read %q, the log now holds %q", k[0], k[1], v, final[k])
		}
	}
	t.Logf("rounds survived: %d; records checked: %d acknowledged, %d read live by the consumer", rounds, acked, len(read))
}

// chaosVictim picks the broker a round hits.
func chaosVictim(t *testing.T, conn *zk.Conn, kind, topic string, partition int) int32 {
	t.Helper()
	switch kind {
	case "kill-leader":
		s, _, _, err := getState(conn, topic, int32(partition))
		if err != nil {
			t.Fatal(err)
		}
		return s.Leader
	case "kill-controller":
		return controllerID(t, conn)
	}
	return int32(partition%3) + 1
}

// checkTopic compares replicas and reads the topic back through the checker; it returns the
// number of acknowledged records.
func checkTopic(t *testing.T, c *testcluster.Cluster, adm *kadm.Client, topic string, parts int32, h *checker.History) int {
	t.Helper()
	return checkTopicOn(t, c, adm, topic, parts, h, []int32{1, 2, 3})
}

// checkTopicOn is checkTopic with the replicas compared on the given brokers.
func checkTopicOn(t *testing.T, c *testcluster.Cluster, adm *kadm.Client, topic string, parts int32, h *checker.History, brokers []int32) int {
	t.Helper()
	compareReplicas(t, c, adm, topic, parts, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	back, err := checker.ReadBack(ctx, c.Bootstrap(), h, topic)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	rep := h.Check(back)
	if err := rep.Err(); err != nil {
		t.Fatalf("%v\n%s", err, rep)
	}
	return rep.Acked
}

// chaosProducer writes "chaos-<seq>" records with an idempotent acks=all franz-go producer,
// as fast as its window allows, until paused or the test ends.
type chaosProducer struct {
	cl     *kgo.Client
	mu     sync.Mutex // guards paused; cond wakes the writer
	cond   *sync.Cond
	paused bool
	stop   chan struct{}
	done   chan struct{}
	seq    atomic.Int64
	failed atomic.Int64 // records whose produce failed (their outcome is unknown)
	mu2    sync.Mutex   // guards firstErr
	first  error
}

func startChaosProducer(t *testing.T, bootstrap, topic string, h *checker.History) *chaosProducer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(2*time.Millisecond),
		kgo.ProduceRequestTimeout(5*time.Second), kgo.RequestTimeoutOverhead(5*time.Second),
		kgo.MaxBufferedRecords(2000),
		// The client's own account of a duplicate's cause: a broker refused a retried batch with
		// OUT_OF_ORDER_SEQUENCE_NUMBER (or UNKNOWN_PRODUCER_ID), and franz-go re-sequenced what it
		// had buffered. CI's rolling restart once read 101 duplicates after such refusals.
		kgo.ProducerOnDataLossDetected(func(topic string, partition int32) {
			t.Logf("franz-go detected data loss on %s-%d (a refused retry) and re-sequenced its buffered records", topic, partition)
		}))
	if err != nil {
		t.Fatal(err)
	}
	// The producer has its id before the test's faults begin: they are about writes under way,
	// and a rolling restart that starts at once can close every broker's connection to the
	// first InitProducerId in turn until franz-go gives up on it (a local run did).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		t.Fatalf("producer id: %v", err)
	}
	p := &chaosProducer{cl: cl, stop: make(chan struct{}), done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go func() { // owned by the test: stopped in Cleanup
		defer close(p.done)
		for {
			p.mu.Lock()
			for p.paused {
				p.cond.Wait()
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			default:
			}
			n := p.seq.Add(1)
			r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", n%97)), Value: []byte(fmt.Sprintf("chaos-%09d", n))}
			// Produce blocks while MaxBufferedRecords are in flight: the producer's own pace.
			cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				if err != nil {
					h.Attempted(checker.FromKgo(r))
					if p.failed.Add(1) == 1 {
						p.mu2.Lock()
						p.first = err
						p.mu2.Unlock()
					}
					return
				}
				h.Acked(checker.FromKgo(r))
			})
		}
	}()
	t.Cleanup(func() {
		close(p.stop)
		p.resume()
		<-p.done
		cl.Close()
	})
	return p
}

// pause stops new writes and waits until every record sent has its outcome.
func (p *chaosProducer) pause(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		t.Fatalf("producer flush: %v", err)
	}
}

func (p *chaosProducer) resume() {
	p.mu.Lock()
	p.paused = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// chaosConsumer reads the topic from the start for the whole test and remembers what it read.
type chaosConsumer struct {
	cl     *kgo.Client
	mu     sync.Mutex // guards read
	read   map[[2]int64]string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startChaosConsumer(t *testing.T, bootstrap, topic string) *chaosConsumer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequestTimeoutOverhead(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &chaosConsumer{cl: cl, read: map[[2]int64]string{}, cancel: cancel, done: make(chan struct{})}
	go func() { // owned by the test: stop ends it
		defer close(c.done)
		next := map[int32]int64{}
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				defer c.mu.Unlock()
				if want, ok := next[r.Partition]; ok && r.Offset < want && c.err == nil {
					c.err = fmt.Errorf("partition %d: read offset %d after %d", r.Partition, r.Offset, want-1)
				}
				next[r.Partition] = r.Offset + 1
				k := [2]int64{int64(r.Partition), r.Offset}
				if old, seen := c.read[k]; seen && old != string(r.Value) && c.err == nil {
					c.err = fmt.Errorf("partition %d offset %d read as %q and later %q", r.Partition, r.Offset, old, r.Value)
				}
				c.read[k] = string(r.Value)
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-c.done; cl.Close() })
	return c
}

func (c *chaosConsumer) stop(t *testing.T) map[[2]int64]string {
	t.Helper()
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		t.Fatalf("live consumer: %v", c.err)
	}
	return c.read
}

// errors is how many produces failed, and the first failure.
func (p *chaosProducer) errors() (int64, error) {
	p.mu2.Lock()
	defer p.mu2.Unlock()
	return p.failed.Load(), p.first
}
