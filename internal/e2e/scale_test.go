package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestManyPartitions: 10 000 partitions of replication factor 3 on 3 brokers, under the
// machine's default open-file limit. Every broker keeps accepting clients, and after a SIGKILL
// of the controller every surviving broker's Metadata answers the new leaders — none names the
// dead broker. GREGOR_SCALE_PARTITIONS changes the count (scripts/bench-failover.sh times it).
func TestManyPartitions(t *testing.T) {
	total := 10_000
	if v := os.Getenv("GREGOR_SCALE_PARTITIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			t.Fatalf("GREGOR_SCALE_PARTITIONS=%q", v)
		}
		total = n
	}
	const topics = 10
	per := int32(total / topics)
	// Brokers without the race detector: this test is about scale; every other test hunts races.
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, NoRace: true, Config: map[string]string{
		"zookeeper.session.timeout.ms": "10000",
		"log.segment.bytes":            "1048576",
	}})
	adm := newAdmin(t, c.Bootstrap())
	adm.SetTimeoutMillis(int32((10 * time.Minute).Milliseconds())) // a broker creates a thousand logs per topic
	conn := c.ZKConn()
	start := time.Now()
	for i := 0; i < topics; i++ {
		createReplicated(t, adm, fmt.Sprintf("scale-%d", i), per, 3, nil)
	}
	for i := 0; i < topics; i++ {
		waitMetadataQuiet(t, c, []int32{1, 2, 3}, fmt.Sprintf("scale-%d", i), per, 3, 10*time.Minute)
	}
	t.Logf("%d partitions x 3 replicas created and led in %v", total, time.Since(start).Round(time.Millisecond))
	for id := int32(1); id <= 3; id++ {
		if ok, why := metadataReady(t, c.Addr(id), "scale-0", per, 3); !ok {
			t.Fatalf("broker %d stopped answering clients: %s", id, why)
		}
	}

	dead := controllerID(t, conn)
	killed := time.Now()
	c.Kill(dead)
	var live []int32
	for id := int32(1); id <= 3; id++ {
		if id != dead {
			live = append(live, id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, id := range live {
		for i := 0; i < topics; i++ {
			topic := fmt.Sprintf("scale-%d", i)
			for {
				led, why := ledWithout(t, c.Addr(id), topic, per, dead)
				if led {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("broker %d's metadata of %s still names dead broker %d as leader 5 min after the kill: %s", id, topic, dead, why)
				}
				time.Sleep(100 * time.Millisecond) // polling another process's metadata
			}
		}
	}
	t.Logf("controller %d killed; every live broker's metadata named new leaders for all %d partitions within %v",
		dead, total, time.Since(killed).Round(time.Millisecond))
}

// waitMetadataQuiet is waitMetadata with its own deadline.
func waitMetadataQuiet(t *testing.T, c *testcluster.Cluster, brokers []int32, topic string, parts int32, isr int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, id := range brokers {
		for {
			ok, why := metadataReady(t, c.Addr(id), topic, parts, isr)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d's metadata for %s not ready within %v: %s", id, topic, timeout, why)
			}
			time.Sleep(200 * time.Millisecond) // polling a condition another process makes true
		}
	}
}

// ledWithout reports whether every partition of topic has a leader other than dead in broker
// addr's Metadata.
func ledWithout(t *testing.T, addr, topic string, parts int32, dead int32) (bool, string) {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.conn.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	c.write(c.frame(req, 7))
	frame, err := c.readFrame(30 * time.Second)
	if err != nil {
		return false, err.Error()
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 7
	if err := resp.ReadFrom(frame[4:]); err != nil {
		return false, err.Error()
	}
	for _, mt := range resp.Topics {
		if int32(len(mt.Partitions)) != parts {
			return false, fmt.Sprintf("%d partitions", len(mt.Partitions))
		}
		for _, p := range mt.Partitions {
			if p.Leader < 0 || p.Leader == dead {
				return false, fmt.Sprintf("partition %d leader %d", p.Partition, p.Leader)
			}
		}
		return true, ""
	}
	return false, "topic missing"
}
