package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestDiskFailures injects, through the broker's file-system seam (gregor.test.fault.injection
// and its /faults endpoint), each of Kafka's disk failures into the leader of a replicated
// partition while it takes writes, in a 3-broker cluster with RF 3 — brokers 1 and 2 with two
// log dirs, broker 3 with one:
//
//   - a write error, a short write, an fsync error (flush.messages=1) and ENOSPC on broker 1 or
//     2: the produce that meets it answers KAFKA_STORAGE_ERROR; the log dir is offline in the
//     broker's metrics and log; the broker reports it in /log_dir_event_notification, and the
//     controller moves the leadership to another in-sync replica, drops the broker from the ISR
//     and deletes the notification; the broker keeps serving its other dir;
//   - the same on broker 3, whose only log dir fails: it shuts down cleanly (exit 0) and the
//     controller moves the leadership.
//
// A franz-go producer then writes on through the failover. After each round the broker
// restarts on a healthy disk, catches up, and leads again (preferred election), and the shared
// checker reads the topic back from it: every acknowledged record is there once, in order, and
// the batch that met the fault — never acknowledged, recorded as neither acked nor attempted —
// is nowhere.
func TestDiskFailures(t *testing.T) {
	root := t.TempDir()
	dirs := map[int32][]string{}
	per := map[int32]map[string]string{}
	for _, id := range []int32{1, 2} {
		dirs[id] = []string{filepath.Join(root, fmt.Sprintf("b%d-a", id)), filepath.Join(root, fmt.Sprintf("b%d-b", id))}
		per[id] = map[string]string{"log.dirs": strings.Join(dirs[id], ",")}
	}
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, PerBroker: per,
		Config: map[string]string{"gregor.test.fault.injection": "true"}})
	dirs[3] = []string{c.Broker(3).DataDir}
	conn := c.ZKConn()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	adm := kadm.NewClient(kcl)

	for _, round := range []struct {
		fault  string
		leader int32
	}{
		{"write-error", 1},
		{"short-write", 2},
		{"fsync-error", 1},
		{"enospc", 2},
		{"write-error", 3}, // its only log dir
	} {
		name := fmt.Sprintf("%s-on-broker-%d", round.fault, round.leader)
		t.Run(name, func(t *testing.T) {
			diskFailureRound(t, c, conn, kcl, adm, "df-"+name, round.fault, round.leader, dirs[round.leader])
		})
		if t.Failed() {
			return
		}
	}
}

