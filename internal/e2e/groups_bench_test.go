package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// BenchmarkOffsetCommitOverTheWire: OffsetCommit requests from a franz-go client to a broker
// process, each acknowledged once written to __consumer_offsets (acks=-1). Sequential: one
// request at a time; parallel: 16 groups committing at once over the client's connection. The
// floor beside it is an ApiVersions round trip, which the broker answers without any work.
func BenchmarkOffsetCommitOverTheWire(b *testing.B) {
	c := testcluster.Start(b, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "bench-commits", 1, 1
	req.Topics = append(req.Topics, rt)
	if _, err := req.RequestWith(ctx, cl); err != nil {
		b.Fatal(err)
	}
	commit := func(group string, off int64) error {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group = group
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic = "bench-commits"
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Offset = off
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		resp, err := r.RequestWith(ctx, cl)
		if err == nil && len(resp.Topics) == 1 && resp.Topics[0].Partitions[0].ErrorCode != 0 {
			err = fmt.Errorf("error code %d", resp.Topics[0].Partitions[0].ErrorCode)
		}
		return err
	}
	// The first commits create __consumer_offsets and wait for the coordinator to load.
	deadline := time.Now().Add(60 * time.Second)
	for commit("warm-up", 0) != nil {
		if time.Now().After(deadline) {
			b.Fatal("no coordinator")
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Run("floor-apiversions", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	})
	for _, groups := range []int{1, 16} {
		b.Run(fmt.Sprintf("groups-%d", groups), func(b *testing.B) {
			var wg sync.WaitGroup
			per := b.N/groups + 1
			b.ResetTimer()
			for g := 0; g < groups; g++ {
				wg.Add(1)
				go func(group string) {
					defer wg.Done()
					for i := 0; i < per; i++ {
						if err := commit(group, int64(i)); err != nil {
							b.Error(err)
							return
						}
					}
				}(fmt.Sprintf("bench-%d", g))
			}
			wg.Wait()
			b.ReportMetric(float64(per*groups)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
