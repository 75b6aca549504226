package replica

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/interbroker"
	klog "github.com/gregor-broker/gregor/broker/log"
)

// alterISRVersion is the AlterIsr version Kafka 2.8 brokers send (key 56, v0).
const alterISRVersion = 0

// alterItem is one leader's ISR proposal.
type alterItem struct {
	p              *Partition
	tp             klog.TopicPartition
	leaderEpoch    int32
	isr            []int32
	partitionEpoch int32
}

// alterISRSender sends leaders' ISR proposals to the controller, Kafka 2.8's AlterIsrManager:
// proposals queue per partition (the newest wins), one AlterIsr request is in flight at a time
// carrying everything queued, and a request that fails as a whole (no controller known, a
// network error, NOT_CONTROLLER) is retried with backoff. Its goroutine is started by the
// Manager and stopped by Shutdown.
type alterISRSender struct {
	m *Manager

	mu     sync.Mutex // guards queue (a leaf lock: taken under Partition.mu by submit)
	queue  map[klog.TopicPartition]alterItem
	wake   chan struct{} // capacity 1: something was queued
	stop   chan struct{}
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

func newAlterISRSender(m *Manager) *alterISRSender {
	ctx, cancel := context.WithCancel(context.Background())
	return &alterISRSender{m: m, queue: map[klog.TopicPartition]alterItem{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

func (s *alterISRSender) submit(it alterItem) {
	s.mu.Lock()
	s.queue[it.tp] = it
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// requeue puts back items whose request failed, unless a newer proposal replaced them.
func (s *alterISRSender) requeue(items []alterItem) {
	s.mu.Lock()
	for _, it := range items {
		if _, newer := s.queue[it.tp]; !newer {
			s.queue[it.tp] = it
		}
	}
	s.mu.Unlock()
}

func (s *alterISRSender) take() []alterItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]alterItem, 0, len(s.queue))
	for _, it := range s.queue {
		out = append(out, it)
	}
	clear(s.queue)
	return out
}

func (s *alterISRSender) shutdown() {
	close(s.stop)
	s.cancel()
	<-s.done
}

func (s *alterISRSender) run() {
	defer close(s.done)
	var conn *interbroker.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := time.Duration(0)
	for {
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
				return
			}
		} else {
			select {
			case <-s.wake:
			case <-s.stop:
				return
			}
		}
		items := s.take()
		if len(items) == 0 {
			backoff = 0
			continue
		}
		id, addr, ok := s.m.o.Controller()
		if !ok {
			s.requeue(items)
			backoff = s.nextBackoff(backoff)
			continue
		}
		if conn == nil || conn.Dest() != id {
			if conn != nil {
				conn.Close()
			}
			o := s.m.o.InterBroker
			o.ClientID = "broker-" + strconv.Itoa(int(s.m.o.BrokerID)) + "-alter-isr"
			conn = interbroker.NewConn(id, addr, o)
		} else {
			conn.SetAddr(addr)
		}
		resp, err := conn.RoundTrip(s.ctx, s.request(items))
		if s.ctx.Err() != nil {
			return
		}
		if err == nil {
			r := resp.(*kmsg.AlterPartitionResponse)
			if r.ErrorCode != 0 {
				err = fmt.Errorf("AlterIsr to controller %d: %w", id, kerr.ErrorForCode(r.ErrorCode))
			} else {
				s.apply(items, r)
				backoff = 0
				continue
			}
		}
		s.m.o.Logger.WithError(err).Debug("AlterIsr failed; retrying")
		s.requeue(items)
		backoff = s.nextBackoff(backoff)
	}
}

func (s *alterISRSender) nextBackoff(cur time.Duration) time.Duration {
	if cur <= 0 {
		return 50 * time.Millisecond
	}
	return min(2*cur, time.Second)
}

func (s *alterISRSender) request(items []alterItem) *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = alterISRVersion
	req.BrokerID, req.BrokerEpoch = s.m.o.BrokerID, s.m.o.BrokerEpoch()
	byTopic := map[string]int{}
	for _, it := range items {
		i, ok := byTopic[it.tp.Topic]
		if !ok {
			t := kmsg.NewAlterPartitionRequestTopic()
			t.Topic = it.tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[it.tp.Topic] = i
		}
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		p.Partition, p.LeaderEpoch, p.PartitionEpoch = it.tp.Partition, it.leaderEpoch, it.partitionEpoch
		p.NewISR = append([]int32(nil), it.isr...)
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	return req
}

func (s *alterISRSender) apply(items []alterItem, r *kmsg.AlterPartitionResponse) {
	got := map[klog.TopicPartition]AlterISRResult{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			res := AlterISRResult{Leader: p.LeaderID, LeaderEpoch: p.LeaderEpoch, ISR: p.ISR, PartitionEpoch: p.PartitionEpoch}
			if p.ErrorCode != 0 {
				res.Err = kerr.ErrorForCode(p.ErrorCode)
			}
			got[klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = res
		}
	}
	for _, it := range items {
		res, ok := got[it.tp]
		if !ok {
			res.Err = fmt.Errorf("controller's AlterIsr response omitted %s", it.tp)
		}
		s.m.applyAlterISR(it, res)
	}
}

// joinHostPort formats an endpoint.
func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