func diskFailureRound(t *testing.T, c *testcluster.Cluster, conn *zk.Conn, kcl *kgo.Client, adm *kadm.Client,
	topic, fault string, leader int32, dirs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	replicas := []int32{leader}
	for id := int32(1); id <= 3; id++ {
		if id != leader {
			replicas = append(replicas, id)
		}
	}
	createAssigned(t, kcl, topic, replicas, map[string]string{"flush.messages": "1", "min.insync.replicas": "2"})
	waitState(t, conn, topic, 0, "topic online", func(s stateZnode) bool { return s.Leader == leader && len(s.ISR) == 3 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	h := checker.New(checker.Options{Idempotent: true})
	var mu sync.Mutex
	seq := 0
	produce := func() error { // one record, acked or of unknown outcome in the history
		mu.Lock()
		seq++
		v := fmt.Sprintf("%s-%06d", topic, seq)
		mu.Unlock()
		rec := &kgo.Record{Value: []byte(v)}
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		defer pcancel()
		if err := cl.ProduceSync(pctx, rec).FirstErr(); err != nil {
			h.Attempted(checker.FromKgo(rec))
			return err
		}
		h.Acked(checker.FromKgo(rec))
		return nil
	}
	for i := 0; i < 50; i++ {
		if err := produce(); err != nil {
			t.Fatalf("produce before the fault: %v", err)
		}
	}
	pdir := ""
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, topic+"-0")); err == nil {
			pdir = filepath.Join(d, topic+"-0")
		}
	}
	if pdir == "" {
		t.Fatalf("no log dir of broker %d (%v) holds %s-0", leader, dirs, topic)
	}
	logDir := filepath.Dir(pdir)
	if len(dirs) == 1 {
		c.ExpectExit(leader)
	}
	faults(t, c, leader, http.MethodPost, url.Values{"fault": {fault}, "path": {pdir}})

	// The produce that meets the failing disk answers KAFKA_STORAGE_ERROR; its record is
	// neither acked nor attempted in the history, so finding it later fails the check.
	if code := produceRaw(t, ctx, cl, leader, topic, topic+"-doomed"); code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce on the failing disk answered %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(code))
	}
	logs := c.Broker(leader).LogFile
	// The broker logs the I/O error that took the dir offline: the injected one.
	waitLog(t, logs, "I/O error in a log directory", logDir, map[string]string{"write-error": "input/output error",
		"short-write": "short write", "fsync-error": "input/output error", "enospc": "no space left on device"}[fault])
	if len(dirs) > 1 { // a broker with one dir is shutting down: its /faults may be gone already
		if st := faults(t, c, leader, http.MethodGet, nil); st.Fired[fault] == 0 {
			t.Fatalf("the %s fault never fired: %+v", fault, st)
		}
	}
	// A producer that writes on through the failover, started only now so that the produce
	// above is the one that met the fault.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopProducer := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer stopProducer()
	wg.Add(1)
	acked := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if produce() == nil {
				mu.Lock()
				acked++
				mu.Unlock()
			}
		}
	}()

	waitLog(t, logs, "log directory offline", logDir)
	if len(dirs) > 1 {
		waitFor(t, "the offline dir in the metrics", func() bool {
			return scrape(t, c, leader, "gregor_log_dir_offline", `log_dir="`+logDir+`"`) == 1 &&
				scrape(t, c, leader, "gregor_log_offline_dirs") == 1 && scrape(t, c, leader, "gregor_replica_offline_partitions") >= 1
		})
		waitLog(t, logs, "log dir failure reported to the controller", "log_dir_event_")
	} else {
		waitLog(t, logs, "every log directory is offline")
		c.WaitExit(leader, 60*time.Second)
	}
	moved := waitState(t, conn, topic, 0, "leadership moved off the failed disk", func(s stateZnode) bool {
		return s.Leader >= 0 && s.Leader != leader && !containsID(s.ISR, leader)
	})
	t.Logf("%s: leader %d -> %d, ISR %v", fault, leader, moved.Leader, moved.ISR)
	waitNoLogDirEvents(t, conn)

	// Writes go on at the new leader.
	mu.Lock()
	base := acked
	mu.Unlock()
	waitFor(t, "writes acknowledged by the new leader", func() bool { mu.Lock(); defer mu.Unlock(); return acked >= base+20 })

	// Restart on a healthy disk: recovery, catch-up, back in the ISR, leader again.
	if len(dirs) > 1 {
		c.Stop(leader) // a clean shutdown even with a dir offline
	}
	// The failed append left nothing on the disk: not even a batch the next start's recovery
	// would find whole (an fsync that failed after the bytes were written).
	if data, err := segmentBytes(pdir); err != nil {
		t.Fatal(err)
	} else if bytes.Contains(data, []byte(topic+"-doomed")) {
		t.Fatalf("the batch answered KAFKA_STORAGE_ERROR is in %s", pdir)
	}
	c.StartBroker(leader)
	c.WaitRegistered(leader, 60*time.Second)
	waitState(t, conn, topic, 0, "restarted broker back in the ISR", func(s stateZnode) bool { return containsID(s.ISR, leader) })
	stopProducer()
	set := kadm.TopicsSet{}
	set.Add(topic, 0)
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatalf("preferred election: %v", err)
	}
	if r, ok := res[topic][0]; !ok || (r.Err != nil && !errors.Is(r.Err, kerr.ElectionNotNeeded)) {
		t.Fatalf("preferred election of %s-0: %+v", topic, r)
	}
	waitState(t, conn, topic, 0, "restarted broker leads again", func(s stateZnode) bool { return s.Leader == leader })
	if err := produce(); err != nil {
		t.Fatalf("produce to the restarted leader: %v", err)
	}

	read, err := checker.ReadBack(ctx, c.Bootstrap(), h, topic)
	if err != nil {
		t.Fatal(err)
	}
	rep := h.Check(read)
	if rep.Err() != nil {
		t.Fatal(rep.Err())
	}
	for _, r := range read {
		if string(r.Value) == topic+"-doomed" {
			t.Fatalf("the batch answered KAFKA_STORAGE_ERROR was read back at offset %d", r.Offset)
		}
	}
	t.Logf("%s: %d acknowledged, %d read back", fault, rep.Acked, rep.Read)
}

// createAssigned creates a one-partition topic with an explicit replica list (the first leads).
func createAssigned(t *testing.T, cl *kgo.Client, topic string, replicas []int32, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// faultState is the /faults endpoint's answer.
type faultState struct {
	Armed []struct{ Fault, Path string } `json:"armed"`
	Fired map[string]int                 `json:"fired"`
}

// faults calls broker id's /faults test seam.
func faults(t *testing.T, c *testcluster.Cluster, id int32, method string, q url.Values) faultState {
	t.Helper()
	u := strings.TrimSuffix(c.MetricsURL(id), "/metrics") + "/faults"
	if q != nil {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var st faultState
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return st
}

// waitLog waits until the broker's log has a line holding every one of the strings.
func waitLog(t *testing.T, file string, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("a log line with %q", want), func() bool {
		data, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(data), "\n") {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return true
			}
		}
		return false
	})
}

// waitFor polls cond (state owned by another process or goroutine) until it holds, for at most
// a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60s", what)
		}
	}
}

// waitNoLogDirEvents watches /log_dir_event_notification until the controller has deleted
// every notification.
func waitNoLogDirEvents(t *testing.T, conn *zk.Conn) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		names, _, ev, err := conn.ChildrenW("/kafka/log_dir_event_notification")
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			return
		}
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("log dir event notifications %v not deleted within 60s", names)
		}
	}
}
