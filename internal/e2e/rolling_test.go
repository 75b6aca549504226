package e2e

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestRollingRestart: each of 3 brokers in turn gets SIGTERM and is restarted while an
// idempotent acks=all producer and a consumer run. Each broker's controlled shutdown moves every
// leadership it holds before it exits (its log says so, from the controller's answer), the
// producer sees no error at all (only retriable ones, which franz-go retries), and the shared
// checker finds every acknowledged record once, in order, with replicas identical.
func TestRollingRestart(t *testing.T) {
	const topic, parts = "rolling", 6
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"controlled.shutdown.retry.backoff.ms": "500",
		"replica.lag.time.max.ms":              "5000",
	}})
	adm := newAdmin(t, c.Bootstrap())
	createReplicated(t, adm, topic, parts, 3, map[string]string{"min.insync.replicas": "2"})
	conn := c.ZKConn()
	waitConverged(t, conn, topic, parts, 3, 60*time.Second)
	waitMetadata(t, c, []int32{1, 2, 3}, topic, parts, 3)
	h := checker.New(checker.Options{Idempotent: true})
	p := startChaosProducer(t, c.Bootstrap(), topic, h)
	cons := startChaosConsumer(t, c.Bootstrap(), topic)

	for round := 0; round < 2; round++ { // the whole cluster, twice
		for id := int32(1); id <= 3; id++ {
			before := countInLog(t, c.Broker(id).LogFile, "controlled shutdown succeeded")
			c.Stop(id)
			if after := countInLog(t, c.Broker(id).LogFile, "controlled shutdown succeeded"); after != before+1 {
				t.Fatalf("broker %d exited without a completed controlled shutdown", id)
			}
			c.StartBroker(id)
			c.WaitRegistered(id, 60*time.Second)
			waitConverged(t, conn, topic, parts, 3, 120*time.Second)
			t.Logf("broker %d restarted; ISR back to 3 everywhere", id)
		}
	}
	p.pause(t)
	if n, err := p.errors(); n > 0 {
		t.Fatalf("the producer saw %d failed records during the rolling restart; first: %v", n, err)
	}
	acked := checkTopic(t, c, adm, topic, parts, h)
	read := cons.stop(t)
	t.Logf("rolling restart of 3 brokers, twice: %d records acknowledged, all read back once; %d read live", acked, len(read))
}

func countInLog(t *testing.T, file, what string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte(what))
}
