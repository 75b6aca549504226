package api

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/topicstats"
	"github.com/gregor-broker/gregor/config"
)

// benchHandler is a Handler over a real log manager in a temp dir, leading topic "t"
// (partitions partitions), with the topic-traffic counters on as in the broker.
func benchHandler(b testing.TB, partitions int32) *Handler {
	b.Helper()
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{b.TempDir()}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	rm := replica.NewManager(replica.Options{BrokerID: 1, Logs: logs, Logger: quiet,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
	b.Cleanup(func() { rm.Shutdown(); logs.Close() })
	cfg := config.Default()
	cfg.BrokerID = 1
	h := New(Options{BrokerID: 1, ClusterID: "c", Config: cfg, Cache: metadata.New(), Replicas: rm,
		Controller: fakeController(true), BrokerEpoch: func() int64 { return -1 }, Logger: quiet,
		Traffic: topicstats.New()})
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 1, 1, -1
	lb := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb.ID = 1
	lb.Endpoints = []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "127.0.0.1", Port: 9092, ListenerName: "PLAINTEXT"}}
	um.LiveBrokers = append(um.LiveBrokers, lb)
	lr := kmsg.NewPtrLeaderAndISRRequest()
	lr.ControllerID, lr.ControllerEpoch, lr.BrokerEpoch = 1, 1, -1
	ut := kmsg.NewUpdateMetadataRequestTopicState()
	lt := kmsg.NewLeaderAndISRRequestTopicState()
	ut.Topic, lt.Topic = "t", "t"
	for p := int32(0); p < partitions; p++ {
		up := kmsg.NewUpdateMetadataRequestTopicPartition()
		up.Partition, up.Leader, up.ISR, up.Replicas = p, 1, []int32{1}, []int32{1}
		ut.PartitionStates = append(ut.PartitionStates, up)
		lp := kmsg.NewLeaderAndISRRequestTopicPartition()
		lp.Partition, lp.Leader, lp.LeaderEpoch, lp.ISR, lp.Replicas, lp.ControllerEpoch = p, 1, 0, []int32{1}, []int32{1}, 1
		lt.PartitionStates = append(lt.PartitionStates, lp)
	}
	um.TopicStates = append(um.TopicStates, ut)
	lr.TopicStates = append(lr.TopicStates, lt)
	ctx := context.Background()
	if _, err := h.Handle(ctx, request(um, 7)); err != nil {
		b.Fatal(err)
	}
	resp, err := h.Handle(ctx, request(lr, 5))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range resp.(*kmsg.LeaderAndISRResponse).Topics[0].Partitions {
		if p.ErrorCode != 0 {
			b.Fatalf("LeaderAndIsr partition %d: code %d", p.Partition, p.ErrorCode)
		}
	}
	return h
}

// produceFrame is a Produce v9 request body (acks=1) with one batch of n records of 100 bytes
// for each of partitions partitions, encoded as a client sends it.
func produceFrame(partitions int32, n int) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = 1, 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "t"
	for p := int32(0); p < partitions; p++ {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition, pp.Records = p, validBatch(n, 100)
		t.Partitions = append(t.Partitions, pp)
	}
	req.Topics = append(req.Topics, t)
	return req.AppendTo(nil)
}

// BenchmarkProduceHandler: one Produce request as the network hands it over — body decoded
// with kmsg (records stay sub-slices of the frame), the handler (checks, the append to a real
// log, traffic counters), the response encoded into a reused buffer. allocs/op is per request:
// the same at 10 and 1000 records a batch means no allocation per record.
func BenchmarkProduceHandler(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			h := benchHandler(b, 3)
			body := produceFrame(3, n)
			frame := make([]byte, len(body))
			out := make([]byte, 0, 4096)
			ctx := context.Background()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(frame, body) // a fresh frame, as read from the socket
				req := kmsg.NewPtrProduceRequest()
				req.SetVersion(9)
				if err := req.ReadFrom(frame); err != nil {
					b.Fatal(err)
				}
				r := network.Request{Key: 0, Version: 9, Body: req, ClientID: "bench"}
				resp, err := h.Handle(ctx, &r)
				if err != nil {
					b.Fatal(err)
				}
				if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
					b.Fatalf("produce error %d", code)
				}
				out = resp.AppendTo(out[:0])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(3*n), "ns/record")
		})
	}
}

// BenchmarkFetchHandler: one Fetch v12 request for 1 MiB of one partition of a real log — the
// handler (replica read: index lookup, batch boundaries, file references) and the response's
// zero-copy encoding into a reused buffer, the files released as the network does once the
// bytes are sent (the sendfile itself is the kernel's, not measured here). allocs/op is per
// request: the same at 10 and 1000 records a batch means no allocation per record.
func BenchmarkFetchHandler(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			h := benchHandler(b, 1)
			ctx := context.Background()
			batch := produceFrame(1, n)
			var total int64
			for total < 64<<20 { // 64 MiB of batches
				frame := append([]byte(nil), batch...)
				req := kmsg.NewPtrProduceRequest()
				req.SetVersion(9)
				if err := req.ReadFrom(frame); err != nil {
					b.Fatal(err)
				}
				if _, err := h.Handle(ctx, &network.Request{Key: 0, Version: 9, Body: req}); err != nil {
					b.Fatal(err)
				}
				total += int64(len(req.Topics[0].Partitions[0].Records))
			}
			out := make([]byte, 0, 4096)
			var secs []network.Section
			offset := int64(0)
			var sent, records int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := kmsg.NewPtrFetchRequest()
				req.SetVersion(12)
				req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<20, -1
				tp := kmsg.NewFetchRequestTopic()
				tp.Topic = "t"
				pp := kmsg.NewFetchRequestTopicPartition()
				pp.FetchOffset, pp.PartitionMaxBytes, pp.CurrentLeaderEpoch = offset, 1<<20, -1
				tp.Partitions = append(tp.Partitions, pp)
				req.Topics = append(req.Topics, tp)
				resp, err := h.Handle(ctx, &network.Request{Key: 1, Version: 12, Body: req})
				if err != nil {
					b.Fatal(err)
				}
				fr, ok := resp.(*fetchResponse)
				if !ok {
					b.Fatalf("no records at offset %d: %+v", offset, resp)
				}
				out, secs = fr.AppendZeroCopy(out[:0], secs[:0])
				f := fr.files[0]
				sent += f.Len()
				records += f.NextOffset - f.FirstOffset
				offset = f.NextOffset
				if p := &fr.Topics[0].Partitions[0]; offset >= p.HighWatermark {
					offset = 0
				}
				fr.Release()
			}
			b.ReportMetric(float64(sent)/float64(b.N), "bytes/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
		})
	}
}
